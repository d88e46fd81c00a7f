// The fleet lab benchmark (issue #16 item 5): `fleetvault ca rollout` against N faithful balenaOS
// devices, each behind its own Toxiproxy link (latency, ~1 % of connections reset), next to what
// operators run today, in one interleaved run per RTT:
//   loop      a sequential ssh loop: per device ssh read, jq append, ssh write (stop supervisor,
//             mv, start supervisor); timed on BENCH_LOOP_SAMPLE devices and scaled to N (it is
//             linear by construction, and 100 devices at 600 ms would take ~20 min)
//   pipeline  balena's ssh-key-insert shape: the same per-device step under `xargs -P 10`, with
//             its resumable log ("<uuid> : DONE" lines are skipped)
//   fleetvault ca rollout with verification, supervisor handling and backups, --concurrency C
// Reports wall time, ratios, CPU-seconds per device by side (client / devices / links, from
// cgroups: bench/cgroup-cpu.js), failures, how many edits the supervisor reverted (configs checked
// after each device's next supervisor write-back) and how many supervisor writes the peers overwrote.
//
//   npm run bench:lab                                 100 devices, 150 and 600 ms RTT
//   BENCH_DEVICES=20 BENCH_RTTS=150 node bench/fleet-lab.js
//   BENCH_MODE=resume BENCH_DEVICES=1000 node bench/fleet-lab.js   peak RSS + kill mid-run + resume
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { benchServer } from './server.js';
import { cpuGroups } from './cgroup-cpu.js';
import { getCaPublicKey } from '../dist/ca/public-key.js';
import { authorizedKeyLine } from '../dist/ca/authorized-key.js';
import { saveResult } from './lib.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const MODE = process.env.BENCH_MODE ?? 'compare';
const N = Number(process.env.BENCH_DEVICES ?? (MODE === 'resume' ? 1000 : 100));
const RTTS = (process.env.BENCH_RTTS ?? (MODE === 'resume' ? '150' : '150,600')).split(',').map(Number);
const RESET = Number(process.env.BENCH_RESET_PERCENT ?? 1);
const LOOP_SAMPLE = Math.min(N, Number(process.env.BENCH_LOOP_SAMPLE ?? 10));
const SUPERVISOR_INTERVAL = Number(process.env.BENCH_SUPERVISOR_INTERVAL ?? (MODE === 'resume' ? 600 : 20));
// fleetvault's concurrency per RTT: the longer a device takes, the more of them in flight.
const CONCURRENCY = Object.fromEntries(RTTS.map((r) => [r, Number(process.env[`BENCH_CONCURRENCY_${r}`] ?? process.env.BENCH_CONCURRENCY ?? (r >= 400 ? 100 : 32))]));

/** The lab is TypeScript test support; bundle it once (its paths resolve from test/support). */
async function loadLab(dir) {
  const out = join(dir, 'fleet-lab.mjs');
  await build({
    entryPoints: [join(ROOT, 'test', 'support', 'fleet-lab.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'warning',
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(ROOT, 'test', 'support', 'balenaos-device.ts')).href) },
  });
  return import(pathToFileURL(out).href);
}

// One device, as ssh-key-insert does it (facts from balena-io-experimental/ssh-key-insert:
// jq appends to .os.sshKeys, `systemctl stop resin-supervisor || true`, mv over config.json,
// start again, DONE in a log that a re-run greps to skip the device). Two logins: read, then write.
const STEP = `#!/bin/sh
name=$1 host=$2 port=$3 cfg=$4
grep -q "^$name : DONE" "$LOG" 2>/dev/null && exit 0
o="-i $OP -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$KH -o ConnectTimeout=20 -o LogLevel=ERROR -p $port root@$host"
if ! ssh -n $o "cat $cfg" > "$WORK/$name.json"; then echo "$name : FAIL read" >> "$LOG"; exit 1; fi
jq --arg k "$KEY" '.os.sshKeys += [$k]' "$WORK/$name.json" > "$WORK/$name.new" || { echo "$name : FAIL jq" >> "$LOG"; exit 1; }
ssh $o "systemctl stop resin-supervisor || true; cat > $cfg.new && mv $cfg.new $cfg && systemctl start resin-supervisor || true; echo DONE" < "$WORK/$name.new" | sed "s/^/$name : /" >> "$LOG"
`;

function run(cmd, args, { env, cg, groups, timeFile, onSpawn }) {
  return new Promise((resolve) => {
    const pre = groups ? groups.enter(cg) : '';
    const t0 = process.hrtime.bigint();
    const c = spawn('sh', ['-c', `${pre} exec /usr/bin/time -q -f '%e %U %S %M' -o ${timeFile} "$@"`, 'sh', cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(c);
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    c.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const t = (existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '').trim().split('\n').pop().split(' ').map(Number);
      resolve({ code, ms, out, err, user: t[1], sys: t[2], rssMiB: t[3] / 1024 });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const lines = (f) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);
const hasLine = (d, line) => ((JSON.parse(d.device.readConfig()).os?.sshKeys ?? [])).includes(line);

/** Wait until every device's supervisor wrote config.json back after `since` (s), then count devices missing the line. */
async function revertedAfter(devices, line, since, maxWaitMs) {
  const deadline = Date.now() + maxWaitMs;
  const wrote = (d) => lines(join(d.device.dir, 'supervisor-writes.log')).some((l) => Number(l.split(' ')[0]) > since);
  while (Date.now() < deadline && !devices.every(wrote)) await sleep(500);
  const notWritten = devices.filter((d) => !wrote(d)).length;
  return { reverted: devices.filter((d) => !hasLine(d, line)).length, checked: devices.length, noWriteBackSeen: notWritten };
}

/**
 * Supervisor write-backs a peer threw away: it read config.json, the supervisor wrote its copy
 * (counter n) before the peer stopped it, and the peer's mv put the older copy (counter < n) back.
 */
function lostSupervisorWrites(devices, work, since) {
  let lost = 0;
  for (const d of devices) {
    const read = join(work, `${d.name}.json`);
    if (!existsSync(read)) continue;
    let readN = 0;
    try { readN = JSON.parse(readFileSync(read, 'utf8')).supervisorWrites ?? 0; } catch { continue; }
    const stop = lines(join(d.device.dir, 'systemctl.log')).map((l) => l.split(' ')).find(([t, v]) => Number(t) > since && v === 'stop');
    if (!stop) continue;
    const before = lines(join(d.device.dir, 'supervisor-writes.log')).map((l) => l.split(' ')).filter(([t]) => Number(t) > since && Number(t) < Number(stop[0]));
    if (before.length && Number(before.at(-1)[2]) > readN) {
      lost++;
      if (process.env.BENCH_DEBUG) console.log('lost', d.name, { since, readN, stop, before, writes: lines(join(d.device.dir, 'supervisor-writes.log')).slice(-6), ctl: lines(join(d.device.dir, 'systemctl.log')).slice(-6) });
    }
  }
  return lost;
}

async function compare(ctx) {
  const { lab, groups, env, line, dir } = ctx;
  const results = {};
  const sample = lab.devices.slice(0, LOOP_SAMPLE);
  const sampleFile = join(dir, 'sample.txt');
  writeFileSync(sampleFile, readFileSync(lab.devicesFile, 'utf8').split('\n').slice(0, LOOP_SAMPLE).join('\n') + '\n');
  const step = join(dir, 'step.sh');
  writeFileSync(step, STEP, { mode: 0o755 });
  for (const rtt of RTTS) {
    await lab.shape({ rttMs: rtt, resetPercent: RESET });
    const r = (results[rtt] = { concurrency: CONCURRENCY[rtt], load: [], candidates: {} });
    for (const name of ['fleetvault', 'pipeline', 'loop']) {
      lab.resetConfigs();
      // Idle device background (supervisor write-backs, os-sshkeys polls, the lab's own event loop),
      // measured just before each candidate and subtracted from its window.
      await sleep(1000);
      const idle0 = groups?.seconds('devices');
      await sleep(5000);
      const idleRate = groups ? (groups.seconds('devices') - idle0) / 5 : 0;
      const devices = name === 'loop' ? sample : lab.devices;
      const work = mkdtempSync(join(dir, `${name}-${rtt}-`));
      const kh = join(work, 'known_hosts');
      writeFileSync(kh, readFileSync(lab.knownHosts));
      const log = join(work, 'sshkey.log');
      const peerEnv = { ...env, OP: lab.opKey, KH: kh, KEY: line, WORK: work, LOG: log };
      const cpu0 = groups && { client: groups.seconds('client'), devices: groups.seconds('devices'), links: groups.seconds('links') };
      const since = Date.now() / 1000;
      r.load.push(loadavg()[0]);
      let res;
      if (name === 'fleetvault') {
        res = await run(process.execPath, [CLI, 'ca', 'rollout', '--devices', lab.devicesFile, '--identity', lab.opKey, '--user-known-hosts-file', kh,
          '--journal', join(work, 'journal.jsonl'), '--json', '--concurrency', String(CONCURRENCY[rtt])], { env, cg: 'client', groups, timeFile: join(work, 'time') });
      } else if (name === 'pipeline') {
        res = await run('sh', ['-c', `xargs -P 10 -n 4 ${step} < ${lab.devicesFile}`], { env: peerEnv, cg: 'client', groups, timeFile: join(work, 'time') });
      } else {
        res = await run('sh', ['-c', `while read -r n h p c; do ${step} "$n" "$h" "$p" "$c"; done < ${sampleFile}`], { env: peerEnv, cg: 'client', groups, timeFile: join(work, 'time') });
      }
      await sleep(2000); // device sessions end a moment after the client; let them close
      const windowS = res.ms / 1000 + 2;
      const cpu = groups && {
        client: groups.seconds('client') - cpu0.client,
        devices: Math.max(0, groups.seconds('devices') - cpu0.devices - idleRate * windowS),
        links: groups.seconds('links') - cpu0.links,
      };
      let ok;
      let failed;
      if (name === 'fleetvault') {
        const report = JSON.parse(res.out);
        ok = report.changed + report.already;
        failed = report.devices.filter((d) => d.status === 'failed').map((d) => `${d.name}: ${d.reason}`);
      } else {
        const done = new Set(lines(log).filter((l) => l.endsWith(': DONE')).map((l) => l.split(' ')[0]));
        ok = done.size;
        failed = devices.filter((d) => !done.has(d.name)).map((d) => `${d.name}: ${lines(log).filter((l) => l.startsWith(`${d.name} : FAIL`)).join(', ') || 'no DONE'}`);
      }
      const lost = name === 'fleetvault' ? undefined : lostSupervisorWrites(devices, work, since);
      const withLine = devices.filter((d) => hasLine(d, line)).length;
      const rev = await revertedAfter(devices, line, Date.now() / 1000, (SUPERVISOR_INTERVAL + 5) * 1000);
      const scale = name === 'loop' ? N / devices.length : 1;
      r.candidates[name] = {
        devices: devices.length, wallS: res.ms / 1000, wallScaledToNS: (res.ms / 1000) * scale, exit: res.code, ok, failed: failed.length, failures: failed.slice(0, 10),
        withLineAfterRun: withLine, revertedBySupervisor: rev.reverted - (devices.length - withLine), supervisorWritesOverwritten: lost,
        clientCpuPerDeviceS: cpu ? cpu.client / devices.length : (res.user + res.sys) / devices.length,
        clientCpuRusagePerDeviceS: (res.user + res.sys) / devices.length,
        deviceCpuPerDeviceS: cpu ? cpu.devices / devices.length : null,
        linkCpuPerDeviceS: cpu ? cpu.links / devices.length : null,
        peakRssMiB: res.rssMiB, noWriteBackSeen: rev.noWriteBackSeen, idleDeviceCpuPerS: idleRate,
      };
      rmSync(work, { recursive: true, force: true });
      console.log(`  ${rtt} ms ${name}: ${JSON.stringify(r.candidates[name])}`);
    }
    const c = r.candidates;
    r.fleetvaultVsLoop = c.loop.wallScaledToNS / c.fleetvault.wallS;
    r.fleetvaultVsPipeline = c.pipeline.wallS / c.fleetvault.wallS;
    r.clientCpuVsPipeline = c.fleetvault.clientCpuPerDeviceS / c.pipeline.clientCpuPerDeviceS;
    console.log(`fleet lab ${N} devices @ ${rtt} ms RTT, ${RESET} % resets: fleetvault (--concurrency ${r.concurrency}) ${c.fleetvault.wallS.toFixed(1)} s · pipeline ${c.pipeline.wallS.toFixed(1)} s · loop ${c.loop.wallScaledToNS.toFixed(0)} s (${LOOP_SAMPLE} timed) · ${r.fleetvaultVsLoop.toFixed(1)}× loop · ${r.fleetvaultVsPipeline.toFixed(2)}× pipeline · client CPU/device ${c.fleetvault.clientCpuPerDeviceS.toFixed(3)} vs ${c.pipeline.clientCpuPerDeviceS.toFixed(3)} s (${r.clientCpuVsPipeline.toFixed(2)}×)`);
  }
  return results;
}

/** 1,000 devices: peak RSS, then a run killed half-way (SIGKILL) and a re-run from its journal. */
async function resume(ctx) {
  const { lab, groups, env, line, dir } = ctx;
  await lab.shape({ rttMs: RTTS[0], resetPercent: RESET });
  const journal = join(dir, 'journal.jsonl');
  const kh = join(dir, 'known_hosts.fv');
  writeFileSync(kh, readFileSync(lab.knownHosts));
  const args = [CLI, 'ca', 'rollout', '--devices', lab.devicesFile, '--identity', lab.opKey, '--user-known-hosts-file', kh, '--journal', journal, '--json', '--concurrency', String(CONCURRENCY[RTTS[0]])];
  const killAt = Math.floor(N / 2);
  let killedAt = 0;
  const first = await run(process.execPath, args, {
    env, cg: 'client', groups, timeFile: join(dir, 'time1'),
    onSpawn: (c) => {
      const poll = setInterval(() => {
        if (lines(journal).length < killAt) return;
        clearInterval(poll);
        killedAt = lines(journal).length;
        // /usr/bin/time's child is the fleetvault process: SIGKILL it (no cleanup of its own).
        const kids = readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
        for (const k of kids) process.kill(Number(k), 'SIGKILL');
      }, 200);
      c.once('close', () => clearInterval(poll));
    },
  });
  const second = await run(process.execPath, args, { env, cg: 'client', groups, timeFile: join(dir, 'time2') });
  const report = JSON.parse(second.out);
  const withLine = lab.devices.filter((d) => hasLine(d, line)).length;
  const result = {
    devices: N, rttMs: RTTS[0], concurrency: CONCURRENCY[RTTS[0]],
    killedRun: { wallS: first.ms / 1000, journalLinesAtKill: killedAt, peakRssMiB: first.rssMiB },
    rerun: { wallS: second.ms / 1000, fromJournal: report.devices.filter((d) => d.fromJournal).length, changed: report.changed, already: report.already, failed: report.failed, peakRssMiB: second.rssMiB, exit: second.code },
    devicesWithLine: withLine,
    peakRssMiB: Math.max(first.rssMiB, second.rssMiB),
    failures: report.devices.filter((d) => d.status === 'failed').slice(0, 10).map((d) => `${d.name}: ${d.reason}`),
  };
  console.log(`fleet lab resume, ${N} devices @ ${RTTS[0]} ms: killed at ${killedAt} journal lines after ${result.killedRun.wallS.toFixed(0)} s; re-run ${result.rerun.wallS.toFixed(0)} s took ${result.rerun.fromJournal} from the journal, changed ${result.rerun.changed}, already ${result.rerun.already}, failed ${result.rerun.failed}; ${withLine}/${N} devices hold the line; peak RSS ${result.peakRssMiB.toFixed(0)} MiB`);
  return result;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fv-labbench-'));
  // Vault first, in our own cgroup-less place: its signing is neither client nor device work.
  const s = await benchServer();
  const groups = cpuGroups(`fv-labbench-${process.pid}`, ['client', 'devices', 'links']);
  if (!groups) console.warn('fleet lab: no writable cgroup v2; CPU per side falls back to getrusage of the client (daemonized ssh masters are missed)');
  let lab;
  try {
    const { startFleetLab } = await loadLab(dir);
    // From here on, what this process starts (device listeners, sshd sessions, supervisors) is device side.
    groups?.move('devices', process.pid);
    const t0 = Date.now();
    lab = await startFleetLab({ n: N, tmp: dir, link: { rttMs: RTTS[0], resetPercent: RESET }, supervisorIntervalSeconds: SUPERVISOR_INTERVAL, startConcurrency: 4 });
    groups?.move('links', lab.toxiproxy.pid);
    console.log(`fleet lab: ${N} devices up in ${((Date.now() - t0) / 1000).toFixed(0)} s, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    const ca = await getCaPublicKey({ client: s.root, mount: 'ssh-client-signer' });
    const line = authorizedKeyLine({ ...ca });
    // TMPDIR inside the bench dir: a SIGKILLed rollout (resume mode) cannot remove its verification
    // key dir or control sockets itself; the bench's cleanup does.
    mkdirSync(join(dir, 'tmp'));
    const env = { ...s.env, FLEETVAULT_SIGNING_CACHE: '0', TMPDIR: join(dir, 'tmp') };
    const ctx = { lab, groups, env, line, dir };
    const loadBefore = loadavg();
    const results = MODE === 'resume' ? await resume(ctx) : await compare(ctx);
    const out = { mode: MODE, devices: N, resetPercent: RESET, supervisorIntervalSeconds: SUPERVISOR_INTERVAL, loopSample: LOOP_SAMPLE, loadBefore, loadAfter: loadavg(), cores: (await import('node:os')).cpus().length, results };
    saveResult(MODE === 'resume' ? `fleet-lab-resume-${N}` : `fleet-lab-${N}`, out);
    return out;
  } finally {
    await lab?.stop();
    await s.close();
    groups?.remove(process.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
export { main as benchFleetLab };
