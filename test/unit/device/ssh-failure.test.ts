// describeSshFailure names what the refused login offered (review #14 R8: a switch verified with
// a fleet certificate reported "operator key not accepted").
import { describe, expect, it } from 'vitest';
import { describeSshFailure } from '../../../src/device/remote-config.js';

const denied = { code: 255, stdout: Buffer.alloc(0), stderr: 'root@10.0.0.1: Permission denied (publickey).\n' };

describe('describeSshFailure access denied', () => {
  it('defaults to the operator key', () => {
    expect(describeSshFailure(denied)).toBe('access denied (operator key not accepted)');
  });
  it('names the certificate when the login used one', () => {
    expect(describeSshFailure(denied, { credential: 'fleet acme/a certificate' })).toBe('access denied (fleet acme/a certificate not accepted)');
  });
});
