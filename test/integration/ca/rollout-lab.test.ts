// ca rollout over the fleet lab's lossy links: faithful balenaOS devices behind real Toxiproxy
// links with latency and connection resets. Every device ends either changed (and verified) or
// failed with its own reason, a re-run finishes the rest, a run killed mid-fleet resumes from its
// journal, and the lab leaves no process and no file behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { CLI, runCli } from '../../support/cli.js';
import { startFleetLab, knownHostsCopy, type FleetLab } from '../../support/fleet-lab.js';
import { requireTools } from '../../support/tools.js';

function rollout(env: Record<string, string>, lab: FleetLab, kh: string, journal: string, ...extra: string[]) {
  return runCli(['ca', 'rollout', '--devices', lab.devicesFile, '--identity', lab.opKey, '--user-known-hosts-file', kh,
    '--journal', journal, '--json', '--supervisor-lease', '30s', ...extra], { env, timeoutMs: 80_000 });
}

const caLines = (lab: FleetLab, i: number) => (JSON.parse(lab.devices[i]!.device.readConfig()).os.sshKeys as string[]).filter((k) => k.startsWith('cert-authority'));
// Running, not a zombie: setsid'd supervisors are reaped by PID 1, which may take its time.
const alive = (pid: number) => { try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };

test('rollout over lossy, slow links: each device changed and verified or failed with a reason; a re-run finishes; a killed run resumes from its journal; the lab cleans up', { timeout: 90_000 }, async ({ vault, tmp }) => {
  requireTools(['sshd', 'jq', 'gcc']);
  // One in five connections reset (at this size 1 % would almost never fire), and every
  // connection to lab4: at least one device must fail, with its reason.
  const lab = await startFleetLab({ n: 5, tmp, link: { rttMs: 150, resetPercent: 20 }, supervisorIntervalSeconds: 2 });
  await lab.shape({ rttMs: 150, resetPercent: 100 }, ['lab4']);
  const supervisorPids = () => lab.devices.map((d) => Number(readFileSync(join(d.device.dir, 'supervisor.pid'), 'utf8')));
  let stopped = false;
  let killedTmp: string | undefined;
  try {
    const kh = knownHostsCopy(lab, 'fleetvault');
    const journal = join(tmp, 'journal.jsonl');
    const lossy = await rollout(vault.env, lab, kh, journal, '--concurrency', '5');
    expect([0, 2], lossy.stderr).toContain(lossy.code);
    const first = JSON.parse(lossy.stdout) as { changed: number; failed: number; devices: { name: string; status: string; reason?: string }[] };
    expect(first.devices[4]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/closed the connection|connection dropped|was reset|unreachable/) });
    for (const d of first.devices) {
      if (d.status === 'failed') expect(d.reason, d.name).toMatch(/\w/);
      else expect(d.status, d.name).toBe('changed');
    }
    for (const [i, d] of first.devices.entries()) if (d.status === 'changed') expect(caLines(lab, i)).toHaveLength(1);

    // The links heal; the same journal: what finished is not touched again, the rest is done now.
    await lab.shape({ rttMs: 150, resetPercent: 0 });
    const healed = await rollout(vault.env, lab, kh, journal, '--concurrency', '5');
    expect(healed.code, healed.stderr).toBe(0);
    const second = JSON.parse(healed.stdout) as { failed: number; devices: { status: string; fromJournal?: boolean }[] };
    expect(second.failed).toBe(0);
    expect(second.devices.filter((d) => d.fromJournal)).toHaveLength(first.changed);
    for (const i of lab.devices.keys()) expect(caLines(lab, i)).toHaveLength(1);
    // The supervisor runs again everywhere (the write stopped it) and kept the line through its write-backs.
    await new Promise((r) => setTimeout(r, 2500));
    for (const [i, d] of lab.devices.entries()) {
      expect(d.device.supervisorRunning(), d.name).toBe(true);
      expect(caLines(lab, i)).toHaveLength(1);
    }

    // Killed mid-fleet (SIGKILL: no cleanup of its own), then resumed from the journal.
    lab.resetConfigs();
    await lab.shape({ rttMs: 300, resetPercent: 0 });
    const kh2 = knownHostsCopy(lab, 'resume');
    const journal2 = join(tmp, 'journal2.jsonl');
    // Short (control socket paths must fit sun_path, else fleetvault falls back to /tmp) and ours to remove.
    killedTmp = mkdtempSync(join(tmpdir(), 'k-'));
    // Device entries (the journal's first line is its hold key).
    const lines = () => (existsSync(journal2) ? readFileSync(journal2, 'utf8').split('\n').filter((l) => l.includes('"device"')).length : 0);
    const child = spawn(process.execPath, [CLI, 'ca', 'rollout', '--devices', lab.devicesFile, '--identity', lab.opKey, '--user-known-hosts-file', kh2,
      '--journal', journal2, '--json', '--concurrency', '1'], {
      // Its own TMPDIR: a SIGKILLed run cannot remove its verification key dir or control sockets
      // (nothing runs on SIGKILL); the finally below does.
      env: { ...vault.env, PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', TMPDIR: killedTmp, FLEETVAULT_SIGNING_CACHE: '0' }, stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    const deadline = Date.now() + 40_000;
    while (lines() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited;
    const done = lines();
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(5);
    const resumed = await rollout(vault.env, lab, kh2, journal2, '--concurrency', '5');
    expect(resumed.code, resumed.stderr).toBe(0);
    const third = JSON.parse(resumed.stdout) as { failed: number; devices: { status: string; fromJournal?: boolean }[] };
    expect(third.devices.filter((d) => d.fromJournal)).toHaveLength(done);
    expect(third.devices.every((d) => d.status === 'changed' || d.status === 'already')).toBe(true);
    for (const i of lab.devices.keys()) expect(caLines(lab, i)).toHaveLength(1);

    const pids = [lab.toxiproxy.pid, ...supervisorPids()];
    const dir = lab.dir;
    await lab.stop();
    stopped = true;
    expect(existsSync(dir)).toBe(false);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(lab.devices.every((d) => d.device.liveSessions() === 0)).toBe(true);
  } finally {
    if (killedTmp) rmSync(killedTmp, { recursive: true, force: true });
    if (!stopped) await lab.stop();
  }
});
