// The engineer's path, in one interleaved run (A B C … A B C …, medians): cold start, `cert sign`
// against the official CLI, `fleetvault ssh <dev> -- true` against its floor (the official CLI's
// sign + plain ssh with a certificate), and the reuse paths (`ssh --agent`, the ssh-config
// ProxyCommand) against a fresh login. Node commands run twice: with NODE_EXTRA_CA_CERTS as this
// environment sets it for every process (~70 ms per Node start, nothing for Go/C binaries) and
// without, as most users have it. Prints the ratios next to their goals.
//
//   npm run bench:engineer              measure, print, write bench/results/engineer-path.json
//   npm run bench:check                 the same, then fail (exit 1) when a ratio is >10% above
//                                       bench/baseline/engineer-path.json (not in CI: noisy machines)
//   node bench/engineer-path.js --save-baseline    measure and store the baseline
// BENCH_RUNS (default 10) sets the rounds.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchServer } from './server.js';
import { interleave, saveResult, timeCommand, fmt } from './lib.js';
import { startDevice, defaultDeviceConfig } from '../dist/dev/device.js';

const CLI = fileURLToPath(new URL('../dist/bin.cjs', import.meta.url));
const BASELINE = fileURLToPath(new URL('./baseline/engineer-path.json', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const TOLERANCE = 1.10;

/** Ratio goals: every ratio is "lower is better". */
export const GOALS = {
  'cert sign / bao write': 0.80,
  'ssh -- true / (bao write + plain ssh)': 1.15,
  '--help / node -e 0': 1.30,
  'ssh --agent reuse / fresh ssh': 1.0,
  'ssh-config reuse / fresh ssh': 1.0,
};

export async function benchEngineerPath() {
  const s = await benchServer();
  const home = join(s.dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  let device;
  let agent;
  try {
    const base = { ...s.env, HOME: home };
    const line = execFileSync(process.execPath, [CLI, 'ca', 'authorized-key'], { env: base }).toString().trim();
    const config = defaultDeviceConfig('bench');
    config.os.sshKeys = [line];
    device = await startDevice({ dir: join(s.dir, 'device'), name: 'bench', host: '127.0.0.1', config });
    const kh = join(s.dir, 'known_hosts');
    writeFileSync(kh, device.knownHostsLine + '\n');
    const sock = join(s.dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const key = join(s.dir, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    execFileSync(process.execPath, [CLI, 'cert', 'sign', '--public-key', `${key}.pub`], { env: base });
    const cfg = join(s.dir, 'ssh_config');
    writeFileSync(cfg, execFileSync(process.execPath, [CLI, 'ssh-config', '--hosts', device.host], { env: base }));

    const hostOpts = ['--port', String(device.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes'];
    const sshOpts = ['-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR'];
    const extra = process.env.NODE_EXTRA_CA_CERTS;
    const variants = extra ? { '': base, ' [no NODE_EXTRA_CA_CERTS]': { ...base, NODE_EXTRA_CA_CERTS: undefined } } : { ' [no NODE_EXTRA_CA_CERTS]': base };
    const clean = (env) => Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
    const candidates = {
      'bao write': () => timeCommand(s.bin, ['write', '-field=signed_key', 'ssh-client-signer/sign/engineer', `public_key=@${key}.pub`, 'valid_principals=root'], { env: base }),
      'plain ssh': () => timeCommand('ssh', ['-i', key, '-o', `CertificateFile=${key}-cert.pub`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', ...sshOpts, '-p', String(device.port), '-l', 'root', device.host, 'true'], { env: base }),
    };
    for (const [suffix, raw] of Object.entries(variants)) {
      const env = clean(raw);
      const agentEnv = { ...env, SSH_AUTH_SOCK: sock };
      candidates[`node -e 0${suffix}`] = () => timeCommand(process.execPath, ['-e', '0'], { env });
      candidates[`--help${suffix}`] = () => timeCommand(process.execPath, [CLI, '--help'], { env });
      // Reported beside it: what the pre-rendered help skips (yargs and the bundle), i.e. the cold
      // start of every other command before its own work.
      candidates[`--help via yargs${suffix}`] = () => timeCommand(process.execPath, [CLI, '--help'], { env: { ...env, FLEETVAULT_FAST_HELP: '0' } });
      candidates[`--version${suffix}`] = () => timeCommand(process.execPath, [CLI, '--version'], { env });
      candidates[`cert sign${suffix}`] = () => timeCommand(process.execPath, [CLI, 'cert', 'sign', '--public-key', `${key}.pub`, '--out', join(s.dir, 'fv-cert.pub')], { env });
      candidates[`fresh ssh${suffix}`] = () => timeCommand(process.execPath, [CLI, 'ssh', device.host, ...hostOpts, '--', 'true'], { env });
      candidates[`ssh --agent reuse${suffix}`] = () => timeCommand(process.execPath, [CLI, 'ssh', device.host, '--agent', ...hostOpts, '--', 'true'], { env: agentEnv });
      candidates[`ssh-config reuse${suffix}`] = () => timeCommand('ssh', ['-F', cfg, ...sshOpts, '-p', String(device.port), device.host, 'true'], { env: agentEnv });
    }
    const loadBefore = loadavg()[0];
    const r = await interleave(candidates, RUNS);
    const loadAfter = loadavg()[0];
    const m = (n) => r[n].median;
    const ratios = {};
    for (const suffix of Object.keys(variants)) {
      ratios[`cert sign / bao write${suffix}`] = m(`cert sign${suffix}`) / m('bao write');
      ratios[`ssh -- true / (bao write + plain ssh)${suffix}`] = m(`fresh ssh${suffix}`) / (m('bao write') + m('plain ssh'));
      ratios[`--help / node -e 0${suffix}`] = m(`--help${suffix}`) / m(`node -e 0${suffix}`);
      ratios[`--help via yargs / node -e 0${suffix}`] = m(`--help via yargs${suffix}`) / m(`node -e 0${suffix}`);
      ratios[`--version / node -e 0${suffix}`] = m(`--version${suffix}`) / m(`node -e 0${suffix}`);
      ratios[`ssh --agent reuse / fresh ssh${suffix}`] = m(`ssh --agent reuse${suffix}`) / m(`fresh ssh${suffix}`);
      ratios[`ssh-config reuse / fresh ssh${suffix}`] = m(`ssh-config reuse${suffix}`) / m(`fresh ssh${suffix}`);
    }
    const result = { runs: RUNS, node: process.version, load: [loadBefore, loadAfter], results: r, ratios, goals: GOALS };
    saveResult('engineer-path', result);
    console.log(`engineer path: ${RUNS} interleaved runs, Node ${process.version}, load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} (2 cores)`);
    for (const [n, v] of Object.entries(r)) console.log(`  ${n.padEnd(42)} median ${fmt(v.median).padStart(10)}   p90 ${fmt(v.p90).padStart(10)}`);
    for (const [n, v] of Object.entries(ratios)) {
      const goal = GOALS[n.replace(/ \[.*\]$/, '')];
      console.log(`  ${n.padEnd(62)} ${v.toFixed(2)}×  ${goal === undefined ? 'reported' : `goal ≤ ${goal.toFixed(2)}× ${v <= goal ? 'met' : 'MISSED'}`}`);
    }
    return result;
  } finally {
    agent?.kill();
    await device?.stop();
    await s.close();
  }
}

/** Ratios more than 10 % above the stored baseline (a missing ratio in the baseline is skipped). */
export function regressions(ratios, baseline) {
  return Object.entries(ratios)
    .filter(([n, v]) => typeof baseline[n] === 'number' && v > baseline[n] * TOLERANCE)
    .map(([n, v]) => `${n}: ${v.toFixed(2)}× vs baseline ${baseline[n].toFixed(2)}× (+${((v / baseline[n] - 1) * 100).toFixed(0)}%)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { ratios } = await benchEngineerPath();
  if (process.argv.includes('--save-baseline')) {
    mkdirSync(join(BASELINE, '..'), { recursive: true });
    writeFileSync(BASELINE, JSON.stringify({ at: new Date().toISOString(), node: process.version, load: loadavg()[0], ratios }, null, 2) + '\n');
    console.log(`baseline written to ${BASELINE}`);
  } else if (process.argv.includes('--check')) {
    if (!existsSync(BASELINE)) {
      console.error(`no baseline at ${BASELINE}: run node bench/engineer-path.js --save-baseline first`);
      process.exitCode = 1;
    } else {
      const bad = regressions(ratios, JSON.parse(readFileSync(BASELINE, 'utf8')).ratios);
      if (bad.length) {
        console.error(`bench:check failed: more than ${Math.round((TOLERANCE - 1) * 100)}% slower than the baseline:\n  ${bad.join('\n  ')}`);
        process.exitCode = 1;
      } else console.log('bench:check ok: no ratio more than 10% above the baseline');
    }
  }
}
