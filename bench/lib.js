// Interleaved benchmark runner: candidates run in turn (A B C A B C …) so drift in machine load
// hits all of them alike; medians, not means, because process start-up has a long tail.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

/** Run a command; resolves with wall-clock milliseconds. Rejects on non-zero exit. */
export function timeCommand(cmd, args, o = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(cmd, args, { stdio: ['ignore', o.stdout ?? 'ignore', 'pipe'], env: o.env ?? process.env, shell: o.shell ?? false });
    let err = '';
    // A hung run fails the benchmark instead of stalling it (o.timeoutMs, default 120 s).
    const timer = setTimeout(() => { err += `\n(killed after ${o.timeoutMs ?? 120_000} ms)`; c.kill('SIGKILL'); }, o.timeoutMs ?? 120_000);
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0 && !o.allowFail) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(0, 500)}`));
      else resolve(ms);
    });
  });
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/**
 * candidates: { name: () => Promise<number ms> }. Returns { name: {median, p90, runs} }.
 * `setup` (optional) runs before every individual run, untimed.
 */
export async function interleave(candidates, runs, { warmup = 2, setup } = {}) {
  const names = Object.keys(candidates);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < warmup; i++) for (const n of names) { if (setup) await setup(n); await candidates[n](); }
  for (let i = 0; i < runs; i++) {
    for (const n of names) {
      if (setup) await setup(n);
      samples[n].push(await candidates[n]());
    }
  }
  return Object.fromEntries(names.map((n) => [n, { median: median(samples[n]), p90: percentile(samples[n], 90), runs }]));
}

export function saveResult(name, data) {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(`${RESULTS}${name}.json`, JSON.stringify({ ...data, at: new Date().toISOString() }, null, 2) + '\n');
}

export function fmt(ms) {
  return `${ms.toFixed(1)} ms`;
}
