// `fleetvault ssh <uuid>` through balena's tunnel: the real balena-sdk against the API stand-in,
// TLS + CONNECT against the tunnel stand-in (verified with the test CA), the system ssh with a
// `fleetvault tunnel` ProxyCommand, a Vault certificate checked by the device's own sshd.
import { mkdirSync } from 'node:fs';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startBalenaFleet } from '../../support/balena-fleet.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';

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
