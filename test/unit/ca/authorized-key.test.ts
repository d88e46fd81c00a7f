import { describe, expect, it } from 'vitest';
import { authorizedKeyLine, validateExpiry } from '../../../src/ca/authorized-key.js';
import { UsageError } from '../../../src/errors.js';

const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlnh1J+tFqIkbe1XxDzLzmwQhtcLxTqvFl6erCFB13k';

describe('authorizedKeyLine', () => {
  it('always carries principals= and fleetvault\'s marker', () => {
    const line = authorizedKeyLine({ publicKey: key, fingerprint: 'SHA256:abc', mount: 'ssh-client-signer' });
    expect(line).toBe(`cert-authority,principals="root" ${key} fleetvault:ssh-client-signer:SHA256:abc`);
  });
  it('joins several principals and adds expiry-time in UTC', () => {
    const line = authorizedKeyLine({ publicKey: key + ' comment', fingerprint: 'SHA256:abc', mount: 'm', principals: ['root', 'ops'], expiryTime: new Date('2027-01-31T12:00:00Z'), now: new Date('2026-06-01T00:00:00Z') });
    expect(line.startsWith('cert-authority,principals="root,ops",expiry-time="20270131120000Z" ssh-ed25519 ')).toBe(true);
    expect(line).not.toContain('comment');
  });
  it('refuses principals that would break or widen the option', () => {
    for (const p of ['root"', 'a,b', '*', '', 'x y']) {
      expect(() => authorizedKeyLine({ publicKey: key, fingerprint: 'f', mount: 'm', principals: [p] })).toThrow();
    }
    expect(() => authorizedKeyLine({ publicKey: key, fingerprint: 'f', mount: 'm', principals: [] })).toThrow();
  });
  it('refuses an expiry that is not in the future: such a line trusts nobody (issue 11 item 15)', () => {
    const now = new Date('2026-06-01T00:00:00Z');
    for (const expiryTime of [new Date('2026-05-31T23:59:59Z'), now, new Date('2020-01-01T00:00:00Z'), new Date(Number.NaN)]) {
      expect(() => authorizedKeyLine({ publicKey: key, fingerprint: 'f', mount: 'm', expiryTime, now })).toThrow(UsageError);
    }
    expect(() => validateExpiry(new Date('2020-01-01T00:00:00Z'))).toThrow(/2020-01-01T00:00:00.000Z is in the past: the line would trust no certificate and lock everyone out/);
    expect(validateExpiry(new Date('2026-06-01T00:00:01Z'), now).toISOString()).toBe('2026-06-01T00:00:01.000Z');
  });
  it('refuses look-alike principals: zero-width, bidi, Cyrillic (issue 11 item 14)', () => {
    for (const p of ['root\u200b', 'r\u043eot', '\u202etoor', 'root\u00a0', 'ro\u0301ot', '\uff52oot', '-oProxyCommand']) {
      expect(() => authorizedKeyLine({ publicKey: key, fingerprint: 'f', mount: 'm', principals: ['root', p] }), JSON.stringify(p)).toThrow(UsageError);
    }
  });
});
