// What `cert sign` / `ssh` read before every sign request — the SSH role (for the TTL check and
// clearer refusals) and the CA public key (to verify the certificate) — kept for a few minutes so
// the next login sends only the sign request itself.
//
// Rules that keep a stale or forged entry from ever widening anything:
// - keyed by server address + namespace + mount + role: never used for another server or mount;
// - MAC'd with a key derived from the Vault token: a file edited by anyone without the token (or
//   written for another token) is refused, and so is one that is not a private regular file of ours;
// - short TTL, and the caller drops it on any mismatch or refusal: a certificate that does not
//   verify against the cached CA (a rotation) or a Vault refusal means re-read, never "trust the cache";
// - it only holds public data (the CA public key, role limits): losing it costs one round trip.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, unlinkSync, constants } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import { xdgBaseDir } from '../xdg.js';

export interface CachedSshRole {
  ttl?: number;
  max_ttl?: number;
  allowed_users?: string;
  allow_user_key_ids?: boolean;
  /** What Vault puts in a certificate whose request names no critical options (scoped roles). */
  default_critical_options?: Record<string, string>;
}

export interface SigningCacheEntry {
  /** null: the token may not read the role (the sign request still works). */
  role: CachedSshRole | null;
  caPublicKey: string;
  caFingerprint: string;
}

export interface SigningCacheKey {
  address: string;
  namespace?: string;
  mount: string;
  role: string;
}

// 2: the role carries default_critical_options.
const VERSION = 2;
export const DEFAULT_SIGNING_CACHE_TTL_SECONDS = 300;
const MAX_BYTES = 64 * 1024;

export function signingCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(xdgBaseDir('XDG_CACHE_HOME', env), 'fleetvault', 'signing');
}

function canonicalKey(k: SigningCacheKey): string {
  return JSON.stringify([k.address.replace(/\/+$/, ''), k.namespace ?? '', k.mount, k.role]);
}

export class SigningCache {
  readonly path: string;
  private readonly macKey: Buffer;
  private readonly id: string;

  constructor(key: SigningCacheKey, token: string, private readonly o: { dir?: string; ttlSeconds?: number; now?: () => number } = {}) {
    this.id = canonicalKey(key);
    this.path = join(o.dir ?? signingCacheDir(), `${createHash('sha256').update(this.id).digest('hex').slice(0, 32)}.json`);
    this.macKey = createHash('sha256').update('fleetvault signing cache v1\0').update(token).digest();
  }

  /** Off with FLEETVAULT_SIGNING_CACHE=0 (or a TTL of 0). */
  static enabled(env: NodeJS.ProcessEnv = process.env): boolean {
    return env.FLEETVAULT_SIGNING_CACHE !== '0';
  }

  private mac(body: string): string {
    return createHmac('sha256', this.macKey).update(body).digest('base64');
  }

  /** The entry, or undefined when absent, expired, for another key/token, or not trustworthy. */
  read(): SigningCacheEntry | undefined {
    const text = readPrivateFile(this.path);
    if (text === undefined) return undefined;
    try {
      const f = JSON.parse(text) as { body?: unknown; mac?: unknown };
      if (typeof f.body !== 'string' || typeof f.mac !== 'string') return undefined;
      const want = Buffer.from(this.mac(f.body));
      const got = Buffer.from(f.mac);
      if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
      const b = JSON.parse(f.body) as { v: number; key: string; savedAt: number; entry: SigningCacheEntry };
      if (b.v !== VERSION || b.key !== this.id) return undefined;
      const now = this.o.now?.() ?? Date.now();
      const ttl = (this.o.ttlSeconds ?? DEFAULT_SIGNING_CACHE_TTL_SECONDS) * 1000;
      if (!(b.savedAt <= now + 5000 && now - b.savedAt < ttl)) return undefined;
      const e = b.entry;
      if (typeof e?.caPublicKey !== 'string' || typeof e.caFingerprint !== 'string') return undefined;
      return e;
    } catch {
      return undefined;
    }
  }

  /** Best effort: a cache that cannot be written is no reason to fail a login. */
  write(entry: SigningCacheEntry): void {
    try {
      mkdirSync(join(this.path, '..'), { recursive: true, mode: 0o700 });
      const body = JSON.stringify({ v: VERSION, key: this.id, savedAt: this.o.now?.() ?? Date.now(), entry });
      writeFileAtomic(this.path, JSON.stringify({ body, mac: this.mac(body) }) + '\n', { mode: 0o600 });
    } catch { /* next run reads from Vault again */ }
  }

  invalidate(): void {
    try { unlinkSync(this.path); } catch { /* absent */ }
  }
}

/**
 * The file's text if it is a regular file (not a symlink) owned by us and private (no group/other
 * bits), else undefined. Opened with O_NOFOLLOW and checked on the open descriptor, so a swap
 * between check and read does not help.
 */
function readPrivateFile(path: string): string | undefined {
  let fd: number | undefined;
  try {
    if (!lstatSync(path).isFile()) return undefined;
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile() || (st.mode & 0o077) !== 0 || st.size > MAX_BYTES) return undefined;
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return undefined;
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) try { closeSync(fd); } catch { /* closed */ }
  }
}
