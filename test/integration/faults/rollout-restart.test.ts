// OpenBao SIGKILLed during a 50-device CA rollout, then the operator's rollout process killed too
// (the laptop dies); OpenBao restarted and unsealed; the same command resumes from its journal.
// Every device ends with the CA line exactly once and was written exactly once: its backup
// (.fleetvault.bak, taken by each write) still holds the original bytes.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { test, expect, slugFor, testLayout, layoutEnv } from '../../support/context.js';
import { startPersistentOpenBao } from '../../support/persistent-openbao.js';
import { pool } from '../../support/faults.js';
import { CLI, runCli } from '../../support/cli.js';
import { bootstrapVault } from '../../../src/vault/bootstrap.js';
import { defaultDeviceConfig, type Device } from '../../../src/dev/device.js';
import { getCaPublicKey } from '../../../src/ca/public-key.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';
import { editSshKeys } from '../../../src/ca/config-json.js';

const DEVICES = 50;

function journalLines(path: string): { device: string; status: string }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => {
    // Device entries only (the journal's first line is its hold key).
    try { const e = JSON.parse(l) as { device?: string; status: string }; return e.device ? [e as { device: string; status: string }] : []; } catch { return []; }
  });
}

test('OpenBao restarted mid rollout of 50 devices: resume from the journal, every device changed exactly once', async ({ tmp, devices }) => {
  const bao = await startPersistentOpenBao({ dir: join(tmp, 'bao') });
  try {
    const layout = testLayout(slugFor('rollout restart'));
    await bootstrapVault({ client: bao.root, layout, factoryCidrs: ['127.0.0.0/8'] });
    const opKey = join(tmp, 'operator');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
    const opLine = readFileSync(`${opKey}.pub`, 'utf8').trim();
    const devs: Device[] = await pool(Array.from({ length: DEVICES }, (_, i) => i), 8, (i) => {
      const config = defaultDeviceConfig(`r${i}`);
      (config.os as { sshKeys: string[] }).sshKeys = [opLine];
      return devices.start({ name: `r${i}`, config });
    });
    const originals = new Map(devs.map((d) => [d.name, d.readConfig()]));
    const devicesFile = join(tmp, 'fleet.txt');
    writeFileSync(devicesFile, devs.map((d) => `${d.name} ${d.host} ${d.port} ${d.configPath}`).join('\n') + '\n');
    // (knownHostsFor names its file after every port: too long a name for 50 devices.)
    const kh = join(tmp, 'known_hosts');
    writeFileSync(kh, devs.map((d) => d.knownHostsLine).join('\n') + '\n');
    const journal = join(tmp, 'rollout.jsonl');
    const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken, ...layoutEnv(layout) };
    const args = ['ca', 'rollout', '--devices', devicesFile, '--identity', opKey, '--journal', journal,
      '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes', '--concurrency', '4', '--json'];

    // Run 1: kill OpenBao after 10 devices, the rollout process itself after 25.
    // A SIGKILLed rollout cannot remove its verification key dir or control sockets: give it a
    // TMPDIR the test removes, short enough that the sockets stay in it (sun_path; a long TMPDIR
    // makes fleetvault fall back to /tmp).
    const killedTmp = mkdtempSync(join(tmpdir(), 'fv-k-'));
    onTestFinished(() => rmSync(killedTmp, { recursive: true, force: true }));
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env, TMPDIR: killedTmp }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr1 = '';
    child.stderr.on('data', (d) => (stderr1 += d));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let atBaoKill = -1;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const n = journalLines(journal).length;
      if (atBaoKill < 0 && n >= 10) { atBaoKill = n; await bao.node.kill('SIGKILL'); }
      if (n >= 25) { child.kill('SIGKILL'); break; }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`rollout run 1 ended early (${n} devices): ${stderr1}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await exited;
    const after1 = journalLines(journal);
    // The rollout kept going while Vault was down: its one certificate was signed up front.
    expect(after1.length).toBeGreaterThan(atBaoKill);
    expect(after1.length).toBeLessThan(DEVICES);
    expect(after1.every((e) => e.status === 'changed')).toBe(true);

    await bao.restart();
    // No pause: the killed run's ssh children may still be finishing a write (the re-run waits for
    // its lock), and devices it held but never wrote are its own holds, which the re-run takes over.
    const r = await runCli(args, { env, timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { changed: number; already: number; failed: number; skipped: number; devices: { name: string; status: string; fromJournal?: boolean }[] };
    expect(report.failed).toBe(0);
    expect(report.skipped).toBe(0);
    expect(report.devices.filter((d) => d.fromJournal)).toHaveLength(after1.length);

    const ca = await getCaPublicKey({ client: bao.root, mount: layout.sshMount });
    const line = authorizedKeyLine({ ...ca });
    const entries = journalLines(journal);
    for (const d of devs) {
      const original = originals.get(d.name)!;
      // config.json is exactly the one edit of the original …
      expect(d.readConfig(), d.name).toBe(editSshKeys(original, { add: line }).text);
      expect((JSON.parse(d.readConfig()) as { os: { sshKeys: string[] } }).os.sshKeys.filter((k) => k === line)).toHaveLength(1);
      // … written once: a second write would have backed up the already-edited file.
      expect(readFileSync(`${d.configPath}.fleetvault.bak`, 'utf8'), d.name).toBe(original);
      // The journal finishes each device once: 'changed', or 'already' for a device whose write
      // landed in run 1 but whose journal line did not (in flight at the kill).
      const mine = entries.filter((e) => e.device === d.name);
      expect(mine, d.name).toHaveLength(1);
      expect(['changed', 'already']).toContain(mine[0]!.status);
    }
    const already = entries.filter((e) => e.status === 'already').length;
    expect(already).toBeLessThanOrEqual(4); // at most --concurrency devices were in flight
    console.log(`rollout: OpenBao killed at ${atBaoKill} devices, rollout killed at ${after1.length}; re-run finished ${DEVICES - after1.length} (${already} already written by the killed run)`);
  } finally {
    await bao.stop();
  }
}, 240_000);
