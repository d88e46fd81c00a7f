// Issue 12, "Audit views", on the audit log the real OpenBao of the test run writes: fleetvault's
// own bootstrap (init) and rotation probes are not anomalies, events come out in time order, the
// summary's times are ISO to the millisecond, and `audit resolve` does not list its own lookups.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { compareTimes } from '../../../src/audit/order.js';

/** This test's records only: every path of its layout carries its slug. */
function ownLog(auditLog: string, slug: string, out: string): string {
  writeFileSync(out, readFileSync(auditLog, 'utf8').split('\n').filter((l) => l.includes(slug)).join('\n') + '\n');
  return out;
}

test('init and ca rotate probes are not anomalies; listing in time order; summary times to the millisecond', async ({ vault, slug, tmp }) => {
  const env = vault.env;
  // The fixture bootstrapped this layout (what init does on a fresh server); init again, then the
  // first stage of a rotation, which looks the new issuer up before creating it.
  expect((await runCli(['init', '--json'], { env })).code).toBe(0);
  const devices = join(tmp, 'devices.txt');
  writeFileSync(devices, 'd1 127.0.0.1 22222\n');
  const prep = await runCli(['ca', 'rotate', '--stage', 'prepare', '--devices', devices, '--journal', join(tmp, 'rotate.json'), '--json'], { env });
  expect(prep.code, prep.stderr).toBe(0);
  await new Promise((r) => setTimeout(r, 300));
  const log = ownLog(vault.auditLog, slug, join(tmp, 'own.log'));
  // The probes are in the log: a config/ca read before the CA existed, an issuer read before import.
  const all = JSON.parse((await runCli(['audit', '--log', log, '--kind', 'all', '--json'])).stdout) as { time: string; path: string; ok: boolean; details: { lookupMiss?: boolean } }[];
  const misses = all.filter((e) => e.details.lookupMiss).map((e) => e.path.replace(slug, 'SLUG'));
  expect(misses).toEqual(expect.arrayContaining(['ssh-SLUG/config/ca', expect.stringMatching(/^ssh-SLUG\/issuer\/fleetvault-/)]));
  expect(all.filter((e) => e.details.lookupMiss).every((e) => e.ok)).toBe(true);

  const a = await runCli(['audit', 'anomalies', '--log', log, '--json']);
  expect(a.code, a.stderr).toBe(0);
  expect(JSON.parse(a.stdout)).toEqual([]);
  const denied = JSON.parse((await runCli(['audit', '--log', log, '--kind', 'denied', '--json'])).stdout);
  expect(denied).toEqual([]);

  // Time order over the whole shared log (concurrent tests, and the unanswered sys/audit/test
  // request OpenBao logs when the audit device is enabled).
  const shared = JSON.parse((await runCli(['audit', '--log', vault.auditLog, '--kind', 'all', '--json'])).stdout) as { time: string }[];
  expect(shared.length).toBeGreaterThan(20);
  const firstOut = shared.findIndex((e, i) => i > 0 && compareTimes(shared[i - 1]!.time, e.time) > 0);
  expect(firstOut, firstOut >= 0 ? `${shared[firstOut - 1]!.time} before ${shared[firstOut]!.time}` : '').toBe(-1);

  const s = await runCli(['audit', 'summary', '--log', log, '--kind', 'all', '--json']);
  const sum = JSON.parse(s.stdout) as { first: string; last: string };
  expect(sum.first).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(sum.last).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const human = await runCli(['audit', 'summary', '--log', log, '--kind', 'all']);
  expect(human.stdout.split('\n')[0]).toMatch(/^\d+ events, 0 refused, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ → \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('audit resolve lists the records that carry the value, not its own hash lookups', async ({ vault, tmp }) => {
  const l = vault.layout;
  const context = Buffer.from('acme/resolve').toString('base64');
  const ct = (await vault.root.write<{ ciphertext: string }>(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: Buffer.from('{}').toString('base64'), context })).data!.ciphertext;
  await vault.root.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: ct, context });
  await new Promise((r) => setTimeout(r, 300));
  const resolve = () => runCli(['audit', 'resolve', '-', '--log', vault.auditLog, '--json'], { env: vault.env, input: ct + '\n', cwd: tmp });
  const first = await resolve();
  expect(first.code, first.stderr).toBe(0);
  const second = await resolve();
  expect(second.code, second.stderr).toBe(0);
  const r = JSON.parse(second.stdout) as { events: { path: string; kind: string }[]; hashLookups: number };
  expect(r.events.map((e) => e.kind).sort()).toEqual(['transit-decrypt', 'transit-encrypt']);
  expect(r.events.some((e) => e.path.includes('audit-hash'))).toBe(false);
  // This run's lookup and the one before it.
  expect(r.hashLookups).toBe(2);
  expect(second.stderr).toMatch(/2 hash lookups of this value by audit resolve not shown/);
});
