// A lock file that names the process holding it: "<pid> <start time>" (one `dev` starting per
// state dir, one rollout per journal). The start time (from
// /proc/<pid>/stat) tells a live holder from a process that merely got a dead holder's pid; a
// holder killed with SIGKILL leaves its file, which the next taker finds stale and replaces.
// Without /proc (not Linux) only liveness is checked.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface LockHolder { pid: number; startTime?: string }

/** Field 22 of /proc/<pid>/stat (clock ticks since boot), after the parenthesised command name. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): a zombie has exited.
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

function alive(h: LockHolder): boolean {
  try { process.kill(h.pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; }
  const now = startTimeOf(h.pid);
  if (now === undefined) return !/^linux/.test(process.platform); // gone, a zombie, or no /proc
  return h.startTime === undefined || h.startTime === now;
}

/**
 * Take the lock at `path` or throw what `busy(holder)` makes of the live holder. Returns the
 * release, which removes the file only while it is still ours.
 */
export function takePidLock(path: string, busy: (holder: LockHolder) => Error): () => void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const mine = `${process.pid} ${startTimeOf(process.pid) ?? '-'}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, mine, { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw e;
      let text: string;
      try { text = readFileSync(path, 'utf8'); } catch { continue; /* released meanwhile */ }
      const [pid, start] = text.trim().split(' ');
      const holder: LockHolder = { pid: Number(pid), startTime: start && start !== '-' ? start : undefined };
      // An empty file is one being written this instant: its writer is alive.
      if (!text.trim() || (Number.isInteger(holder.pid) && holder.pid > 0 && alive(holder))) throw busy(holder);
      rmSync(path, { force: true }); // its holder is gone
    }
  }
  return () => {
    try { if (readFileSync(path, 'utf8') === mine) rmSync(path, { force: true }); } catch { /* gone */ }
  };
}
