// Kill the remote write at random points: config.json is always the old or the new valid JSON.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { knownHostsFor } from '../../support/ssh.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';
import { rolloutCa } from '../../../src/ca/rollout.js';
import { getCaPublicKey } from '../../../src/ca/public-key.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';

test('50 random kills of the remote write never leave a truncated or empty config.json', async ({ vault, devices, tmp }) => {
  const opKey = join(tmp, 'operator');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
  const config = defaultDeviceConfig('victim');
  (config.os as { sshKeys: string[] }).sshKeys = [readFileSync(`${opKey}.pub`, 'utf8').trim()];
  // Padding makes the write long enough for kills to land in the middle of it.
  (config as Record<string, unknown>).padding = 'x'.repeat(200_000);
  const d = await devices.start({ name: 'victim', config });
  const original = d.readConfig();
  const kh = knownHostsFor(tmp, [d]);
  const ca = await getCaPublicKey({ client: vault.root, mount: vault.layout.sshMount });
  const line = authorizedKeyLine({ ...ca });
  const outcomes = { old: 0, new: 0 };
  for (let trial = 0; trial < 50; trial++) {
    // A killed write leaves its lease until the device-side watchdog (1 s here) cleans up.
    for (let i = 0; i < 100 && existsSync(`${d.configPath}.fleetvault.lease`); i++) await new Promise((r) => setTimeout(r, 50));
    writeFileSync(d.configPath, original);
    // The write (upload, two syncs, backup, rename) takes a few hundred ms here: spread the kills over it.
    const delay = Math.floor(Math.random() * 1500);
    await rolloutCa({
      client: vault.root, mount: vault.layout.sshMount, role: vault.layout.sshRole, caFingerprint: ca.fingerprint,
      devices: [{ name: d.name, host: d.host, port: d.port, configPath: d.configPath }],
      edit: { add: line }, access: { identity: opKey, knownHostsFile: kh, leaseSeconds: 1 }, verify: false,
      onWriteSpawn: () => {
        // Wait for the remote shell doing the write to exist, then kill it (and what it runs)
        // a random moment later: before, during or after the upload, backup, sync or rename.
        // The remote shell (`bash -c set -eu<newline>p='…'`), not the local ssh client whose argv
        // carries the same script; the path keeps other tests' writes out of reach.
        const pattern = `^[^ ]*sh -c set -u.umask 077.p='${d.configPath.replace(/[.]/g, '[.]')}'.token='[0-9a-f]+'.new=.*want=`;
        const started = Date.now();
        const poll = setInterval(() => {
          let found = false;
          try { execFileSync('pgrep', ['-f', pattern], { stdio: 'ignore' }); found = true; } catch { /* not yet, or done */ }
          if (found || Date.now() - started > 3000) {
            clearInterval(poll);
            setTimeout(() => { try { execFileSync('pkill', ['-KILL', '-f', pattern]); } catch { /* finished */ } }, delay);
          }
        }, 2);
      },
    });
    await new Promise((r) => setTimeout(r, 30));
    const now = readFileSync(d.configPath, 'utf8');
    expect(now.length, `trial ${trial} (kill after ${delay}ms): empty file`).toBeGreaterThan(0);
    const parsed = JSON.parse(now); // throws on a truncated file
    const keys = parsed.os.sshKeys as string[];
    if (keys.includes(line)) outcomes.new++;
    else { expect(now).toBe(original); outcomes.old++; }
  }
  // Both outcomes must actually occur, or the kills did not land mid-write.
  expect(outcomes.old).toBeGreaterThan(0);
  expect(outcomes.new).toBeGreaterThan(0);
}, 240_000);
