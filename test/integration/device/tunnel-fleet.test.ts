// Fleet commands through balena's tunnel: `ca rollout/status/rotate --fleet` reach every device of
// a balena fleet through the tunnel stand-in, none of which reports a reachable ip_address. Each
// device keeps its config.json at the same path, as on balenaOS: every sshd runs in its own mount
// namespace with its directory bound onto <tmp>/boot.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, nextLoopbackHost } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startBalenaFleet, type BalenaFleet } from '../../support/balena-fleet.js';
import { defaultDeviceConfig, findSshd, startDevice, type Device } from '../../../src/dev/device.js';
import type { BalenaDevice } from '../../support/balena-api.js';

const N = 10;

interface TunnelFleet { fleet: BalenaFleet; devices: Device[]; members: BalenaDevice[]; opKey: string; kh: string; boot: string; stop(): Promise<void> }

async function tunnelFleet(tmp: string, n: number): Promise<TunnelFleet> {
  const opKey = join(tmp, 'operator');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
  const opPub = readFileSync(`${opKey}.pub`, 'utf8').trim();
  const boot = join(tmp, 'boot');
  mkdirSync(boot);
  const fleet = await startBalenaFleet(tmp);
  const devices: Device[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const dir = join(tmp, `d${i}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // sshd in its own mount namespace, its own dir bound onto the shared config path. Inside
      // sh -c, $0 is the dir and $1 the boot path: one shift leaves exactly sshd's own arguments
      // (-D first: in the foreground, so stop() reaches it; a daemonized sshd outlived the test).
      const wrapper = join(tmp, `sshd-d${i}.sh`);
      writeFileSync(wrapper, `#!/bin/sh\nexec unshare -m --propagation private sh -c 'mount --bind "$0" "$1" && shift && exec ${findSshd()} "$@"' '${dir}' '${boot}' "$@"\n`, { mode: 0o755 });
      const config = defaultDeviceConfig(`d${i}`);
      (config.os as { sshKeys: string[] }).sshKeys = [opPub];
      devices.push(await startDevice({ dir, name: `d${i}`, host: nextLoopbackHost(), config, sshdBin: wrapper }));
    }
  } catch (e) {
    await Promise.all(devices.map((d) => d.stop()));
    await fleet.stop();
    throw e;
  }
  const members = devices.map((d) => fleet.add(d));
  return {
    fleet, devices, members, opKey, boot, kh: fleet.knownHosts(members.map((m, i) => [m, devices[i]!])),
    stop: async () => {
      await Promise.all(devices.map((d) => d.stop()));
      await fleet.stop();
      // Every sshd of this fleet ran in the foreground under its wrapper: none may outlive the test.
      expect(processesMentioning(tmp)).toEqual([]);
    },
  };
}

const caLines = (d: Device) => (JSON.parse(d.readConfig()).os.sshKeys as string[]).filter((k) => k.startsWith('cert-authority'));

test(`ca rollout and ca status --fleet reach ${N} devices through the tunnel; an offline device is reported, not dropped`, { timeout: 180_000 }, async ({ vault, tmp }) => {
  const f = await tunnelFleet(tmp, N);
  try {
    // One more fleet member that is not connected to balena's VPN (the tunnel answers 503).
    const offline = f.fleet.api.addDevice({ uuid: 'd'.repeat(32), ip_address: null, is_online: false });
    const env = { ...vault.env, ...f.fleet.env };
    const common = ['--fleet', f.fleet.api.fleet.slug, '--config-path', join(f.boot, 'config.json'), '--identity', f.opKey, '--user-known-hosts-file', f.kh, '--json'];
    const r = await runCli(['ca', 'rollout', ...common, '--journal', join(tmp, 'j.jsonl')], { env, timeoutMs: 150_000 });
    expect(r.code, r.stderr).toBe(2);
    const rep = JSON.parse(r.stdout);
    expect(rep.total).toBe(N + 1);
    const byName = new Map(rep.devices.map((d: { name: string }) => [d.name, d]));
    for (const m of f.members) expect(byName.get(m.uuid), JSON.stringify(byName.get(m.uuid))).toMatchObject({ status: 'changed', host: `${m.uuid}.balena` });
    expect(byName.get(offline.uuid)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/offline \(503/) });
    for (const d of f.devices) expect(caLines(d)).toHaveLength(1);
    expect(f.fleet.tunnel.requests.filter((q) => q.status === 200).length).toBeGreaterThanOrEqual(N);

    const s = await runCli(['ca', 'status', ...common], { env, timeoutMs: 120_000 });
    expect(s.code, s.stderr).toBe(2); // the offline device does not trust the CA as far as we can tell
    const st = JSON.parse(s.stdout);
    expect(st.total).toBe(N + 1);
    expect(st.trustingCurrent).toBe(N);
    expect(st.unreachable).toBe(1);
    expect(st.devices.find((d: { name: string }) => d.name === offline.uuid)).toMatchObject({ reachable: false, error: expect.stringMatching(/503/) });

    // --via direct uses the ip_address balena reports: unreachable from here, and still reported.
    const direct = await runCli(['ca', 'status', ...common, '--via', 'direct', '--concurrency', '16'], { env: { ...env }, timeoutMs: 120_000 });
    expect(direct.code).toBe(2);
    const dj = JSON.parse(direct.stdout);
    expect(dj.total).toBe(N + 1);
    expect(dj.unreachable).toBe(N + 1);
  } finally {
    await f.stop();
  }
});

test(`ca rotate --fleet rotates ${N} devices through the tunnel`, { timeout: 300_000 }, async ({ vault, tmp }) => {
  const f = await tunnelFleet(tmp, N);
  try {
    const env = { ...vault.env, ...f.fleet.env };
    const common = ['--fleet', f.fleet.api.fleet.slug, '--config-path', join(f.boot, 'config.json'), '--identity', f.opKey, '--user-known-hosts-file', f.kh, '--json'];
    const first = await runCli(['ca', 'rollout', ...common, '--journal', join(tmp, 'j.jsonl')], { env, timeoutMs: 150_000 });
    expect(first.code, first.stderr).toBe(0);
    const before = caLines(f.devices[0]!)[0];
    const r = await runCli(['ca', 'rotate', ...common, '--journal', join(tmp, 'rotate.json')], { env, timeoutMs: 280_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ complete: true });
    for (const d of f.devices) {
      const lines = caLines(d);
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toBe(before);
    }
  } finally {
    await f.stop();
  }
});

/** pids whose command line names this path (a device process left running). */
function processesMentioning(path: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(path); } catch { return false; }
  }).map(Number);
}
