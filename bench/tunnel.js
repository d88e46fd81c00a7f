// `fleetvault ssh <uuid> -- …` through balena's tunnel (the tunnel stand-in: TLS + CONNECT, then
// the device's sshd) against `--host` straight to the same device. Both sign a fresh certificate
// each run. Reported: time to the first byte of the remote command's output (`-- echo ready`)
// and the whole run of `-- true`. The stand-ins are the test suite's own (test/support), bundled
// with esbuild on the fly; on loopback the difference is fleetvault's own cost (the ProxyCommand
// start, the API lookup, the preflight CONNECT), not network latency.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { benchServer } from './server.js';
import { startDevice, defaultDeviceConfig } from '../dist/dev/device.js';
import { getCaPublicKey } from '../dist/ca/public-key.js';
import { authorizedKeyLine } from '../dist/ca/authorized-key.js';
import { interleave, saveResult, fmt } from './lib.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

/** ms until the first stdout byte, and until exit. Rejects on a non-zero exit. */
function ttfb(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first;
    let err = '';
    const c = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.on('data', () => { first ??= Number(process.hrtime.bigint() - t0) / 1e6; });
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => {
      const total = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`fleetvault ${args.join(' ')} exited ${code}: ${err.slice(-400)}`));
      else resolve({ first: first ?? total, total });
    });
  });
}

export async function benchTunnel() {
  const s = await benchServer();
  const support = join(s.dir, 'support.mjs');
  await build({ entryPoints: [fileURLToPath(new URL('../test/support/balena-fleet.ts', import.meta.url))], bundle: true, platform: 'node', format: 'esm', outfile: support, packages: 'external', logLevel: 'error' });
  const { startBalenaFleet } = await import(support);
  const fleet = await startBalenaFleet(s.dir);
  let device;
  try {
    const ca = await getCaPublicKey({ client: s.root, mount: 'ssh-client-signer' });
    const config = defaultDeviceConfig('bench');
    config.os.sshKeys = [authorizedKeyLine({ publicKey: ca.publicKey, fingerprint: ca.fingerprint, mount: ca.mount })];
    device = await startDevice({ dir: join(s.dir, 'device'), name: 'bench', host: '127.0.0.1', config });
    const b = fleet.add(device);
    mkdirSync(fleet.env.HOME, { recursive: true });
    const kh = join(s.dir, 'known_hosts');
    writeFileSync(kh, `${b.uuid}.balena ${device.hostPublicKey}\n${device.knownHostsLine}\n`);
    const env = { ...s.env, ...fleet.env };
    const common = ['--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes'];
    const via = {
      tunnel: ['ssh', b.uuid, ...common],
      direct: ['ssh', 'bench', '--host', device.host, '--port', String(device.port), ...common],
    };
    const firstByte = {};
    const whole = {};
    for (const [name, args] of Object.entries(via)) {
      firstByte[`${name} first byte`] = async () => (await ttfb([...args, '--', 'echo', 'ready'], env)).first;
      whole[`${name} -- true`] = async () => (await ttfb([...args, '--', 'true'], env)).total;
    }
    const r = await interleave({ ...firstByte, ...whole }, RUNS);
    const result = { runs: RUNS, results: r, note: 'loopback; tunnel = TLS + CONNECT stand-in, ProxyCommand `fleetvault tunnel`' };
    saveResult('tunnel', result);
    console.log(`tunnel vs direct (${RUNS} interleaved runs, medians): first byte ${fmt(r['tunnel first byte'].median)} vs ${fmt(r['direct first byte'].median)}; ` +
      `whole \`-- true\` ${fmt(r['tunnel -- true'].median)} vs ${fmt(r['direct -- true'].median)}`);
    return result;
  } finally {
    await device?.stop();
    await fleet.stop();
    await s.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchTunnel();
