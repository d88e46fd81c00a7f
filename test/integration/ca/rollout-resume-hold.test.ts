// The operator's rollout dies (laptop off, SIGKILL) after a device's hold — the supervisor stopped,
// config.json read — and before its write reached the device. The device keeps that hold until its
// watchdog fires (the lease, 120 s by default). The re-run of the same command (same journal) must
// take its own earlier hold over and finish the device, supervisor running again; anyone else's
// hold (another journal: another operator or run) is still refused.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { test, expect } from '../../support/context.js';
import { CLI, runCli } from '../../support/cli.js';
import { balenaOsFleet } from '../../support/balenaos-fleet.js';
import { requireTools } from '../../support/tools.js';
import { takePidLock } from '../../../src/fs/pid-lock.js';

requireTools(['gcc', 'jq', 'flock', 'setsid']);

/** An `ssh` first on PATH that kills the rollout (its parent) instead of starting the write. */
function dieAtWrite(tmp: string): string {
  const dir = join(tmp, 'die-at-write');
  mkdirSync(dir);
  const real = execPathOf('ssh');
  // The write script is the only one that carries the expected hash (expect='…').
  writeFileSync(join(dir, 'ssh'), `#!/bin/sh\nfor a in "$@"; do case "$a" in *"expect='"*) kill -9 $PPID; exit 255 ;; esac; done\nexec ${real} "$@"\n`);
  chmodSync(join(dir, 'ssh'), 0o755);
  return dir;
}

function execPathOf(tool: string): string {
  for (const d of (process.env.PATH ?? '').split(':')) if (d && existsSync(join(d, tool))) return join(d, tool);
  throw new Error(`${tool} not on PATH`);
}

async function killedAtWrite(args: string[], env: Record<string, string>, shim: string): Promise<string> {
  // A SIGKILLed rollout cannot remove its key dir or control sockets: a TMPDIR the test removes,
  // short enough for the sockets' sun_path.
  const killedTmp = mkdtempSync(join(tmpdir(), 'fv-k-'));
  onTestFinished(() => rmSync(killedTmp, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, TMPDIR: killedTmp, PATH: `${shim}:${process.env.PATH}` }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const signal = await new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
  expect(signal, err).toBe('SIGKILL');
  return err;
}

test('a rollout killed between hold and write: the re-run takes its own hold over and finishes; another run\'s hold is refused', { timeout: 180_000 }, async ({ vault, balenaos, tmp }) => {
  const f = await balenaOsFleet(2, balenaos, tmp, () => ({ supervisorIntervalSeconds: 1 }));
  const [mine, theirs] = f.devices as [typeof f.devices[0], typeof f.devices[0]];
  const kh = join(tmp, 'known_hosts');
  const fileOf = (d: typeof mine) => {
    const p = join(tmp, `${d.name}.txt`);
    writeFileSync(p, `${d.name} ${d.host} ${d.port} ${d.configPath}\n`);
    return p;
  };
  const args = (d: typeof mine, journal: string) => ['ca', 'rollout', '--devices', fileOf(d), '--identity', f.opKey, '--user-known-hosts-file', kh,
    '--journal', join(tmp, journal), '--json'];
  const shim = dieAtWrite(tmp);

  // Run 1 dies right after the hold: the supervisor is stopped and the lease is on the device.
  await killedAtWrite(args(mine, 'a.jsonl'), vault.env, shim);
  expect(existsSync(`${mine.configPath}.fleetvault.lease`)).toBe(true);
  expect(mine.supervisorRunning()).toBe(false);

  // The same command again: done, not "another write holds the lock".
  const again = await runCli(args(mine, 'a.jsonl'), { env: vault.env, timeoutMs: 120_000 });
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ changed: 1, failed: 0 });
  expect(mine.supervisorRunning()).toBe(true);
  expect(existsSync(`${mine.configPath}.fleetvault.lease`)).toBe(false);
  expect((JSON.parse(mine.readConfig()) as { os: { sshKeys: string[] } }).os.sshKeys.filter((k) => k.startsWith('cert-authority'))).toHaveLength(1);
  expect(statSync(mine.configPath).mode & 0o777).toBe(0o640);
  expect(readFileSync(`${mine.configPath}.fleetvault.bak`, 'utf8')).not.toContain('cert-authority');

  // A hold made by another journal's run is someone else's: refused, saying for how long.
  await killedAtWrite(args(theirs, 'b.jsonl'), vault.env, shim);
  const other = await runCli(args(theirs, 'c.jsonl'), { env: vault.env, timeoutMs: 120_000 });
  expect(other.code).not.toBe(0);
  const rep = JSON.parse(other.stdout) as { failed: number; devices: { reason?: string }[] };
  expect(rep.failed).toBe(1);
  expect(rep.devices[0]!.reason).toMatch(/another fleetvault run holds config\.json for \d+ s more/);
  expect(theirs.supervisorRunning()).toBe(false); // still that run's hold: its watchdog or its re-run ends it
  // … and that run's own re-run finishes it.
  const theirsAgain = await runCli(args(theirs, 'b.jsonl'), { env: vault.env, timeoutMs: 120_000 });
  expect(theirsAgain.code, theirsAgain.stderr).toBe(0);
  expect(theirs.supervisorRunning()).toBe(true);
});

test('one run per journal: a second rollout on a journal in use is refused before it touches a device', { timeout: 120_000 }, async ({ vault, balenaos, tmp }) => {
  const f = await balenaOsFleet(1, balenaos, tmp, () => ({ supervisorIntervalSeconds: 1 }));
  const d = f.devices[0]!;
  const journal = join(tmp, 'j.jsonl');
  const args = ['ca', 'rollout', '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', join(tmp, 'known_hosts'), '--journal', journal, '--json'];
  // Another live run holds the journal (this test process plays it).
  const release = takePidLock(`${journal}.lock`, () => new Error('unexpected'));
  try {
    const before = d.readConfig();
    const busy = await runCli(args, { env: vault.env, timeoutMs: 60_000 });
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(new RegExp(`journal \\S+j\\.jsonl is in use by another fleetvault run \\(pid ${process.pid}\\); nothing was done`));
    expect(busy.stderr.trim().split("\n")).toHaveLength(1); // one line, hint included
    expect(d.readConfig()).toBe(before);
    expect(existsSync(`${d.configPath}.fleetvault.lease`)).toBe(false);
  } finally {
    release();
  }
  const ok = await runCli(args, { env: vault.env, timeoutMs: 90_000 });
  expect(ok.code, ok.stderr).toBe(0);
  expect(existsSync(`${journal}.lock`)).toBe(false);
});
