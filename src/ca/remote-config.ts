// config.json on a device, over the system ssh with the operator's existing access. Content
// travels on stdin and is checked by hash on the device; nothing from the file is ever
// interpolated into a shell string (only the validated path and hex digests are).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { DeviceTarget } from './devices-file.js';

export interface SshAccess {
  /** Private key for the operator's existing access (first contact on balena fleets). */
  identity?: string;
  /** Extra identity options, e.g. a fleetvault certificate for verification. */
  certificate?: string;
  /** known_hosts the tool keeps: first contact pins, a changed key is refused. */
  knownHostsFile: string;
  strictHostKeyChecking?: 'yes' | 'no' | 'ask' | 'accept-new';
  user?: string;
  connectTimeoutSeconds?: number;
}

export interface ExecResult { code: number; stdout: Buffer; stderr: string }

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sshExec(t: DeviceTarget, a: SshAccess, remoteCommand: string, stdin?: Buffer, o: { timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<ExecResult> {
  const args = [
    '-p', String(t.port), '-l', a.user ?? 'root',
    '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${a.connectTimeoutSeconds ?? 10}`, '-o', 'LogLevel=ERROR',
    '-o', `UserKnownHostsFile=${a.knownHostsFile}`, '-o', `StrictHostKeyChecking=${a.strictHostKeyChecking ?? 'accept-new'}`,
    '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3',
  ];
  if (a.identity) args.push('-i', a.identity, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none');
  if (a.certificate) args.push('-o', `CertificateFile=${a.certificate}`);
  if (t.proxyCommand) args.push('-o', `ProxyCommand=${t.proxyCommand}`);
  if (t.hostKeyAlias) args.push('-o', `HostKeyAlias=${t.hostKeyAlias}`);
  args.push('--', t.host, remoteCommand);
  return new Promise((resolve) => {
    const c = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    if (c.pid) o.onSpawn?.(c.pid);
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4096); });
    c.stdin.on('error', () => { /* the remote side may close early; the exit code tells */ });
    const timer = setTimeout(() => c.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    c.on('error', (e) => { clearTimeout(timer); resolve({ code: 255, stdout: Buffer.alloc(0), stderr: String(e) }); });
    c.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? 255, stdout: Buffer.concat(out), stderr: err }); });
    c.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

const q = (p: string) => `'${p}'`; // paths are validated to [A-Za-z0-9_./-]: no quote can appear

/** Remote read, through fatrw when the device has it (a file fatrw wrote must be read by fatrw). */
export function readCommand(path: string): string {
  return `if command -v fatrw >/dev/null 2>&1; then fatrw read ${q(path)}; else cat ${q(path)}; fi`;
}

/**
 * Remote write: new file + sync + rename, backup kept as <path>.fleetvault.bak. Refuses when the
 * upload is not what we sent, or when the file changed since we read it (someone else edited it).
 * FAT has no atomic rename; where balenaOS ships fatrw it is used instead.
 */
export function writeCommand(path: string, o: { newSha: string; expectSha: string; backup: boolean }): string {
  return [
    'set -eu',
    `p=${q(path)}`,
    'new="$p.fleetvault.new"; bak="$p.fleetvault.bak"',
    'cat > "$new"',
    `[ "$(sha256sum "$new" | cut -d' ' -f1)" = "${o.newSha}" ] || { rm -f "$new"; echo "upload corrupted" >&2; exit 90; }`,
    `[ "$(sha256sum "$p" | cut -d' ' -f1)" = "${o.expectSha}" ] || { rm -f "$new"; echo "config.json changed since it was read" >&2; exit 91; }`,
    ...(o.backup ? ['cp "$p" "$bak.tmp"', 'sync', 'mv "$bak.tmp" "$bak"'] : []),
    'sync',
    'if command -v fatrw >/dev/null 2>&1; then fatrw write "$p" "$(cat "$new")" && rm -f "$new"; else mv "$new" "$p"; fi',
    'sync',
  ].join('\n');
}

export function describeSshFailure(r: ExecResult): string {
  const e = r.stderr;
  // The tunnel's ProxyCommand says why it could not connect (407/404/503/TLS) on a line of its own.
  const tunnel = /^fleetvault: (failed to reach .*)$/m.exec(e);
  if (r.code === 255 && tunnel) return `unreachable: ${tunnel[1]!.slice(0, 240)}`;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(e)) return 'host key changed (refusing: possible impersonation)';
  if (/Connection refused/.test(e)) return 'unreachable (connection refused)';
  if (/timed out|No route to host/.test(e)) return 'unreachable (timeout)';
  if (/Permission denied/.test(e)) return 'access denied (operator key not accepted)';
  if (r.code === 90) return 'upload corrupted';
  if (r.code === 91) return 'config.json changed on the device while we worked';
  const last = e.trim().split('\n').pop() ?? '';
  return last ? last.slice(0, 200) : `ssh exited ${r.code}`;
}
