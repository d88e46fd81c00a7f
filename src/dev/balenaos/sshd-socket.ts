// sshd.socket on balenaOS: Accept=yes, so systemd accepts each connection and runs `sshd -i` for
// it, and TriggerLimit stops the socket when more than `burst` connections arrive within
// `intervalMs`, until balenaOS' recover-sshd-socket starts it again (`recoverAfterMs`).
// Here a Node listener plays systemd: it passes the accepted socket as the session's stdin/stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

export interface TriggerLimit { intervalMs: number; burst: number; recoverAfterMs: number }

export interface SshdSocket {
  /** The port it listens on (the preferred one, or the one it fell back to). */
  port: number;
  trips(): number;
  liveSessions(): number;
  /** Stop listening, then kill the sessions still running. */
  stop(): Promise<void>;
}

export async function startSshdSocket(o: {
  sshd: string; config: string; host: string; port: number; log: string; env: Record<string, string>; limit: TriggerLimit;
  /** `port` is only a preference (balenaOS' 22222 for `dev`): taken already, listen on any free one. */
  anyPortIfTaken?: boolean;
}): Promise<SshdSocket> {
  const sessions = new Set<ChildProcess>();
  let triggers: number[] = [];
  let trips = 0;
  let stopped = false;
  let server: Server | undefined;
  let port = o.port;
  const listen = () => new Promise<void>((resolve, reject) => {
    server = createServer({ pauseOnConnect: true }, (sock: Socket) => {
      const now = Date.now();
      triggers = triggers.filter((t) => now - t < o.limit.intervalMs);
      triggers.push(now);
      if (triggers.length > o.limit.burst) {
        sock.destroy();
        trips++;
        triggers = [];
        server?.close();
        setTimeout(() => { if (!stopped) listen().catch(() => {}); }, o.limit.recoverAfterMs);
        return;
      }
      const fd = openSync(o.log, 'a');
      const child = spawn(o.sshd, ['-i', '-e', '-f', o.config], { stdio: [sock, sock, fd], env: o.env });
      closeSync(fd);
      sessions.add(child);
      child.once('exit', () => sessions.delete(child));
      child.once('error', () => sessions.delete(child));
      sock.destroy(); // the session holds its own copy of the connection
    });
    server.once('error', reject);
    server.listen(port, o.host, () => { port = (server!.address() as { port: number }).port; resolve(); });
  });
  // Bound here, not checked first and bound later: two `dev` starting at once both saw 22222 free.
  await listen().catch((e: NodeJS.ErrnoException) => {
    if (!o.anyPortIfTaken || e.code !== 'EADDRINUSE') throw e;
    port = 0;
    return listen();
  });
  return {
    port,
    trips: () => trips,
    liveSessions: () => sessions.size,
    stop: async () => {
      stopped = true;
      await new Promise<void>((r) => (server?.listening ? server.close(() => r()) : r()));
      // A session's command runs in a session of its own below `sshd -i` and would outlive it
      // (sshd does not signal a command without a pty): kill what each session started, too.
      const running = [...sessions].filter((c) => c.exitCode === null && c.signalCode === null);
      const below = descendants(running.map((c) => c.pid!));
      for (const pid of below) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      await Promise.all(running.map((c) => new Promise<void>((r) => {
        if (c.exitCode !== null || c.signalCode !== null) return r();
        c.once('exit', () => r());
        c.kill('SIGKILL');
      })));
    },
  };
}

/** Every process below these (Linux /proc; elsewhere none are found and only the sessions are killed). */
export function descendants(roots: number[]): number[] {
  if (roots.length === 0) return [];
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { return []; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try { stat = readFileSync(`/proc/${e}/stat`, 'utf8'); } catch { continue; }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(e));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [...roots];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) { out.push(c); queue.push(c); }
  }
  return out;
}
