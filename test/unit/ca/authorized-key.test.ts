import { describe, expect, it } from 'vitest';
import { authorizedKeyLine, parseExpiry, validateExpiry } from '../../../src/ca/authorized-key.js';
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

describe('parseExpiry (review of issue 11, item 8)', () => {
  it('refuses dates that new Date() would silently roll over', () => {
    for (const t of ['2027-02-30', '2027-02-29T00:00:00Z', '2027-13-01', '2027-04-31T12:00:00Z', '2027-01-31T24:00:00Z', '2027-01-31T23:60:00Z', '2027-01-31T00:00:00+25:00', 'next tuesday', '2027/01/31', '']) {
      expect(() => parseExpiry(t), t).toThrow(UsageError);
    }
    expect(() => parseExpiry('2027-02-30')).toThrow(/2027-02 has no day 30/);
  });

  it('accepts real ISO 8601 dates and times', () => {
    expect(parseExpiry('2027-01-31T00:00:00Z').toISOString()).toBe('2027-01-31T00:00:00.000Z');
    expect(parseExpiry('2028-02-29').toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(parseExpiry('2027-03-01T01:30:00+01:00').toISOString()).toBe('2027-03-01T00:30:00.000Z');
  });
});
