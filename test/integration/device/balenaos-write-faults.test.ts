// The write protocol under faults on a faithful device: killed mid-write (device side or the
// connection), a change made during the write, and the supervisor always running afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { test, expect } from '../../support/context.js';
import { knownHostsFor } from '../../support/ssh.js';
import { balenaOsFleet } from '../../support/balenaos-fleet.js';
import { requireTools } from '../../support/tools.js';
import { rolloutCa } from '../../../src/ca/rollout.js';
import { getCaPublicKey } from '../../../src/ca/public-key.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';
import type { BalenaOsDevice } from '../../support/balenaos-device.js';

requireTools(['gcc', 'jq', 'flock', 'setsid', 'pkill']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = async (what: string, ok: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};

/** Files next to config.json other than config.json and our backup: temp files, fatrw leftovers, leases. */
const leftovers = (d: BalenaOsDevice) => readdirSync(dirname(d.configPath)).filter((x) => x !== 'config.json' && x !== 'config.json.fleetvault.bak');

test('killed at random points (device-side script or the connection): config.json is old or new, valid; the supervisor runs again; no temp file left', { timeout: 1_200_000 }, async ({ vault, balenaos, tmp }) => {
  const trials = Number(process.env.FV_KILL_TRIALS ?? 12); // FV_KILL_TRIALS=50 for the full acceptance run
  const f = await balenaOsFleet(1, balenaos, tmp, () => ({ supervisorIntervalSeconds: 1 }));
  const d = f.devices[0]!;
  // Padding makes the write long enough for kills to land inside it.
  d.stopSupervisor();
  const base = JSON.parse(d.readConfig());
  base.padding = 'x'.repeat(300_000);
  const original = JSON.stringify(base, null, 2) + '\n';
  const kh = knownHostsFor(tmp, [d as never]);
  const ca = await getCaPublicKey({ client: vault.root, mount: vault.layout.sshMount });
  const line = authorizedKeyLine({ ...ca });
  const outcomes = { old: 0, new: 0 };
  for (let trial = 0; trial < trials; trial++) {
    const t0 = Date.now();
    d.stopSupervisor();
    d.writeConfig(original);
    d.startSupervisor();
    // Every other pair of trials kills early (inside the first 150 ms: the old file must survive),
    // the rest anywhere in 2.5 s: on a loaded machine uniform delays all landed after the commit.
    const delay = Math.floor(Math.random() * (trial % 4 < 2 ? 150 : 2500));
    const viaConnection = trial % 2 === 1;
    // The device-side write script (not the hold, not the local ssh whose argv carries the same text).
    const pattern = `^[^ ]*sh -c set -u.umask 077.p='${d.configPath.replace(/[.]/g, '[.]')}'.token='[0-9a-f]+'.new=.*want=`;
    await rolloutCa({
      client: vault.root, mount: vault.layout.sshMount, role: vault.layout.sshRole, caFingerprint: ca.fingerprint,
      devices: [{ name: d.name, host: d.host, port: d.port, configPath: d.configPath }],
      edit: { add: line }, access: { identity: f.opKey, knownHostsFile: kh, leaseSeconds: 5 }, verify: false,
      onWriteSpawn: (_, pid) => {
        if (viaConnection) {
          // The connection dies: the local ssh (mux client) goes away mid-upload or mid-script.
          setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* done already */ } }, delay);
          return;
        }
        const started = Date.now();
        const poll = setInterval(() => {
          let found = false;
          try { execFileSync('pgrep', ['-f', pattern], { stdio: 'ignore' }); found = true; } catch { /* not yet, or done */ }
          if (found || Date.now() - started > 3000) {
            clearInterval(poll);
            setTimeout(() => { try { execFileSync('pkill', ['-KILL', '-f', pattern]); } catch { /* finished */ } }, delay);
          }
        }, 5);
      },
    });
    // The trap or, after SIGKILL, the watchdog (5 s lease) restores the device. When our side dies
    // (the mux client killed) the channel may stay open until the master's ControlPersist (5 s) ends.
    await waitFor(`trial ${trial}: supervisor running and no leftovers (${leftovers(d).join(', ')})`, () => d.supervisorRunning() && leftovers(d).length === 0, 90_000);
    const now = execFileSync(`${dirname(dirname(import.meta.dirname))}/support/balenaos/fatrw/fatrw`, ['read', d.configPath]).toString();
    const parsed = JSON.parse(now); // throws on a truncated file
    expect(parsed.padding).toBe(base.padding);
    const keys = parsed.os.sshKeys as string[];
    if (keys.includes(line)) { expect(keys).toEqual([f.opPub, line]); outcomes.new++; } else { expect(keys).toEqual([f.opPub]); outcomes.old++; }
    console.info(`kill trial ${trial} (${viaConnection ? 'connection' : 'device script'} after ${delay} ms): ${keys.includes(line) ? 'new' : 'old'} in ${Date.now() - t0} ms`);
  }
  console.info(`kill trials: ${JSON.stringify(outcomes)}`);
  expect(outcomes.old, JSON.stringify(outcomes)).toBeGreaterThan(0);
  expect(outcomes.new, JSON.stringify(outcomes)).toBeGreaterThan(0);
});

test('a change made on the device during a slow write is refused, never overwritten; the supervisor runs afterwards', { timeout: 180_000 }, async ({ vault, balenaos, tmp }) => {
  const f = await balenaOsFleet(1, balenaos, tmp, () => ({ supervisorIntervalSeconds: 1 }));
  const d = f.devices[0]!;
  const kh = knownHostsFor(tmp, [d as never]);
  const ca = await getCaPublicKey({ client: vault.root, mount: vault.layout.sshMount });
  d.setSyncDelay(2); // an SD card
  const run = rolloutCa({
    client: vault.root, mount: vault.layout.sshMount, role: vault.layout.sshRole, caFingerprint: ca.fingerprint,
    devices: [{ name: d.name, host: d.host, port: d.port, configPath: d.configPath }],
    edit: { add: authorizedKeyLine({ ...ca }) }, access: { identity: f.opKey, knownHostsFile: kh }, verify: false,
  });
  // The upload has landed and the write is syncing: someone edits config.json now.
  await waitFor('the upload', () => existsSync(`${d.configPath}.fleetvault.new`), 60_000);
  const c = JSON.parse(d.readConfig());
  c.hostname = 'edited-during-write';
  d.writeConfig(JSON.stringify(c));
  const r = await run;
  expect(r.devices[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/changed on the device during the write; refused, nothing overwritten/) });
  d.setSyncDelay(0);
  await waitFor('supervisor running', () => d.supervisorRunning(), 10_000);
  const now = JSON.parse(d.readConfig());
  expect(now.hostname).toBe('edited-during-write');
  expect(now.os.sshKeys).toEqual([f.opPub]);
  expect(leftovers(d)).toEqual([]);
});
