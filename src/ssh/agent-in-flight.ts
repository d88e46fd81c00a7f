// Certificates a login is about to present from ssh-agent ("in flight"). The agent bound
// (pruneScopedAgentCertificates) and the stale-certificate cleanup run in one login while another
// may be between putting its certificate in the agent and ssh authenticating with it: logins in
// parallel (a shell loop with `&`, ansible forks, pssh) removed each other's certificates and
// failed with "Permission denied (publickey)". A login marks its certificate first; the cleanup
// leaves marked ones alone.
//
// A marker is a file named by the certificate's subject key fingerprint that holds the pid of the
// process waiting on it, in a 0700 directory of this user per agent socket. It counts while that
// process lives and for IN_FLIGHT_MS after it was written — authentication takes seconds, and a
// session that stays open no longer needs its certificate in the agent, so it does not hold the
// bound open for later logins. The process removes it when it exits; a dead pid's marker is
// ignored and removed by the next reader. Markers are hints that only ever keep a certificate
// longer: nothing is trusted from them, and any problem with them means "none in flight".
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { xdgBaseDir, xdgRuntimeDir } from '../xdg.js';

export const IN_FLIGHT_MS = 30_000;

function markerDir(env: NodeJS.ProcessEnv): string | undefined {
  const sock = env.SSH_AUTH_SOCK;
  if (!sock) return undefined;
  return join(xdgRuntimeDir(env) ?? xdgBaseDir('XDG_CACHE_HOME', env), 'fleetvault', 'agent-in-flight', createHash('sha256').update(sock).digest('hex').slice(0, 16));
}

/** `SHA256:ab/c+d` → a file name (base64's / and + are not all safe in one). */
const fileName = (fingerprint: string) => fingerprint.replace(/^SHA256:/, '').replace(/\//g, '_').replace(/\+/g, '-');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Mark the certificate of this subject key as in flight until this process exits (or IN_FLIGHT_MS). */
export function markInFlight(publicKeyFingerprint: string, env: NodeJS.ProcessEnv = process.env): () => void {
  const dir = markerDir(env);
  if (!dir) return () => {};
  const file = join(dir, fileName(publicKeyFingerprint));
  const release = () => { try { unlinkSync(file); } catch { /* gone already */ } };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, String(process.pid), { mode: 0o600 });
  } catch {
    return () => {};
  }
  process.once('exit', release);
  return () => { process.removeListener('exit', release); release(); };
}

/** Subject key fingerprints (`SHA256:…`) of the certificates other live logins are presenting now. */
export function certificatesInFlight(env: NodeJS.ProcessEnv = process.env, now = Date.now()): Set<string> {
  const found = new Set<string>();
  const dir = markerDir(env);
  if (!dir) return found;
  let names: string[];
  try { names = readdirSync(dir); } catch { return found; }
  for (const name of names) {
    const file = join(dir, name);
    try {
      const pid = Number(readFileSync(file, 'utf8'));
      const fresh = now - statSync(file).mtimeMs < IN_FLIGHT_MS;
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        if (fresh && pid !== process.pid) found.add(`SHA256:${name.replace(/_/g, '/').replace(/-/g, '+')}`);
      } else {
        unlinkSync(file);
      }
    } catch { /* a marker that went away meanwhile */ }
  }
  return found;
}
