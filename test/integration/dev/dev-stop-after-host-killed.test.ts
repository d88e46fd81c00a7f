// The device's host process killed outright (SIGKILL, the OOM killer): its `sshd -i` sessions and
// the commands they run are root shells on this machine, and `dev stop` must still end them — not
// only the supervisor, whose pid is in a file (review #16 finding 4).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';
import { requireTools } from '../../support/tools.js';
import { processAlive } from '../../../src/dev/state.js';

let dir = '';
let session: ChildProcess | undefined;
const pids: number[] = [];
afterEach(async () => {
  session?.kill('SIGKILL');
  for (const p of pids.splice(0)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  await runCli(['dev', 'stop'], { env: { FLEETVAULT_DEV_DIR: join(dir, 'state') } });
  rmSync(dir, { recursive: true, force: true });
});

const until = async (what: string, ok: () => boolean, ms = 10_000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (ok()) return;
  throw new Error(`timed out waiting for ${what}`);
};

test('dev stop after the device host was SIGKILLed ends the sessions still running', { timeout: 90_000 }, async () => {
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'jq']);
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-hostkill-'));
  const state = join(dir, 'state');
  const env = { FLEETVAULT_DEV_DIR: state };
  const up = await runCli(['dev', '--detach', '--with-device', '--json'], { env });
  expect(up.code, up.stderr).toBe(0);
  const out = JSON.parse(up.stdout) as { env: { VAULT_ADDR: string; VAULT_TOKEN: string }; device: { host: string; port: number; knownHostsFile: string; user: string } };
  const key = join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env: out.env });
  expect(signed.code, signed.stderr).toBe(0);
  session = spawn('ssh', ['-i', key, '-o', `CertificateFile=${key}-cert.pub`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${out.device.knownHostsFile}`, '-o', 'LogLevel=ERROR', '-p', String(out.device.port),
    `${out.device.user}@${out.device.host}`, 'echo $$ $PPID; exec sleep 300'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [shellPid = 0, sshdPid = 0] = await new Promise<number[]>((resolve) => session!.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim().split(' ').map(Number))));
  pids.push(shellPid, sshdPid);
  const { devicePid } = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { devicePid: number };
  process.kill(devicePid, 'SIGKILL');
  await until('the host to die', () => !processAlive(devicePid));

  const stop = await runCli(['dev', 'stop'], { env });
  expect(stop.code, stop.stderr).toBe(0);
  await until('the session to end', () => !processAlive(shellPid) && !processAlive(sshdPid), 5000);
  expect(spawnSync('pgrep', ['-f', state]).status).toBe(1);
});
