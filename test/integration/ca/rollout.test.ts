// CA rollout against a fleet of real sshd devices that first trust only an operator key.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor, sshLogin } from '../../support/ssh.js';
import { defaultDeviceConfig, startDevice, type Device } from '../../../src/dev/device.js';

interface Fleet { devices: Device[]; opKey: string; file: string; kh: string; journal: string }

async function operatorFleet(n: number, devices: { start(o: object): Promise<Device> }, tmp: string, extra: (i: number) => object = () => ({})): Promise<Fleet> {
  const opKey = join(tmp, 'operator');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
  const opPub = readFileSync(`${opKey}.pub`, 'utf8').trim();
  const started = await Promise.all(Array.from({ length: n }, (_, i) => {
    const config = defaultDeviceConfig(`dev${i}`);
    (config.os as { sshKeys: string[] }).sshKeys = [opPub];
    return devices.start({ name: `dev${i}`, config, ...extra(i) });
  }));
  const file = join(tmp, 'devices.txt');
  writeFileSync(file, ['# test fleet', ...started.map((d) => `${d.name} ${d.host} ${d.port} ${d.configPath}`)].join('\n') + '\n');
  // The tool keeps its own known_hosts: start from the devices' real keys (pinned).
  return { devices: started, opKey, file, kh: knownHostsFor(tmp, started), journal: join(tmp, 'journal.jsonl') };
}

function rollout(vault: { env: Record<string, string> }, f: Fleet, ...extra: string[]) {
  return runCli(['ca', 'rollout', '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', f.kh, '--journal', f.journal, '--json', ...extra], { env: vault.env, timeoutMs: 120_000 });
}

async function certKey(vault: { env: Record<string, string> }, tmp: string): Promise<string> {
  const k = join(tmp, 'eng');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
  const r = await runCli(['cert', 'sign', '--public-key', `${k}.pub`], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  return k;
}

test('rollout reaches 20 devices, each then accepts a fleetvault certificate; a second run changes no byte; dry run changes nothing', { timeout: 180_000 }, async ({ vault, devices, tmp }) => {
  const f = await operatorFleet(20, devices, tmp);
  const before = f.devices.map((d) => d.readConfig());

  const dry = await rollout(vault, f, '--dry-run');
  expect(dry.code, dry.stderr).toBe(0);
  const dryReport = JSON.parse(dry.stdout);
  expect(dryReport).toMatchObject({ dryRun: true, changed: 20, failed: 0 });
  expect(f.devices.map((d) => d.readConfig())).toEqual(before);

  const eng = await certKey(vault, tmp);
  expect((await sshLogin({ device: f.devices[0]!, key: eng, cert: `${eng}-cert.pub`, knownHosts: f.kh })).code).toBe(255);

  const first = await rollout(vault, f, '--concurrency', '8', '--canary', '2');
  expect(first.code, first.stderr).toBe(0);
  expect(JSON.parse(first.stdout)).toMatchObject({ changed: 20, already: 0, failed: 0, skipped: 0 });
  for (const d of f.devices) {
    const keys = JSON.parse(d.readConfig()).os.sshKeys as string[];
    expect(keys[0]).toBe(readFileSync(`${f.opKey}.pub`, 'utf8').trim()); // the operator key stays, first
    expect(keys[1]).toMatch(/^cert-authority,principals="root" ssh-ed25519 /);
    expect(readFileSync(`${d.configPath}.fleetvault.bak`, 'utf8')).toBe(before[f.devices.indexOf(d)]);
    const login = await sshLogin({ device: d, key: eng, cert: `${eng}-cert.pub`, knownHosts: f.kh });
    expect(login.code, `${d.name}: ${login.stderr}`).toBe(0);
  }
  const after = f.devices.map((d) => d.readConfig());
  // Without the journal every device is read again: nothing to change, no byte written.
  const second = await rollout(vault, { ...f, journal: join(tmp, 'journal2.jsonl') });
  expect(second.code, second.stderr).toBe(0);
  expect(JSON.parse(second.stdout)).toMatchObject({ changed: 0, already: 20 });
  expect(f.devices.map((d) => d.readConfig())).toEqual(after);
  // With the journal, finished devices are not even contacted.
  const resumed = await rollout(vault, f);
  expect(JSON.parse(resumed.stdout).devices.every((d: { fromJournal?: boolean }) => d.fromJournal)).toBe(true);
});

test('a malformed config.json is reported and untouched; a stopped device is reported and a re-run completes it', { timeout: 180_000 }, async ({ vault, devices, tmp }) => {
  const f = await operatorFleet(4, devices, tmp, (i) => (i === 1 ? { configText: '{"os": {"sshKeys": "not-a-list"}}\n' } : {}));
  const malformed = f.devices[1]!;
  // dev1 has no operator key (malformed file): give it access through a valid copy? No — sshd reads the
  // malformed file and trusts nothing, so it is reported unreachable-for-access or malformed.
  const stopped = f.devices[2]!;
  await stopped.stop();
  const bytes = malformed.readConfig();
  const r = await rollout(vault, f);
  expect(r.code).toBe(2);
  const report = JSON.parse(r.stdout);
  const by = Object.fromEntries(report.devices.map((d: { name: string }) => [d.name, d]));
  expect(by.dev0.status).toBe('changed');
  expect(by.dev3.status).toBe('changed');
  expect(by.dev1.status).toBe('failed');
  expect(by.dev2).toMatchObject({ status: 'failed', reason: expect.stringMatching(/unreachable/) });
  expect(malformed.readConfig()).toBe(bytes);

  const back = await startDevice({ dir: stopped.dir, name: stopped.name, host: stopped.host, port: stopped.port });
  try {
    const again = await rollout(vault, f);
    const rep2 = JSON.parse(again.stdout);
    const by2 = Object.fromEntries(rep2.devices.map((d: { name: string }) => [d.name, d]));
    expect(by2.dev2.status).toBe('changed');
    expect(by2.dev0.fromJournal).toBe(true);
    expect(by2.dev3.fromJournal).toBe(true);
  } finally {
    await back.stop();
  }
});

test('a device whose config.json is malformed but reachable: reported with the reason, file unchanged', { timeout: 180_000 }, async ({ vault, devices, tmp }) => {
  const f = await operatorFleet(1, devices, tmp);
  const d = f.devices[0]!;
  // Operator access stays (sshd reads this file too), but os.sshKeys carries an entry with a NUL.
  const opPub = readFileSync(`${f.opKey}.pub`, 'utf8').trim();
  const bad = JSON.stringify({ uuid: 'x', os: { sshKeys: [opPub, 'ssh-ed25519 AAAA\u0000evil'] } }) + '\n';
  writeFileSync(d.configPath, bad);
  const r = await rollout(vault, f);
  expect(r.code).toBe(2);
  expect(JSON.parse(r.stdout).devices[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/newline or NUL/) });
  expect(d.readConfig()).toBe(bad);
});

test('a failed verification restores the original bytes', { timeout: 180_000 }, async ({ vault, devices, tmp }) => {
  // The device clock is 10 minutes behind: it accepts the operator key but no fresh certificate.
  const lib = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
  const f = await operatorFleet(1, devices, tmp, () => ({ env: { LD_PRELOAD: lib, FAKETIME: '-10m' } }));
  const d = f.devices[0]!;
  const before = d.readConfig();
  const r = await rollout(vault, f, '--verify-timeout', '2s');
  expect(r.code).toBe(2);
  expect(JSON.parse(r.stdout).devices[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/original os.sshKeys restored/) });
  expect(d.readConfig()).toBe(before);
});

test('canary failure stops the rollout; --max-failures aborts past the budget', { timeout: 180_000 }, async ({ vault, devices, tmp }) => {
  const f = await operatorFleet(6, devices, tmp);
  await f.devices[0]!.stop();
  const canary = await rollout(vault, f, '--canary', '1');
  expect(canary.code).toBe(2);
  const rep = JSON.parse(canary.stdout);
  expect(rep.aborted).toMatch(/canary/);
  expect(rep.skipped).toBe(5);
  expect(f.devices.slice(1).every((d) => !d.readConfig().includes('cert-authority'))).toBe(true);

  await f.devices[1]!.stop();
  const budget = await rollout(vault, { ...f, journal: join(tmp, 'j2.jsonl') }, '--max-failures', '10', '--concurrency', '1');
  const rep2 = JSON.parse(budget.stdout);
  expect(rep2.aborted).toMatch(/max-failures/);
  expect(rep2.failed).toBe(1);
  expect(rep2.skipped).toBe(5);
});

test('devices file errors: exit 1, one line', { timeout: 180_000 }, async ({ vault, tmp }) => {
  const cases = ['dev1\n', 'dev1 127.0.0.1 notaport\n', 'dev1 -oProxyCommand=x\n', "dev1 127.0.0.1 22 /mnt/boot/con'fig.json\n", '# nothing\n'];
  for (const text of cases) {
    const file = join(tmp, 'bad.txt');
    writeFileSync(file, text);
    const r = await runCli(['ca', 'rollout', '--devices', file], { env: vault.env });
    expect(r.code, text).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
});

test('ca status reports coverage and drift before and after a rollout', { timeout: 180_000 }, async ({ vault, devices, tmp }) => {
  const f = await operatorFleet(3, devices, tmp);
  const status = (extra: string[] = []) => runCli(['ca', 'status', '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', f.kh, '--json', ...extra], { env: vault.env });
  const before = await status();
  expect(before.code).toBe(2);
  expect(JSON.parse(before.stdout)).toMatchObject({ total: 3, trustingCurrent: 0, unreachable: 0 });
  const rolled = await rollout(vault, f);
  expect(rolled.code, rolled.stderr).toBe(0);
  await f.devices[2]!.stop();
  const after = await status();
  const rep = JSON.parse(after.stdout);
  expect(rep).toMatchObject({ total: 3, trustingCurrent: 2, unreachable: 1 });
  expect(rep.devices[0].cas[0]).toMatchObject({ fingerprint: rep.caFingerprint, principals: 'root', fleetvault: true });
});
