// Running a command on a device over the system ssh with the operator's existing access. Content
// travels on stdin; nothing from config.json is ever put in a command line (ours or the device's).
// Device output is capped: a device is untrusted input (a config path of /dev/zero, a hostile or
// broken sshd), so past the cap the connection is cut and the device reported, never buffered.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { DeviceTarget } from '../ca/devices-file.js';
import { hostKeyAliasOf } from './known-hosts.js';

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
  /**
   * How long the device-side watchdog waits before it starts a supervisor our write stopped, when
   * the write never finished (connection lost, script killed). Default 120 s; tests shorten it.
   */
  leaseSeconds?: number;
}

export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** The device sent more than maxStdoutBytes; the connection was cut there. */
  overflow?: boolean;
  /** No answer within timeoutMs; the connection was cut. */
  timedOut?: boolean;
}

export interface ExecOptions {
  timeoutMs?: number;
  onSpawn?: (pid: number) => void;
  /** Cut the connection once stdout exceeds this (default 64 KiB). */
  maxStdoutBytes?: number;
  /** Reuse (or create) the device's authenticated master connection at this socket path. */
  controlPath?: string;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sshArgs(t: DeviceTarget, a: SshAccess, controlPath?: string): string[] {
  const args = [
    '-p', String(t.port), '-l', a.user ?? 'root',
    '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${a.connectTimeoutSeconds ?? 10}`, '-o', 'LogLevel=ERROR',
    '-o', `UserKnownHostsFile=${a.knownHostsFile}`, '-o', `StrictHostKeyChecking=${a.strictHostKeyChecking ?? 'accept-new'}`,
    // Pinned by device, not by address: a device that moves keeps its pin, a new one at an old
    // address is not mistaken for it. UpdateHostKeys would add unpinned keys behind our back.
    '-o', `HostKeyAlias=${hostKeyAliasOf(t)}`, '-o', 'CheckHostIP=no', '-o', 'UpdateHostKeys=no', '-o', 'HashKnownHosts=no',
    '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3',
  ];
  if (t.proxyCommand) args.push('-o', `ProxyCommand=${t.proxyCommand}`);
  if (controlPath) {
    // One authenticated connection per device for read + write; it lingers 5 s at most if we die (a new one is made if a step comes later).
    args.push('-o', 'ControlMaster=auto', '-o', `ControlPath=${controlPath}`, '-o', 'ControlPersist=5');
  } else {
    args.push('-o', 'ControlMaster=no', '-o', 'ControlPath=none');
  }
  if (a.identity) args.push('-i', a.identity, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none');
  if (a.certificate) args.push('-o', `CertificateFile=${a.certificate}`);
  return args;
}

export function sshExec(t: DeviceTarget, a: SshAccess, remoteCommand: string, stdin?: Buffer, o: ExecOptions = {}): Promise<ExecResult> {
  const args = [...sshArgs(t, a, o.controlPath), '--', t.host, remoteCommand];
  const cap = o.maxStdoutBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    const c = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    if (c.pid) o.onSpawn?.(c.pid);
    const out: Buffer[] = [];
    let size = 0;
    let overflow = false;
    let timedOut = false;
    let err = '';
    c.stdout.on('data', (d: Buffer) => {
      if (overflow) return;
      size += d.length;
      if (size > cap) {
        overflow = true;
        out.push(d.subarray(0, d.length - (size - cap - 1))); // keep cap + 1 bytes: proof of the overflow
        c.kill('SIGKILL');
        return;
      }
      out.push(d);
    });
    c.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4096); });
    c.stdin.on('error', () => { /* the remote side may close early; the exit code tells */ });
    const timer = setTimeout(() => { timedOut = true; c.kill('SIGKILL'); }, o.timeoutMs ?? 60_000);
    c.on('error', (e) => { clearTimeout(timer); resolve({ code: 255, stdout: Buffer.alloc(0), stderr: String(e) }); });
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 255, stdout: Buffer.concat(out), stderr: err, overflow: overflow || undefined, timedOut: timedOut || undefined });
    });
    c.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

/** Exit codes of the device-side scripts (config-scripts.ts) and what they mean, one line each. */
export const REMOTE_FAILURES: Record<number, string> = {
  88: 'another fleetvault run holds config.json (it stopped the supervisor)',
  89: 'no config.json at the config path',
  90: 'upload corrupted (what arrived is not what was sent)',
  91: 'config.json changed on the device during the write; refused, nothing overwritten (re-run to retry)',
  92: 'the hold on config.json was lost (its lease expired and the supervisor was started again)',
  93: 'the supervisor did not start again',
  94: 'the config path is not a regular file',
  95: 'could not stop the supervisor',
  96: 'replacing config.json failed',
  97: 'config.json read back differs from what was written',
  98: 'another write holds the lock on config.json',
  99: 'writing the backup failed',
};

/** `credential`: what the login offered, for the access-denied wording (default: the operator key). */
export function describeSshFailure(r: ExecResult, o: { maxBytes?: number; credential?: string } = {}): string {
  const e = r.stderr;
  // The tunnel's ProxyCommand says why it could not connect (407/404/503/TLS) on a line of its own.
  const tunnel = /^fleetvault: (failed to reach .*)$/m.exec(e);
  if (r.code === 255 && tunnel) return `unreachable: ${tunnel[1]!.slice(0, 240).replace(/[^\x20-\x7e]/g, '?')}`;
  if (r.overflow) return `the device sent more than ${o.maxBytes ?? 'the allowed'} bytes; connection cut`;
  if (r.timedOut) return 'no answer in time; connection cut';
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(e)) return 'host key changed or not pinned (refusing: possible impersonation)';
  if (/Connection refused/.test(e)) return 'unreachable (connection refused)';
  if (/timed out|No route to host/.test(e)) return 'unreachable (timeout)';
  // A TCP reset is the network's or the device's doing, whichever handshake step it cut (on a
  // cellular link it is routine): not evidence that the other end is no SSH server.
  if (/Connection reset by peer/.test(e) && r.code === 255) return 'the connection was reset (by the network or the device)';
  if (/kex_exchange_identification|ssh_exchange_identification|Bad packet length|invalid format|protocol identification/i.test(e)) return 'not an SSH server (bad answer to the SSH handshake)';
  if (/Connection closed by|Connection reset/.test(e) && r.code === 255) return 'the device closed the connection';
  if (/Permission denied/.test(e)) return `access denied (${o.credential ?? 'operator key'} not accepted)`;
  if (/control master|mux_client/i.test(e)) return 'the device dropped the connection right after login';
  const known = REMOTE_FAILURES[r.code];
  if (r.code === 88) {
    // Another run's hold, with the seconds its lease has left (device clock): its watchdog starts
    // the supervisor again then; that run's own re-run (same journal) finishes it sooner.
    const left = /^fleetvault: held-for (\d{1,9})$/m.exec(e)?.[1];
    return `another fleetvault run holds config.json${left ? ` for ${left} s more` : ''} (it stopped the supervisor; its watchdog starts it again then): re-run that run's command to finish it, or retry after`;
  }
  if (known) {
    // Our own scripts say precisely which step failed ("fleetvault: cannot stop balena-supervisor").
    const own = /^fleetvault: (.+)$/m.exec(e)?.[1]?.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
    return own && r.code !== 91 && r.code !== 92 && !known.startsWith(own) ? `${known}: ${own}` : known;
  }
  // A master connection (ControlPersist) that dies after it forked leaves the client no message at
  // all: a reset by the network, or the device closing it. Say so instead of a bare exit code.
  if (r.code === 255 && !e.trim()) return 'the connection dropped (reset by the network or closed by the device; ssh gave no message)';
  // Anything else from the device is untrusted text: one printable line, short.
  const last = (e.trim().split('\n').pop() ?? '').replace(/[^\x20-\x7e]/g, '?');
  return last ? last.slice(0, 200) : `ssh exited ${r.code}`;
}
