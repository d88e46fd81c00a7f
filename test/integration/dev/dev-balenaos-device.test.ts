// `fleetvault dev --detach --with-device` runs the faithful balenaOS device (issue #16, item 1): a
// supervisor that keeps config.json and writes it back, systemctl and fatrw on the device's PATH,
// any login name → root; `ca rollout` against it survives the supervisor; `dev stop` leaves no
// process (device host, supervisor, sshd sessions and what they run) and no directory behind.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';
import { requireTools } from '../../support/tools.js';
import { processAlive } from '../../../src/dev/state.js';

interface Up {
  address: string; env: { VAULT_ADDR: string; VAULT_TOKEN: string }; caLine: string;
  device: { host: string; port: number; configPath: string; knownHostsFile: string; user: string; kind: string; anyUser: boolean };
}

let dir = '';
let session: ChildProcess | undefined;
afterEach(async () => {
  session?.kill('SIGKILL');
  await runCli(['dev', 'stop'], { env: { FLEETVAULT_DEV_DIR: join(dir, 'state') } });
  rmSync(dir, { recursive: true, force: true });
});

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await ok()) return;
  throw new Error(`timed out waiting for ${what}`);
};

test('dev --detach --with-device: a balenaOS device (supervisor writing config.json back, systemctl, fatrw, any name → root); ca rollout keeps its line across the supervisor; dev stop leaves nothing', { timeout: 120_000 }, async () => {
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'jq', 'gcc']);
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-balenaos-'));
  const state = join(dir, 'state');
  const env = { FLEETVAULT_DEV_DIR: state };
  const up = await runCli(['dev', '--detach', '--with-device', '--supervisor-interval', '1', '--json'], { env });
  expect(up.code, up.stderr).toBe(0);
  const out = JSON.parse(up.stdout) as Up;
  const root = process.geteuid?.() === 0;
  expect(out.device).toMatchObject({ kind: 'balenaos', user: root ? 'root' : expect.any(String), anyUser: root });
  const { devicePid, serverPid } = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { devicePid: number; serverPid: number };
  expect(processAlive(devicePid)).toBe(true); // the device outlives the `dev --detach` that started it
  const vault = { VAULT_ADDR: out.address, VAULT_TOKEN: out.env.VAULT_TOKEN };
  const cfg = out.device.configPath;

  const key = join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env: vault });
  expect(signed.code, signed.stderr).toBe(0);
  const sshArgs = (user: string, command: string) => ['-i', key, '-o', `CertificateFile=${key}-cert.pub`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
    '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${out.device.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'LogLevel=ERROR',
    '-p', String(out.device.port), `${user}@${out.device.host}`, command];
  const ssh = (user: string, command: string) => spawnSync('ssh', sshArgs(user, command), { encoding: 'utf8', timeout: 20_000 });

  // Any login name is root (libnss-ato); the device's own tools are on its PATH; the supervisor runs.
  const who = ssh(root ? 'operator' : out.device.user, 'id -un; command -v fatrw systemctl; systemctl is-active balena-supervisor');
  expect(who.status, who.stderr).toBe(0);
  const [name, fatrw, systemctl, active] = who.stdout.trim().split('\n');
  expect(name).toBe(root ? 'root' : out.device.user);
  expect(fatrw).toMatch(/\/fatrw$/);
  expect(systemctl).toMatch(/\/systemctl$/);
  expect(active).toBe('active');

  // The supervisor writes its whole cached copy back, again and again.
  const writes = () => (JSON.parse(readFileSync(cfg, 'utf8')) as { supervisorWrites?: number }).supervisorWrites ?? 0;
  await until('two supervisor write-backs', () => writes() >= 2);

  // A device as a fleet starts: it trusts only the operator's plain key. Set up the balenaOS way,
  // with the device's own systemctl and fatrw (the supervisor would otherwise write the CA back).
  const op = join(dir, 'operator');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', op]);
  const opPub = readFileSync(`${op}.pub`, 'utf8').trim();
  const set = ssh('root', `umask 022 && systemctl stop balena-supervisor && fatrw read ${cfg} | jq -c --arg k '${opPub}' '.os.sshKeys = [$k]' | fatrw write ${cfg} -m 640 && systemctl start balena-supervisor`);
  expect(set.status, set.stderr).toBe(0);
  await until('os-sshkeys to drop the CA line', () => ssh('root', 'true').status === 255);
  const before = writes();
  await until('the supervisor to write the operator-only config back', () => writes() > before);
  expect((JSON.parse(readFileSync(cfg, 'utf8')) as { os: { sshKeys: string[] } }).os.sshKeys).toEqual([opPub]);

  const devices = join(dir, 'devices.txt');
  writeFileSync(devices, `dev-device ${out.device.host} ${out.device.port} ${cfg}\n`);
  const rollout = await runCli(['ca', 'rollout', '--devices', devices, '--identity', op, '--user-known-hosts-file', out.device.knownHostsFile,
    '--journal', join(dir, 'journal.jsonl'), '--json'], { env: vault, timeoutMs: 90_000 });
  expect(rollout.code, rollout.stderr).toBe(0);
  expect(JSON.parse(rollout.stdout)).toMatchObject({ changed: 1, failed: 0, skipped: 0 });
  // The mode is kept through fatrw, whose new file gets -m MODE & ~umask like open(2).
  expect(statSync(cfg).mode & 0o777).toBe(0o640);
  // The CA line survives the supervisor's next write-backs, and the supervisor runs again.
  const afterRollout = writes();
  await until('two more supervisor write-backs', () => writes() >= afterRollout + 2);
  expect((JSON.parse(readFileSync(cfg, 'utf8')) as { os: { sshKeys: string[] } }).os.sshKeys).toEqual([opPub, out.caLine]);
  const again = ssh('root', 'systemctl is-active balena-supervisor');
  expect(again.status, again.stderr).toBe(0);
  expect(again.stdout.trim()).toBe('active');

  // A session still running at `dev stop`: its sshd and its command go too.
  session = spawn('ssh', sshArgs('root', 'echo $$ $PPID; exec sleep 300'), { stdio: ['ignore', 'pipe', 'ignore'] });
  const [shellPid, sshdPid] = await new Promise<number[]>((resolve) => session!.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim().split(' ').map(Number))));
  expect(processAlive(shellPid)).toBe(true);
  const supervisorPid = Number(readFileSync(join(state, 'device', 'supervisor.pid'), 'utf8'));
  expect(processAlive(supervisorPid)).toBe(true);

  const stop = await runCli(['dev', 'stop'], { env });
  expect(stop.code, stop.stderr).toBe(0);
  await until('the session to end', () => !processAlive(shellPid) && !processAlive(sshdPid), 5000);
  for (const pid of [devicePid, serverPid, supervisorPid]) expect(processAlive(pid), `pid ${pid}`).toBe(false);
  expect(spawnSync('pgrep', ['-f', state]).status).toBe(1); // nothing runs with the state dir in its argv
  expect(existsSync(state)).toBe(false);
});

test('dev --with-device --device-kind plain: the plain device (one sshd, no supervisor)', { timeout: 60_000 }, async () => {
  requireTools(['sshd', 'ssh', 'jq']);
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-plain-'));
  const env = { FLEETVAULT_DEV_DIR: join(dir, 'state') };
  const up = await runCli(['dev', '--detach', '--with-device', '--device-kind', 'plain', '--json'], { env });
  expect(up.code, up.stderr).toBe(0);
  const out = JSON.parse(up.stdout) as Up;
  expect(out.device).toMatchObject({ kind: 'plain', anyUser: false });
  expect(existsSync(join(dir, 'state', 'device', 'supervisor.pid'))).toBe(false);
  const { devicePid } = JSON.parse(readFileSync(join(dir, 'state', 'state.json'), 'utf8')) as { devicePid: number };
  expect(readFileSync(`/proc/${devicePid}/cmdline`, 'utf8')).toMatch(/sshd.* -D /);
  const stop = await runCli(['dev', 'stop'], { env });
  expect(stop.code, stop.stderr).toBe(0);
  expect(processAlive(devicePid)).toBe(false);
});

test('no gcc on PATH: the balenaOS device logs in only the invoking user, and dev says so in one line', { timeout: 60_000 }, async () => {
  requireTools(['sshd', 'ssh', 'jq']);
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-nogcc-'));
  // PATH as it is, minus every compiler: a farm of links to the rest of /usr/bin.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const n of readdirSync('/usr/bin')) if (!/^(gcc|cc|c\+\+|g\+\+|x86_64-linux-gnu-gcc|aarch64-linux-gnu-gcc)/.test(n)) symlinkSync(join('/usr/bin', n), join(bin, n));
  const path = [bin, ...(process.env.PATH ?? '').split(':').filter((d) => d && !['/usr/bin', '/bin'].includes(d) && !existsSync(join(d, 'gcc')))].join(':');
  const env = { FLEETVAULT_DEV_DIR: join(dir, 'state'), PATH: path };
  const up = await runCli(['dev', '--detach', '--with-device'], { env });
  expect(up.code, up.stderr).toBe(0);
  const root = process.geteuid?.() === 0;
  const notes = up.stdout.split('\n').filter((l) => l.startsWith('# ('));
  expect(notes).toEqual([root
    ? '# (no gcc to build the libnss-ato shim: the device logs in only root, not any login name as balenaOS does)'
    : expect.stringMatching(/^# \(not run as root: the device's sshd runs as \S+ and logs in only \S+;/)]);
  expect(existsSync(join(dir, 'state', 'nss-ato.so'))).toBe(false);
  const stop = await runCli(['dev', 'stop'], { env });
  expect(stop.code, stop.stderr).toBe(0);
});
