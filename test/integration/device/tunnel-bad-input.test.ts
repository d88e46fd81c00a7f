// Bad input around the tunnel, as a stranger would type it or a broken network would answer:
// exit 1 (usage) or 2 (remote), one line on stderr, and nothing written (the fresh HOME stays empty).
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { test, expect } from '../../support/context.js';
import { runCli, type CliResult } from '../../support/cli.js';
import { startBalenaFleet } from '../../support/balena-fleet.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';

function oneLine(r: CliResult, code: number, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout).toBe('');
}

test('malformed uuids and --tunnel values are refused before anything runs (exit 1, one line)', async ({ vault, tmp }) => {
  const home = `${tmp}/home`;
  mkdirSync(home);
  const env = { ...vault.env, HOME: home, BALENA_TOKEN: 'k' };
  oneLine(await runCli(['ssh', 'c0ffee!', '--', 'true'], { env }), 1, /invalid device "c0ffee!"/);
  oneLine(await runCli(['ssh', '../etc', '--', 'true'], { env }), 1, /invalid device/);
  oneLine(await runCli(['ssh', 'my-host', '--via', 'tunnel', '--', 'true'], { env }), 1, /--via tunnel needs a balena device uuid/);
  oneLine(await runCli(['ssh', 'c0ffee1', '--host', '10.0.0.1', '--via', 'tunnel'], { env }), 1, /contradict/);
  oneLine(await runCli(['tunnel', 'xyz'], { env }), 1, /invalid device uuid/);
  oneLine(await runCli(['tunnel', 'c0ffee1c0ffee1c0ffee1c0ffee1c0ffee1;rm'], { env }), 1, /invalid device uuid/);
  for (const bad of ['tunnel.example.com 443', 'https://tunnel.example.com', '-oProxyCommand=sh', 'tunnel.example.com:99999', 'tunnel.example.com:', '[::1', 'a:b:c', 'user@host:443']) {
    oneLine(await runCli(['ssh', 'c0ffee1', `--tunnel=${bad}`, '--', 'true'], { env }), 1, /--tunnel: invalid tunnel address/);
    oneLine(await runCli(['tunnel', 'c'.repeat(32), `--tunnel=${bad}`], { env }), 1, /invalid tunnel address/);
  }
  oneLine(await runCli(['ca', 'status', '--fleet', 'acme/x', '--tunnel', 'a b'], { env }), 1, /invalid tunnel address/);
  oneLine(await runCli(['ssh', 'c0ffee1', '--', 'true'], { env: { ...env, FLEETVAULT_BALENA_TUNNEL: 'http://x' } }), 1, /FLEETVAULT_BALENA_TUNNEL: invalid tunnel address/);
  // No tunnel derivable from an API URL that is not api.<domain>: say so, do not guess.
  oneLine(await runCli(['tunnel', 'c'.repeat(32), '--balena-url', 'http://127.0.0.1:1'], { env }), 1, /cannot tell balena's tunnel host/);
  // No login at all: where fleetvault looked.
  oneLine(await runCli(['tunnel', 'c'.repeat(32), '--tunnel', '127.0.0.1:1'], { env: { ...env, BALENA_TOKEN: undefined } }), 1, /needs a balena login: none in BALENA_TOKEN or .*\.balena\/token/);
  expect(readdirSync(home)).toEqual([]);
});

test('a tunnel that answers garbage, closes mid-handshake or is not trusted: exit 2, one line, nothing written', async ({ vault, devices, tmp }) => {
  const fleet = await startBalenaFleet(tmp);
  try {
    const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
    const config = defaultDeviceConfig('g');
    (config.os as { sshKeys: string[] }).sshKeys = [line];
    const d = await devices.start({ config });
    const b = fleet.add(d);
    mkdirSync(fleet.env.HOME!);
    const env = { ...vault.env, ...fleet.env };
    fleet.tunnel.mode = 'garbage';
    oneLine(await runCli(['ssh', b.uuid, '--', 'true'], { env }), 2, /answered something that is not HTTP/);
    oneLine(await runCli(['tunnel', b.uuid, '--tunnel-user', 'root'], { env }), 2, /answered something that is not HTTP/);
    fleet.tunnel.mode = 'close';
    oneLine(await runCli(['ssh', b.uuid, '--', 'true'], { env }), 2, /closed the connection during the handshake/);
    fleet.tunnel.mode = 'normal';
    // TLS is verified: without the test CA the stand-in's certificate is not trusted.
    oneLine(await runCli(['ssh', b.uuid, '--', 'true'], { env: { ...env, NODE_EXTRA_CA_CERTS: undefined } }), 2, /TLS verification of the balena tunnel .* failed/);
    // Nothing listening there.
    oneLine(await runCli(['ssh', b.uuid, '--tunnel', '127.0.0.1:1', '--', 'true'], { env }), 2, /cannot connect to the balena tunnel 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    expect(readdirSync(fleet.env.HOME!)).toEqual([]);
    expect(existsSync(`${fleet.env.HOME}/.ssh`)).toBe(false);
    expect(fleet.tunnel.requests.filter((q) => q.status === 200)).toEqual([]);
  } finally {
    await fleet.stop();
  }
});

test('ssh-config\'s ProxyCommand: a .balena name that is no uuid is refused (exit 1, one line) before Vault or balena is asked', async ({ tmp }) => {
  const home = `${tmp}/home`;
  mkdirSync(home);
  // Vault and balena are unreachable: reaching either would be exit 2, connecting to "vm" something else.
  const env = { HOME: home, VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: 't', BALENA_TOKEN: 'k', BALENARC_API_URL: 'http://127.0.0.1:1', SSH_AUTH_SOCK: `${tmp}/no-agent` };
  oneLine(await runCli(['ssh-proxy', 'vm.balena', '22'], { env }), 1, /invalid balena uuid "vm"/);
  oneLine(await runCli(['ssh-proxy', `${'a'.repeat(40)}.balena`, '22222'], { env }), 1, /40 hex characters \(a uuid has 32 or 62/);
  oneLine(await runCli(['ssh-proxy', 'c0ffeeX.balena', '22222'], { env }), 1, /invalid balena uuid/);
  oneLine(await runCli(['ssh', 'a'.repeat(45), '--', 'true'], { env }), 1, /45 hex characters/);
  expect(readdirSync(home)).toEqual([]);
});
