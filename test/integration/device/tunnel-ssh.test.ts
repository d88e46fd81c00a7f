// `fleetvault ssh <uuid>` through balena's tunnel: the real balena-sdk against the API stand-in,
// TLS + CONNECT against the tunnel stand-in (verified with the test CA), the system ssh with a
// `fleetvault tunnel` ProxyCommand, a Vault certificate checked by the device's own sshd.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startBalenaFleet } from '../../support/balena-fleet.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';

function sshAsync(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn('ssh', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function trustingDevice(vault: { env: Record<string, string> }, devices: { start(o: { config: Record<string, unknown> }): Promise<import('../../../src/dev/device.js').Device> }) {
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig('t');
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  return devices.start({ config });
}

test('ssh <uuid> (full and short) logs in through the tunnel; exit status passed through', async ({ vault, devices, tmp }) => {
  const fleet = await startBalenaFleet(tmp);
  try {
    const d = await trustingDevice(vault, devices);
    const b = fleet.add(d);
    const kh = fleet.knownHosts([[b, d]]);
    mkdirSync(fleet.env.HOME!, { recursive: true });
    const env = { ...vault.env, ...fleet.env };
    for (const id of [b.uuid, b.uuid.slice(0, 7)]) {
      const r = await runCli(['ssh', id, '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes', '--', 'id', '-un'], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('root');
    }
    const st = await runCli(['ssh', b.uuid.slice(0, 9), '--user-known-hosts-file', kh, '--', 'exit', '7'], { env });
    expect(st.code, st.stderr).toBe(7);
    // The balena token is never in any argv: scan every process while a session runs.
    const seen: string[] = [];
    let done = false;
    const running = runCli(['ssh', b.uuid, '--user-known-hosts-file', kh, '--', 'sleep', '2'], { env }).finally(() => { done = true; });
    while (!done) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try { seen.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')); } catch { /* gone */ }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await running).code).toBe(0);
    expect(seen.some((c) => c.includes(` tunnel ${b.uuid} --port 22222 --tunnel ${fleet.tunnel.address} --tunnel-user ${fleet.api.username}`))).toBe(true);
    expect(seen.filter((c) => c.includes(fleet.api.apiKey))).toEqual([]);
    // balena-cli's convention: the username for a user login; the token only inside TLS.
    const ok = fleet.tunnel.requests.filter((q) => q.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    for (const q of ok) expect(q).toMatchObject({ target: `${b.uuid}.balena:22222`, user: fleet.api.username, authorized: true });
    expect(fleet.api.unhandled).toEqual([]);
  } finally {
    await fleet.stop();
  }
});

test('tunnel refusals: bad credentials, unknown uuid, offline device → exit 2 and one line', async ({ vault, devices, tmp }) => {
  const fleet = await startBalenaFleet(tmp);
  try {
    const d = await trustingDevice(vault, devices);
    const b = fleet.add(d);
    const off = fleet.add(d, { online: false });
    const env = { ...vault.env, ...fleet.env };
    const oneLine = (s: string) => expect(s.trim().split('\n'), s).toHaveLength(1);

    const unknown = await runCli(['ssh', 'f'.repeat(32), '--', 'true'], { env });
    expect(unknown.code).toBe(2);
    oneLine(unknown.stderr);
    expect(unknown.stderr).toMatch(/Device not found/);

    // --via direct needs the address balena reports; this one reports none.
    const noAddr = fleet.add(d, { ipAddress: null });
    const direct = await runCli(['ssh', noAddr.uuid, '--via', 'direct', '--', 'true'], { env });
    expect(direct.code).toBe(2);
    oneLine(direct.stderr);
    expect(direct.stderr).toMatch(/reports no address to the balena API \(reach it through balena's tunnel \(--via tunnel\) or pass --host/);

    const offline = await runCli(['ssh', off.uuid, '--', 'true'], { env });
    expect(offline.code).toBe(2);
    oneLine(offline.stderr);
    expect(offline.stderr).toMatch(/offline \(503/);

    // A wrong key: the API answers the lookup as the guest (empty), whoami says 401.
    const badKey = await runCli(['ssh', b.uuid, '--', 'true'], { env: { ...env, BALENA_TOKEN: 'wrong-key' } });
    expect(badKey.code).toBe(2);
    oneLine(badKey.stderr);
    expect(badKey.stderr).toMatch(/balena API key was refused/);
    expect(badKey.stderr).not.toContain('wrong-key');

    // The same for a fleet: "key refused", not "Application not found".
    const fleetBadKey = await runCli(['ca', 'status', '--fleet', fleet.api.fleet.slug], { env: { ...env, BALENA_TOKEN: 'wrong-key' } });
    expect(fleetBadKey.code).toBe(2);
    oneLine(fleetBadKey.stderr);
    expect(fleetBadKey.stderr).toMatch(/the balena API key was refused \(401\)/);

    // The tunnel itself refusing (its answer for a token it does not accept) — fleetvault tunnel directly.
    const t407 = await runCli(['tunnel', b.uuid, '--tunnel-user', 'root'], { env: { ...env, BALENA_TOKEN: 'wrong-key' } });
    expect(t407.code).toBe(2);
    oneLine(t407.stderr);
    expect(t407.stderr).toMatch(/refused the credentials \(407\)/);
    const t404 = await runCli(['tunnel', 'e'.repeat(32), '--tunnel-user', 'root'], { env });
    expect(t404.code).toBe(2);
    expect(t404.stderr).toMatch(/no such device \(404\)/);
  } finally {
    await fleet.stop();
  }
});

test('ssh-config + plain `ssh <uuid>.balena` logs in through the tunnel', async ({ vault, devices, tmp }) => {
  const fleet = await startBalenaFleet(tmp);
  const sock = join(tmp, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    const d = await trustingDevice(vault, devices);
    const b = fleet.add(d);
    mkdirSync(fleet.env.HOME!, { recursive: true });
    const snippet = await runCli(['ssh-config'], { env: vault.env });
    expect(snippet.code, snippet.stderr).toBe(0);
    const cfg = join(tmp, 'ssh_config');
    writeFileSync(cfg, snippet.stdout);
    // Plain ssh has no HostKeyAlias: it knows the device as [<name>.balena]:22222.
    const kh = join(tmp, 'kh-plain');
    writeFileSync(kh, [b.uuid, b.uuid.slice(0, 7)].map((n) => `[${n}.balena]:22222 ${d.hostPublicKey}`).join('\n') + '\n');
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const env = { PATH: process.env.PATH!, SSH_AUTH_SOCK: sock, ...vault.env, ...fleet.env };
    for (const name of [b.uuid, b.uuid.slice(0, 7)]) {
      // Not execFileSync: the stand-ins live in this process and must keep answering.
      const r = await sshAsync(['-F', cfg, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${name}.balena`, 'id -un'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('root');
    }
    expect(fleet.tunnel.requests.filter((q) => q.status === 200 && q.target === `${b.uuid}.balena:22222`)).toHaveLength(2);
  } finally {
    agent.kill();
    await fleet.stop();
  }
});
