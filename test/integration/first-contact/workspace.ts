// A newcomer's machine, as far as a test can make one: a fresh `git clone` of this repository in
// a temp dir, a fresh HOME under /tmp with no state dir, and (when asked) an unprivileged account.
// The clone reuses the already-installed node_modules and .tools (OpenBao) by symlink: the
// commands under test are the README's, not `npm ci`'s download (install-tools.sh never
// reinstalls through a link).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = realpathSync(fileURLToPath(new URL('../../..', import.meta.url)));

export interface RunResult { code: number; stdout: string; stderr: string }
export interface Account { name: string; uid: number; gid: number }

/** Run a command as a user would: a clean environment (no VAULT_* from the developer's shell). */
export function run(cmd: string, args: string[], o: { cwd: string; home: string; env?: Record<string, string>; as?: Account; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.home, LANG: 'C.UTF-8', USER: o.as?.name ?? 'root', ...o.env };
    const child = spawn(cmd, args, { cwd: o.cwd, env, uid: o.as?.uid, gid: o.as?.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

/** A temp dir other accounts may enter (mkdtemp makes it 0700). */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  return d;
}

/** `git clone` of this repository, with the installed node_modules and .tools linked in. */
export function freshClone(parent: string): string {
  const dir = join(parent, 'fleetvault');
  execFileSync('git', ['clone', '--quiet', REPO, dir]);
  symlinkSync(realpathSync(join(REPO, 'node_modules')), join(dir, 'node_modules'));
  symlinkSync(realpathSync(join(REPO, '.tools')), join(dir, '.tools'));
  return dir;
}

/**
 * The same clone for another account: hard links (a copy across file systems) of the clone and of
 * what it links to, so the account needs no access to the directories above this repository.
 */
export function cloneFor(clone: string, parent: string): string {
  const dir = join(parent, 'fleetvault');
  copyTree(clone, dir); // the two links stay links here…
  for (const linked of ['node_modules', '.tools']) {
    rmSync(join(dir, linked));
    copyTree(realpathSync(join(clone, linked)), join(dir, linked)); // …and become copies
  }
  return dir;
}

function copyTree(from: string, to: string): void {
  try { execFileSync('cp', ['-a', '--link', from, to], { stdio: 'ignore' }); } catch {
    rmSync(to, { recursive: true, force: true });
    execFileSync('cp', ['-a', from, to]);
  }
}

/** An unprivileged account (created once with useradd if missing; the suite runs as root). */
export function unprivilegedAccount(name = 'fvfirst'): Account {
  try { execFileSync('id', ['-u', name], { stdio: 'ignore' }); } catch {
    execFileSync('useradd', ['--no-create-home', '--shell', '/bin/sh', name]);
  }
  const uid = Number(execFileSync('id', ['-u', name]).toString());
  const gid = Number(execFileSync('id', ['-g', name]).toString());
  return { name, uid, gid };
}

/** A fresh HOME under /tmp, owned by the account that will use it. */
export function freshHome(parent: string, as?: Account): string {
  const home = mkdtempSync(join(parent, 'home-'));
  if (as) chownSync(home, as.uid, as.gid);
  return home;
}

/** fleetvault's one-line messages ("fleetvault: …") on stderr. */
export function messages(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('fleetvault: '));
}
