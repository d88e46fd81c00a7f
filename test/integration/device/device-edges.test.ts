// Devices that misbehave, first contact and pins, signals and re-runs: what the operator sees.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { CLI, runCli } from '../../support/cli.js';
import { balenaOsFleet } from '../../support/balenaos-fleet.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';
import { getCaPublicKey } from '../../../src/ca/public-key.js';
import { freePort } from '../../../src/dev/free-port.js';

function fakeServer(host: string, port: number, onConn: (s: import('node:net').Socket) => void): Promise<Server> {
  return new Promise((resolve) => { const srv = createServer(onConn); srv.listen(port, host, () => resolve(srv)); });
}

/** Run the CLI and record its peak RSS (VmHWM) while it runs. */
function runCliWithRss(args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string; peakRssMb: number }> {
  return new Promise((resolve) => {
    // The run's private TMPDIR (global setup), so a CLI killed on timeout leaves nothing in /tmp.
    const tmpEnv = process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {};
    const c = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', ...tmpEnv, ...env } });
    let stdout = '', stderr = '', peak = 0;
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      try { const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8')); if (m) peak = Math.max(peak, Number(m[1]) / 1024); } catch { /* exited */ }
    }, 50);
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => { clearInterval(poll); clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr, peakRssMb: peak }); });
  });
}

test('bad devices (/dev/zero, 100 MB of output, garbage, a hang): one line each, bounded memory, the good devices still done', { timeout: 300_000 }, async ({ vault, balenaos, tmp }) => {
  const f = await balenaOsFleet(2, balenaos, tmp, () => ({ supervisorIntervalSeconds: 0 }));
  const [a, b] = f.devices as [typeof f.devices[0], typeof f.devices[0]];
  const big = join(b.dir, 'boot', 'big.json');
  const fd = openSync(big, 'w'); ftruncateSync(fd, 100 * 1024 * 1024); closeSync(fd); // 100 MB, sparse
  const gPort = await freePort('127.0.0.1');
  const hPort = await freePort('127.0.0.1');
  const garbage = await fakeServer('127.0.0.1', gPort, (s) => { s.on('error', () => {}); s.end(Buffer.alloc(64 * 1024, 0xa7)); });
  const held: import('node:net').Socket[] = [];
  const hang = await fakeServer('127.0.0.1', hPort, (s) => { s.on('error', () => {}); held.push(s); });
  try {
    writeFileSync(f.file, [
      `${a.name} ${a.host} ${a.port} ${a.configPath}`,
      `zero ${a.host} ${a.port} /dev/zero`,
      `big ${b.host} ${b.port} ${big}`,
      `garbage 127.0.0.1 ${gPort} /mnt/boot/config.json`,
      `hang 127.0.0.1 ${hPort} /mnt/boot/config.json`,
      `${b.name} ${b.host} ${b.port} ${b.configPath}`,
    ].join('\n') + '\n');
    const r = await runCliWithRss(['ca', 'rollout', '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', join(tmp, 'kh'), '--journal', join(tmp, 'j.jsonl'), '--json'], vault.env, 200_000);
    expect(r.code, r.stderr).toBe(2);
    const by = Object.fromEntries(JSON.parse(r.stdout).devices.map((d: { name: string }) => [d.name, d]));
    expect(by[a.name].status).toBe('changed');
    expect(by[b.name].status).toBe('changed');
    expect(by.zero).toMatchObject({ status: 'failed', reason: expect.stringMatching(/not a regular file/) });
    expect(by.big).toMatchObject({ status: 'failed', reason: expect.stringMatching(/larger than 1048576 bytes \(connection cut\)/) });
    expect(by.garbage).toMatchObject({ status: 'failed', reason: expect.stringMatching(/not an SSH server|closed the connection/) });
    expect(by.hang).toMatchObject({ status: 'failed', reason: expect.stringMatching(/timeout|no answer/) });
    for (const d of Object.values(by) as { reason?: string }[]) expect(d.reason ?? '').not.toMatch(/[\n\r]/);
    console.info(`bad devices: peak RSS of the CLI ${r.peakRssMb.toFixed(0)} MB`);
    expect(r.peakRssMb).toBeGreaterThan(0);
    expect(r.peakRssMb).toBeLessThan(150);
  } finally {
    for (const s of held) s.destroy();
    garbage.close(); hang.close();
  }
});

test('pins are keyed by device: a device first seen in --dry-run is pinned; it keeps its pin at a new address; an impostor under its name is refused', { timeout: 300_000 }, async ({ vault, balenaos, tmp }) => {
  const f = await balenaOsFleet(1, balenaos, tmp, () => ({ supervisorIntervalSeconds: 0 }));
  const d = f.devices[0]!;
  const kh = join(tmp, 'state', 'known_hosts');
  const args = (file: string, ...extra: string[]) => ['ca', 'rollout', '--devices', file, '--identity', f.opKey, '--user-known-hosts-file', kh, '--journal', join(tmp, `j-${Math.random()}.jsonl`), '--json', ...extra];
  const dry = await runCli(args(f.file, '--dry-run'), { env: vault.env, timeoutMs: 60_000 });
  expect(dry.code, dry.stderr).toBe(0);
  expect(readFileSync(kh, 'utf8')).toContain(`${d.name} ${d.hostPublicKey}`);
  const real = await runCli(args(f.file, '--strict-host-key-checking', 'yes'), { env: vault.env, timeoutMs: 120_000 });
  expect(real.code, real.stdout + real.stderr).toBe(0);

  // The same device (same host key) comes back at another address.
  await d.stop();
  const moved = await balenaos.start({ name: d.name, supervisorIntervalSeconds: 0, config: JSON.parse(d.readConfig()) });
  const movedFile = join(tmp, 'moved.txt');
  writeFileSync(movedFile, `${d.name} ${moved.host} ${moved.port} ${moved.configPath}\n`);
  const again = await runCli(args(movedFile, '--strict-host-key-checking', 'yes'), { env: vault.env, timeoutMs: 120_000 });
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(JSON.parse(again.stdout).devices[0].status).toBe('already');

  // Another machine answering under the device's name: refused even with accept-new.
  const impostor = await balenaos.start({ name: 'impostor', supervisorIntervalSeconds: 0, config: JSON.parse(d.readConfig()) });
  const impFile = join(tmp, 'impostor.txt');
  writeFileSync(impFile, `${d.name} ${impostor.host} ${impostor.port} ${impostor.configPath}\n`);
  const imp = await runCli(args(impFile), { env: vault.env, timeoutMs: 120_000 });
  expect(imp.code).toBe(2);
  expect(JSON.parse(imp.stdout).devices[0].reason).toMatch(/host key changed/);
});

test('SIGTERM mid-rollout leaves no key in TMPDIR; the re-run verifies devices that already have the line (--no-verify-already skips)', { timeout: 300_000 }, async ({ vault, balenaos, tmp }) => {
  const f = await balenaOsFleet(3, balenaos, tmp, (i) => ({ supervisorIntervalSeconds: 0, ...(i === 2 ? { clockSkew: '-10m' } : {}) }));
  const kh = join(tmp, 'kh');
  const own = mkdtempSync(join(tmpdir(), 'fv-tmpdir-'));
  try {
    const c = spawn(process.execPath, [CLI, 'ca', 'rollout', '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', kh, '--journal', join(tmp, 'j.jsonl'), '--concurrency', '1'],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...vault.env, TMPDIR: own }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
    for (let i = 0; i < 2000 && !readdirSync(own).some((x) => x.startsWith('fleetvault-rollout-')); i++) await new Promise((r) => setTimeout(r, 5));
    expect(readdirSync(own).some((x) => x.startsWith('fleetvault-rollout-'))).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    c.kill('SIGTERM');
    expect(await closed).toBe(143);
    expect(stderr).toMatch(/interrupted by SIGTERM/);
    // The CLI's compile cache (V8 code of fleetvault's own bundle, src/bin.cts) may sit there; no key may.
    expect(readdirSync(own).filter((n) => n !== 'node-compile-cache')).toEqual([]);
  } finally {
    rmSync(own, { recursive: true, force: true });
  }

  // A device holds the line without a verification (written before an interrupt); its clock lags,
  // so a fresh certificate does not log in: the re-run must say so, not count it "already".
  const skewed = f.devices[2]!;
  const ca = await getCaPublicKey({ client: vault.root, mount: vault.layout.sshMount });
  skewed.stopSupervisor();
  const cfg = JSON.parse(skewed.readConfig());
  cfg.os.sshKeys.push(authorizedKeyLine({ ...ca }));
  skewed.writeConfig(JSON.stringify(cfg, null, 2) + '\n');
  skewed.startSupervisor();
  const base = ['ca', 'rollout', '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', kh, '--verify-timeout', '2s', '--json'];
  const rerun = await runCli([...base, '--journal', join(tmp, 'j2.jsonl')], { env: vault.env, timeoutMs: 120_000 });
  const by = Object.fromEntries(JSON.parse(rerun.stdout).devices.map((d: { name: string }) => [d.name, d]));
  expect(by[skewed.name], readFileSync(skewed.log, 'utf8').slice(-1500)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/already has the change, but verification login with a fleetvault certificate failed/) });
  expect(by[f.devices[0]!.name].status).toMatch(/changed|already/);
  const trusting = await runCli([...base, '--journal', join(tmp, 'j3.jsonl'), '--no-verify-already'], { env: vault.env, timeoutMs: 120_000 });
  expect(JSON.parse(trusting.stdout).devices.find((d: { name: string }) => d.name === skewed.name).status).toBe('already');
});

test('--identity that does not exist: one line, exit 1, before any device is contacted', async ({ vault, tmp }) => {
  const file = join(tmp, 'devices.txt');
  writeFileSync(file, 'dev1 127.0.0.1 1\ndev2 127.0.0.1 2\n');
  const r = await runCli(['ca', 'rollout', '--devices', file, '--identity', '/nonexistent'], { env: vault.env });
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/failed to use --identity \/nonexistent: no such file/);
  expect(r.stderr).not.toMatch(/config\.json/);
});
