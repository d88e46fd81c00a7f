// The signing cache file on its own: keyed by server + namespace + mount + role and the token,
// private regular files only, short-lived, and a changed byte makes it worthless.
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SigningCache, signingCacheDir } from '../../../src/vault/signing-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'fv-sigcache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const key = { address: 'https://vault-a:8200', namespace: 'eng', mount: 'ssh-client-signer', role: 'engineer' };
const entry = { role: { ttl: 1800, max_ttl: 3600 }, caPublicKey: 'ssh-ed25519 AAAA', caFingerprint: 'SHA256:x' };

describe('SigningCache', () => {
  it('reads back its own entry, and nothing for another server, namespace, mount, role or token', () => {
    new SigningCache(key, 'tok', { dir }).write(entry);
    expect(new SigningCache(key, 'tok', { dir }).read()).toEqual(entry);
    expect(new SigningCache({ ...key, address: 'https://vault-b:8200' }, 'tok', { dir }).read()).toBeUndefined();
    expect(new SigningCache({ ...key, namespace: undefined }, 'tok', { dir }).read()).toBeUndefined();
    expect(new SigningCache({ ...key, mount: 'other' }, 'tok', { dir }).read()).toBeUndefined();
    expect(new SigningCache({ ...key, role: 'ops' }, 'tok', { dir }).read()).toBeUndefined();
    expect(new SigningCache(key, 'other-token', { dir }).read()).toBeUndefined();
  });

  it('refuses a file copied over another key\'s name (the key is inside the MAC too)', () => {
    const a = new SigningCache(key, 'tok', { dir });
    const b = new SigningCache({ ...key, mount: 'other' }, 'tok', { dir });
    a.write(entry);
    writeFileSync(b.path, readFileSync(a.path), { mode: 0o600 });
    expect(b.read()).toBeUndefined();
  });

  it('expires after its TTL and refuses entries from the future', () => {
    let now = 1_000_000;
    const c = new SigningCache(key, 'tok', { dir, ttlSeconds: 300, now: () => now });
    c.write(entry);
    now += 299_000;
    expect(c.read()).toEqual(entry);
    now += 2_000;
    expect(c.read()).toBeUndefined();
    now = 1_000_000 - 60_000;
    expect(c.read()).toBeUndefined();
  });

  it('refuses tampered, group/world-accessible and symlinked files', () => {
    const c = new SigningCache(key, 'tok', { dir });
    c.write(entry);
    const text = readFileSync(c.path, 'utf8');
    writeFileSync(c.path, text.replace('3600', '86400'));
    expect(c.read()).toBeUndefined();
    c.write(entry);
    chmodSync(c.path, 0o640);
    expect(c.read()).toBeUndefined();
    c.write(entry);
    renameSync(c.path, `${c.path}.real`);
    symlinkSync(`${c.path}.real`, c.path);
    expect(c.read()).toBeUndefined();
    c.invalidate();
    writeFileSync(c.path, 'not json', { mode: 0o600 });
    expect(c.read()).toBeUndefined();
  });

  it('ignores a relative XDG_CACHE_HOME (the spec says so; it would put the cache in the current directory)', () => {
    expect(signingCacheDir({ XDG_CACHE_HOME: 'cache', HOME: '/home/u' })).toBe('/home/u/.cache/fleetvault/signing');
    expect(signingCacheDir({ XDG_CACHE_HOME: '/x/c', HOME: '/home/u' })).toBe('/x/c/fleetvault/signing');
  });
});
