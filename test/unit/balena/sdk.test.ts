import { describe, expect, test } from 'vitest';
import { findDevice, registerDevice } from '../../../src/balena/sdk.js';
import { UsageError } from '../../../src/errors.js';

describe('balena wrapper input checks (before any request)', () => {
  test('findDevice wants a full or ≥7-character hex uuid', async () => {
    for (const bad of ['abc', 'not-a-uuid!', '', 'g'.repeat(32)]) {
      await expect(findDevice({ apiUrl: 'http://127.0.0.1:9', token: 't', uuidOrShort: bad })).rejects.toBeInstanceOf(UsageError);
    }
  });
  test('an API URL that is not http(s) is a usage error', async () => {
    await expect(registerDevice({ apiUrl: 'ftp://x', token: 't', fleet: 'a/b', deviceType: 'x', osVersion: '6.0.13' })).rejects.toThrow(/invalid balena URL/);
  });
});
