// `fleetvault ca rollout` to N real sshd devices at concurrency 32 against what operators run
// today: a sequential shell loop that reads config.json over ssh, appends the key with jq and
// writes it back (balena's ssh-key-insert style). fleetvault also verifies every device with a
// certificate login and keeps a backup; the loop does neither. Reports wall time and peak RSS.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchServer } from './server.js';
import { startDevice, defaultDeviceConfig } from '../dist/dev/device.js';
import { getCaPublicKey } from '../dist/ca/public-key.js';
import { authorizedKeyLine } from '../dist/ca/authorized-key.js';
import { saveResult } from './lib.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const N = Number(process.env.BENCH_DEVICES ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);

function timed(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    // GNU time reports the peak RSS of the measured process (-f %M, KiB).
    const c = spawn('/usr/bin/time', ['-f', '%M', cmd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const rssKiB = Number(err.trim().split('\n').pop());
      if (code !== 0 && code !== 2) reject(new Error(`${cmd} exited ${code}: ${err.slice(-400)}`));
      else resolve({ ms, rssMiB: rssKiB / 1024 });
    });
  });
}

export async function benchRollout() {
  const s = await benchServer();
  const devices = [];
  try {
    const op = join(s.dir, 'op');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', op]);
    const opPub = readFileSync(`${op}.pub`, 'utf8').trim();
    for (let i = 0; i < N; i++) {
      const config = defaultDeviceConfig(`bench${i}`);
      config.os.sshKeys = [opPub];
      devices.push(await startDevice({ dir: join(s.dir, `d${i}`), name: `bench${i}`, host: `127.0.${10 + Math.floor(i / 200)}.${2 + (i % 200)}`, config }));
    }
    const initial = devices.map((d) => d.readConfig());
    const kh = join(s.dir, 'known_hosts');
    writeFileSync(kh, devices.map((d) => d.knownHostsLine).join('\n') + '\n');
    const list = join(s.dir, 'devices.txt');
    writeFileSync(list, devices.map((d) => `${d.name} ${d.host} ${d.port} ${d.configPath}`).join('\n') + '\n');
    const ca = await getCaPublicKey({ client: s.root, mount: 'ssh-client-signer' });
    const line = authorizedKeyLine({ ...ca });
    const loop = join(s.dir, 'loop.sh');
    writeFileSync(loop, `#!/bin/sh
# What operators run today: one device after the other, read, append with jq, write back.
set -e
while read -r name host port path; do
  o="-i ${op} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=${kh} -p $port root@$host"
  ssh -n $o "cat $path" | jq --arg k "$KEY" '.os.sshKeys += [$k]' > "$TMPF"
  ssh $o "cat > $path.new && mv $path.new $path" < "$TMPF"
done < ${list}
`);
    const reset = () => devices.forEach((d, i) => writeFileSync(d.configPath, initial[i]));
    const samples = { fleetvault: [], loop: [] };
    for (let r = 0; r < RUNS; r++) {
      reset();
      const jdir = join(s.dir, `j${r}`);
      mkdirSync(jdir);
      samples.fleetvault.push(await timed(process.execPath, [CLI, 'ca', 'rollout', '--devices', list, '--identity', op, '--concurrency', '32',
        '--user-known-hosts-file', kh, '--journal', join(jdir, 'journal'), '--json'], s.env));
      const ok = devices.filter((d) => d.readConfig().includes(ca.fingerprint)).length;
      if (ok !== N) throw new Error(`fleetvault rolled out to ${ok}/${N}`);
      reset();
      samples.loop.push(await timed('sh', [loop], { ...process.env, KEY: line, TMPF: join(s.dir, 'tmp.json') }));
    }
    const med = (xs) => xs.map((x) => x.ms).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const result = {
      devices: N, runs: RUNS, concurrency: 32,
      fleetvaultMs: med(samples.fleetvault), loopMs: med(samples.loop),
      speedup: med(samples.loop) / med(samples.fleetvault),
      fleetvaultPeakRssMiB: Math.max(...samples.fleetvault.map((x) => x.rssMiB)),
      goal: '≥ 15× faster, ≤ 150 MB RSS',
    };
    saveResult('rollout', result);
    console.log(`rollout ${N} devices: fleetvault (concurrency 32, verified) ${(result.fleetvaultMs / 1000).toFixed(1)} s · sequential ssh+jq loop ${(result.loopMs / 1000).toFixed(1)} s · ${result.speedup.toFixed(1)}× faster · peak RSS ${result.fleetvaultPeakRssMiB.toFixed(0)} MiB`);
    return result;
  } finally {
    await Promise.all(devices.map((d) => d.stop()));
    await s.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRollout();
