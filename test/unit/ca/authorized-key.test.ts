import { describe, expect, it } from 'vitest';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';

const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlnh1J+tFqIkbe1XxDzLzmwQhtcLxTqvFl6erCFB13k';

describe('authorizedKeyLine', () => {
  it('always carries principals= and fleetvault\'s marker', () => {
    const line = authorizedKeyLine({ publicKey: key, fingerprint: 'SHA256:abc', mount: 'ssh-client-signer' });
    expect(line).toBe(`cert-authority,principals="root" ${key} fleetvault:ssh-client-signer:SHA256:abc`);
  });
  it('joins several principals and adds expiry-time in UTC', () => {
    const line = authorizedKeyLine({ publicKey: key + ' comment', fingerprint: 'SHA256:abc', mount: 'm', principals: ['root', 'ops'], expiryTime: new Date('2027-01-31T12:00:00Z') });
    expect(line.startsWith('cert-authority,principals="root,ops",expiry-time="20270131120000Z" ssh-ed25519 ')).toBe(true);
    expect(line).not.toContain('comment');
  });
  it('refuses principals that would break or widen the option', () => {
    for (const p of ['root"', 'a,b', '*', '', 'x y']) {
      expect(() => authorizedKeyLine({ publicKey: key, fingerprint: 'f', mount: 'm', principals: [p] })).toThrow();
    }
    expect(() => authorizedKeyLine({ publicKey: key, fingerprint: 'f', mount: 'm', principals: [] })).toThrow();
  });
});
