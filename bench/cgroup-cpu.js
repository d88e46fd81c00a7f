// CPU-seconds by side (client, devices, links) for the fleet lab benchmark, from cgroup v2
// cpu.stat. Why cgroups and not getrusage: ssh's ControlPersist master daemonizes, so its key
// exchange and crypto leave the client's process tree (no rusage of any waited-for child holds
// it), and the devices' supervisors are setsid'd away from the sessions that start them. A cgroup
// keeps every process forked inside it, daemons included. No controller is enabled: accounting only.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function cgroup2Root() {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mnt, type] = line.split(' ');
    if (type === 'cgroup2') return mnt;
  }
  return undefined;
}

/** Groups named <prefix>-<name>, or undefined where cgroup v2 is missing or not writable (CPU is then not reported). */
export function cpuGroups(prefix, names) {
  const root = cgroup2Root();
  if (!root) return undefined;
  const groups = {};
  try {
    for (const n of names) {
      const dir = join(root, `${prefix}-${n}`);
      mkdirSync(dir);
      groups[n] = dir;
    }
  } catch {
    for (const d of Object.values(groups)) try { rmdirSync(d); } catch { /* ignore */ }
    return undefined;
  }
  return {
    dirs: groups,
    /** Move a process (and its future children) into a group. */
    move: (name, pid) => writeFileSync(join(groups[name], 'cgroup.procs'), String(pid)),
    /** CPU-seconds the group used so far (user + system, every process that ever ran in it). */
    seconds: (name) => {
      const m = /usage_usec (\d+)/.exec(readFileSync(join(groups[name], 'cpu.stat'), 'utf8'));
      return m ? Number(m[1]) / 1e6 : NaN;
    },
    /** Shell prefix that runs a command inside a group: sh -c '<this> exec "$@"' sh cmd args. */
    enter: (name) => `echo $$ > ${join(groups[name], 'cgroup.procs')} &&`,
    /** Remove the groups (their processes must be gone or moved out first; the caller moves itself back). */
    remove: (back) => {
      if (back) writeFileSync(join(root, 'cgroup.procs'), String(back));
      for (const d of Object.values(groups)) {
        if (!existsSync(d)) continue;
        // Leftover processes (there should be none) would keep the group: kill them, then remove it.
        try { writeFileSync(join(d, 'cgroup.kill'), '1'); } catch { /* older kernels */ }
        for (let i = 0; i < 50; i++) { try { rmdirSync(d); break; } catch { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); } }
      }
    },
  };
}
