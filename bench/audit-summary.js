// `fleetvault audit summary` against the equivalent streaming jq aggregation on a ≥ 1 GB audit
// log built by repeating the real OpenBao records of test/fixtures/audit/real.log (fresh request
// ids and times per repetition, so pairing does real work). Both read every line and count
// responses per (actor, kind, outcome). Goals: ≥ 1.0× jq's throughput, ≤ 150 MB peak RSS.
// 1 GB on a 2-core machine is slow for jq: 3 interleaved runs (BENCH_AUDIT_RUNS), no warm-up
// run beyond reading the file once into the page cache. The big file is deleted afterwards.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interleave, saveResult } from './lib.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../test/fixtures/audit/real.log', import.meta.url));
const RUNS = Number(process.env.BENCH_AUDIT_RUNS ?? 3);
const TARGET = Number(process.env.BENCH_AUDIT_BYTES ?? 1024 ** 3);

// Kind as fleetvault classifies it, in jq: mount type + the path below the mount.
const JQ_PROGRAM = `
reduce (inputs | select(.type == "response")) as $r ({};
  ($r.request.mount_type // "") as $mt |
  (($r.request.path // "") | split("/")) as $s |
  (if $mt == "ssh" and ($s[1] == "sign" or $s[1] == "issue") then "ssh-sign"
   elif $mt == "transit" and ($s[1] == "encrypt" or $s[1] == "decrypt" or $s[1] == "rewrap") then "transit-" + $s[1]
   elif $s[0] == "auth" and ($s | index("login")) != null then "login"
   else "other" end) as $kind |
  ((($r.auth.display_name // "anonymous") + (if $r.auth.metadata.role_name then "/" + $r.auth.metadata.role_name else "" end))
   + " " + $kind + " " + (if ($r.error // $r.response.data.error) != null then "refused" else "ok" end)) as $key |
  .[$key] += 1)`;

/** Writes ≥ target bytes of real records; returns {bytes, lines}. */
export function buildLog(file, target = TARGET) {
  const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter(Boolean);
  // Each line as segments around its request id (same id in a request and its response).
  const templates = lines.map((l) => {
    const m = /"request":\{"id":"([0-9a-f-]{36})"/.exec(l);
    const time = /^\{"time":"([^"]+)"/.exec(l)?.[1];
    const body = time ? l.slice(`{"time":"${time}"`.length) : l;
    return { parts: m ? body.split(m[1]) : [body], id: m?.[1], t: time ? Date.parse(time) : 0 };
  });
  const t0 = templates.find((t) => t.t)?.t ?? Date.now();
  const fd = openSync(file, 'w', 0o600);
  let bytes = 0;
  let count = 0;
  let buf = [];
  let bufLen = 0;
  for (let rep = 0; bytes < target; rep++) {
    const shift = rep * 2000; // every repetition two seconds later: ~1.3 k requests/s per actor
    for (const tp of templates) {
      const id = tp.id ? tp.id.slice(0, 24) + rep.toString(16).padStart(12, '0') : undefined;
      const time = new Date((tp.t || t0) + shift).toISOString().replace('Z', '123456Z');
      const line = `{"time":"${time}"` + (id ? tp.parts.join(id) : tp.parts[0]) + '\n';
      buf.push(line);
      bufLen += line.length;
      count++;
      if (bufLen > 8 * 1024 * 1024) { bytes += writeSync(fd, buf.join('')); buf = []; bufLen = 0; }
    }
  }
  if (buf.length) bytes += writeSync(fd, buf.join(''));
  closeSync(fd);
  return { bytes, lines: count };
}

/** Wall ms and peak RSS (KiB) of one command, via GNU time. */
function measure(cmd, args, stdoutFile) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const out = stdoutFile ? openSync(stdoutFile, 'w') : 'ignore';
    const c = spawn('/usr/bin/time', ['-f', '%M', cmd, ...args], { stdio: ['ignore', out, 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => {
      if (typeof out === 'number') closeSync(out);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${err.slice(-500)}`));
      const rssKiB = Number(err.trim().split('\n').pop());
      resolve({ ms, rssKiB });
    });
  });
}

/** The same counts from both tools (on a small log, so the check itself stays cheap). */
function crossCheck(dir) {
  const small = join(dir, 'small.log');
  buildLog(small, 4 * 1024 * 1024);
  const jq = JSON.parse(execFileSync('jq', ['-n', '-c', JQ_PROGRAM, small], { encoding: 'utf8' }));
  const fv = JSON.parse(execFileSync(process.execPath, [CLI, 'audit', 'summary', '--log', small, '--kind', 'all', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  const jqTotal = Object.values(jq).reduce((a, b) => a + b, 0);
  const jqRefused = Object.entries(jq).filter(([k]) => k.endsWith(' refused')).reduce((a, [, b]) => a + b, 0);
  const byKind = {};
  for (const [k, n] of Object.entries(jq)) { const kind = k.split(' ')[1]; byKind[kind] = (byKind[kind] ?? 0) + n; }
  const fvByKind = Object.fromEntries(Object.entries(fv.byKind).map(([k, v]) => [k, v.ok + v.refused]));
  // fleetvault also reports requests that never got a response (jq's select drops them).
  const unpaired = fv.stats.unpaired;
  const ok = fv.events - unpaired === jqTotal && fv.refused === jqRefused &&
    Object.entries(byKind).every(([k, n]) => fvByKind[k] - (k === 'other' ? unpaired : 0) === n);
  rmSync(small);
  return { ok, jqTotal, fleetvaultEvents: fv.events, unpaired, jqByKind: byKind, fleetvaultByKind: fvByKind };
}

export async function benchAuditSummary() {
  if (!existsSync(CLI)) throw new Error('run npm run build first');
  const dir = mkdtempSync(join(tmpdir(), 'fv-bench-audit-'));
  try {
    const check = crossCheck(dir);
    if (!check.ok) throw new Error(`fleetvault and jq disagree: ${JSON.stringify(check)}`);
    const file = join(dir, 'audit.log');
    const t0 = Date.now();
    const built = buildLog(file);
    const mb = statSync(file).size / 1024 ** 2;
    console.log(`audit-summary: built ${mb.toFixed(0)} MiB, ${built.lines} lines in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    execFileSync('sh', ['-c', `cat "${file}" > /dev/null`]); // page cache: both read from memory

    const rss = { fleetvault: [], jq: [] };
    const r = await interleave({
      fleetvault: async () => { const m = await measure(process.execPath, [CLI, 'audit', 'summary', '--log', file, '--kind', 'all', '--json']); rss.fleetvault.push(m.rssKiB); return m.ms; },
      jq: async () => { const m = await measure('jq', ['-n', '-c', JQ_PROGRAM, file]); rss.jq.push(m.rssKiB); return m.ms; },
    }, RUNS, { warmup: 0 });
    const throughput = (ms) => mb / (ms / 1000);
    const result = {
      runs: RUNS, sizeMiB: Math.round(mb), lines: built.lines,
      fleetvault: { ...r.fleetvault, mibPerSec: throughput(r.fleetvault.median), peakRssMiB: Math.max(...rss.fleetvault) / 1024 },
      jq: { ...r.jq, mibPerSec: throughput(r.jq.median), peakRssMiB: Math.max(...rss.jq) / 1024 },
      ratio: r.jq.median / r.fleetvault.median,
      crossCheck: { jqResponses: check.jqTotal, fleetvaultEvents: check.fleetvaultEvents, unpairedRequests: check.unpaired },
      goal: '≥ 1.0× jq throughput, ≤ 150 MB peak RSS',
      jqVersion: execFileSync('jq', ['--version'], { encoding: 'utf8' }).trim(),
      node: process.version,
    };
    result.pass = result.ratio >= 1 && result.fleetvault.peakRssMiB * 1.048576 <= 150;
    saveResult('audit-summary', result);
    console.log(`audit-summary: fleetvault ${result.fleetvault.mibPerSec.toFixed(0)} MiB/s (median ${(r.fleetvault.median / 1000).toFixed(1)} s, peak RSS ${result.fleetvault.peakRssMiB.toFixed(0)} MiB) · ` +
      `jq ${result.jq.mibPerSec.toFixed(0)} MiB/s (median ${(r.jq.median / 1000).toFixed(1)} s, peak RSS ${result.jq.peakRssMiB.toFixed(0)} MiB) · ` +
      `${result.ratio.toFixed(2)}× jq (goal ≥ 1.0×, ≤ 150 MB; ${RUNS} interleaved runs)`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAuditSummary();
