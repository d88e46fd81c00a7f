// Which server each token file fleetvault wrote holds a token for. A token must only ever be sent
// to the server that issued it; ~/.vault-token cannot carry that itself (vault/bao read it as the
// bare token), so fleetvault keeps the record beside its config: <config dir>/token-servers.json,
// mode 0600, path → { address, sha256 of the token }. The hash ties the record to the exact token
// written: a token someone else put in the file later (`vault login`) is not claimed by it.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configDir } from './config.js';
import { writeFileAtomic } from './fs/atomic.js';

type Env = Record<string, string | undefined>;
type Records = Record<string, { address: string; sha256: string }>;

function recordsPath(env: Env): string {
  return join(configDir(env), 'token-servers.json');
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function readRecords(env: Env): Records {
  try {
    const r = JSON.parse(readFileSync(recordsPath(env), 'utf8')) as unknown;
    return typeof r === 'object' && r !== null ? (r as Records) : {};
  } catch {
    return {};
  }
}

function save(env: Env, records: Records): void {
  mkdirSync(configDir(env), { recursive: true, mode: 0o700 });
  writeFileAtomic(recordsPath(env), JSON.stringify(records, null, 2) + '\n', { mode: 0o600 });
}

const norm = (a: string) => a.replace(/\/+$/, '');

/** After storing a token: remember the server it came from. */
export function recordTokenServer(o: { path: string; address: string; token: string; env?: Env }): void {
  const env = o.env ?? process.env;
  const records = readRecords(env);
  records[resolve(o.path)] = { address: norm(o.address), sha256: digest(o.token) };
  save(env, records);
}

/** After removing a token file: forget its record. */
export function forgetTokenServer(o: { path: string; env?: Env }): void {
  const env = o.env ?? process.env;
  const records = readRecords(env);
  if (!records[resolve(o.path)]) return;
  delete records[resolve(o.path)];
  save(env, records);
}

/** The server the token read from `path` was stored for, if fleetvault stored exactly this token. */
export function tokenServerOf(o: { path: string; token: string; env?: Env }): string | undefined {
  const r = readRecords(o.env ?? process.env)[resolve(o.path)];
  return r && r.sha256 === digest(o.token) ? r.address : undefined;
}
