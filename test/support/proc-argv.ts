// Sample every process's argv on this machine (where the test devices run) while something runs:
// a secret that ever appears in a command line shows up here.
import { readdirSync, readFileSync } from 'node:fs';

export function sampleArgv(secrets: string[], everyMs = 50): { stop(): { samples: number; leaks: string[] } } {
  const leaks = new Set<string>();
  let samples = 0;
  const tick = () => {
    samples++;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let argv: string;
      try { argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1'); } catch { continue; }
      for (const s of secrets) if (argv.includes(s)) leaks.add(`${s.slice(0, 8)}… in pid ${pid}: ${argv.replace(/\0/g, ' ').slice(0, 120)}`);
    }
  };
  const timer = setInterval(tick, everyMs);
  return { stop: () => { clearInterval(timer); tick(); return { samples, leaks: [...leaks] }; } };
}
