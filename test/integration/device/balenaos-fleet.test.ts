// Rollout, status and every rotate stage on a fleet of faithful balenaOS devices: a supervisor
// that writes its cached config.json back every second, fatrw, systemctl, os-sshkeys' delay.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { balenaOsFleet } from '../../support/balenaos-fleet.js';
import { sampleArgv } from '../../support/proc-argv.js';
import { requireTools } from '../../support/tools.js';

requireTools(['gcc', 'jq', 'flock', 'setsid']);

const waitFor = async (what: string, ok: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

test('20 faithful devices: rollout, status and rotate (all stages) succeed; the lines survive the supervisor; no secret in any argv; mode kept; nothing left behind', { timeout: 1_500_000 }, async ({ vault, balenaos, tmp }) => {
  const n = 20;
  const f = await balenaOsFleet(n, balenaos, tmp, () => ({ supervisorIntervalSeconds: 1 }));
  const kh = join(tmp, 'state', 'known_hosts');
  const common = ['--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', kh, '--concurrency', '8', '--json'];
  const secrets = f.devices.flatMap((d) => { const c = JSON.parse(d.readConfig()); return [c.apiKey, c.deviceApiKey]; });

  const argv = sampleArgv(secrets);
  const roll = await runCli(['ca', 'rollout', ...common, '--journal', join(tmp, 'rollout.jsonl')], { env: vault.env, timeoutMs: 400_000 });
  const sampled = argv.stop();
  expect(roll.code, roll.stdout.slice(-2000) + roll.stderr).toBe(0);
  expect(JSON.parse(roll.stdout)).toMatchObject({ changed: n, failed: 0 });
  expect(sampled.samples).toBeGreaterThan(10);
  expect(sampled.leaks).toEqual([]);
  expect(statSync(dirname(kh)).mode & 0o777).toBe(0o700);

  const line = (JSON.parse(f.devices[0]!.readConfig()).os.sshKeys as string[]).find((k) => k.startsWith('cert-authority'))!;
  expect(line).toMatch(/^cert-authority,principals="root" /);
  // Three supervisor write-backs later, every device still has the line and its supervisor runs.
  const after = f.devices.map((d) => d.supervisorWrites());
  await waitFor('three supervisor writes on every device', () => f.devices.every((d, i) => d.supervisorWrites() >= after[i]! + 3), 60_000);
  for (const d of f.devices) {
    const c = JSON.parse(d.readConfig());
    expect(c.os.sshKeys, d.name).toEqual([f.opPub, line]);
    expect(c.apiKey).toMatch(/^prov-/);
    expect(d.supervisorRunning(), d.name).toBe(true);
    expect(statSync(d.configPath).mode & 0o777, d.name).toBe(0o640);
    // The supervisor keeps writing through fatrw (every few seconds), whose own temp files exist
    // for a moment: wait for a quiet instant rather than catching one mid-write.
    const left = () => readdirSync(dirname(d.configPath)).filter((x) => x !== 'config.json' && x !== 'config.json.fleetvault.bak');
    await waitFor(`${d.name}: nothing left next to config.json (${left().join(', ')})`, () => left().length === 0, 15_000);
    expect(statSync(`${d.configPath}.fleetvault.bak`).mode & 0o777).toBe(0o640);
  }

  const status = await runCli(['ca', 'status', ...common], { env: vault.env, timeoutMs: 200_000 });
  expect(status.code, status.stderr).toBe(0);
  expect(JSON.parse(status.stdout)).toMatchObject({ total: n, trustingCurrent: n, unreachable: 0 });

  const rotate = await runCli(['ca', 'rotate', ...common, '--journal', join(tmp, 'rotate.json')], { env: vault.env, timeoutMs: 600_000 });
  expect(rotate.code, rotate.stdout.slice(-3000) + rotate.stderr).toBe(0);
  const rep = JSON.parse(rotate.stdout);
  expect(rep.complete).toBe(true);
  expect(rep.stages.map((s: { stage: string; status: string }) => `${s.stage}:${s.status}`)).toEqual(['prepare:done', 'distribute:done', 'switch:done', 'retire:done']);
  const newFp = rep.next.fingerprint as string;

  const status2 = await runCli(['ca', 'status', ...common], { env: vault.env, timeoutMs: 200_000 });
  expect(status2.code, status2.stderr).toBe(0);
  const st2 = JSON.parse(status2.stdout);
  expect(st2).toMatchObject({ caFingerprint: newFp, trustingCurrent: n });
  expect(Object.keys(st2.otherCas)).toEqual([]);
  for (const d of f.devices) {
    expect(d.supervisorRunning(), d.name).toBe(true);
    expect(existsSync(`${d.configPath}.fleetvault.lease`), d.name).toBe(false);
  }
});
