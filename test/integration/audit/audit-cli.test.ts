// The `audit` commands as a user runs them on log files (captured from a real OpenBao): where the
// log comes from, time filters, the stderr summary, exit codes, and `tail` stopping on Ctrl-C.
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { CLI, runCli } from '../../support/cli.js';
import { writeDevState } from '../../../src/dev/state.js';

const FIXTURE = new URL('../../fixtures/audit/real.log', import.meta.url).pathname;
const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter(Boolean);

test('log from --log, FLEETVAULT_AUDIT_LOG or the dev state; malformed lines reported on stderr', async ({ tmp }) => {
  const log = join(tmp, 'audit.log');
  writeFileSync(log, 'garbage\n' + lines.join('\n') + '\n{"type":\n');
  const viaFlag = await runCli(['audit', '--log', log, '--json']);
  expect(viaFlag.code, viaFlag.stderr).toBe(0);
  // 14: every ssh, transit and login event and every refusal; bootstrap's config/ca probe is a lookup, not a refusal.
  expect(viaFlag.stderr).toMatch(/^audit: 14 events shown of \d+ \(113 records in 115 lines, 1 file\); 2 malformed lines skipped/);
  const viaEnv = await runCli(['audit', '--json'], { env: { FLEETVAULT_AUDIT_LOG: log } });
  expect(viaEnv.stdout).toBe(viaFlag.stdout);
  const devDir = join(tmp, 'dev');
  writeDevState(devDir, { address: 'http://127.0.0.1:1', rootToken: 'unused', serverPid: 0, auditLog: log, dir: devDir, startedAt: new Date().toISOString() });
  const viaDev = await runCli(['audit', '--json'], { env: { FLEETVAULT_DEV_DIR: devDir } });
  expect(viaDev.stdout).toBe(viaFlag.stdout);

  const none = await runCli(['audit'], { env: { FLEETVAULT_DEV_DIR: join(tmp, 'nothing') } });
  expect(none.code).toBe(1);
  expect(none.stderr).toMatch(/no audit log given \(pass --log/);
  const bad = await runCli(['audit', '--log', log, '--since', 'last tuesday']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/invalid since "last tuesday"/);
});

test('--since/--until select a time range; relative durations count back from now', async () => {
  const all = JSON.parse((await runCli(['audit', '--log', FIXTURE, '--kind', 'all', '--json'])).stdout) as { time: string }[];
  const mid = all[Math.floor(all.length / 2)]!.time;
  const later = JSON.parse((await runCli(['audit', '--log', FIXTURE, '--kind', 'all', '--since', mid, '--json'])).stdout) as { time: string }[];
  expect(later.length).toBeGreaterThan(0);
  expect(later.length).toBeLessThan(all.length);
  expect(later.every((e) => Date.parse(e.time) >= Date.parse(mid))).toBe(true);
  const before = Date.now();
  const recent = JSON.parse((await runCli(['audit', '--log', FIXTURE, '--kind', 'all', '--since', '1m', '--json'])).stdout) as { time: string }[];
  expect(recent.every((e) => Date.parse(e.time) >= before - 61_000)).toBe(true);
  const old = JSON.parse((await runCli(['audit', '--log', FIXTURE, '--kind', 'all', '--until', mid, '--json'])).stdout) as { time: string }[];
  expect(old.length + later.length).toBeGreaterThanOrEqual(all.length);
  expect(old.every((e) => Date.parse(e.time) <= Date.parse(mid))).toBe(true);
});

test('the table escapes a hostile reason; audit tail prints new events and exits 0 on SIGINT', async ({ tmp }) => {
  const table = await runCli(['audit', '--log', FIXTURE, '--kind', 'ssh']);
  expect(table.stdout).not.toContain('\u001b');
  expect(table.stdout).toContain('\\u001b]0;pwned');

  const log = join(tmp, 'live.log');
  writeFileSync(log, lines.slice(0, 10).join('\n') + '\n');
  const child = spawn(process.execPath, [CLI, 'audit', 'tail', '--log', log, '--json'], { env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), HOME: tmp } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const waitFor = async (cond: () => boolean) => {
    const end = Date.now() + 10_000;
    while (!cond()) { if (Date.now() > end) throw new Error(`timed out: ${stderr}`); await new Promise((r) => setTimeout(r, 25)); }
  };
  await waitFor(() => stderr.includes('following'));
  const i = lines.findIndex((l) => l.includes('"type":"request"') && l.includes('transit/decrypt'));
  appendFileSync(log, lines[i] + '\n' + lines[i + 1] + '\n');
  await waitFor(() => stdout.includes('\n'));
  expect(JSON.parse(stdout.trim().split('\n')[0]!)).toMatchObject({ kind: 'transit-decrypt', ok: true });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  expect(code).toBe(0);
  expect(stderr).toMatch(/audit: 1 event shown/);
});
