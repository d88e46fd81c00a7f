// Device lookup through the real balena-sdk against the local balenaCloud stand-in.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor } from '../../support/ssh.js';
import { startBalenaApi } from '../../support/balena-api.js';
import { defaultDeviceConfig, startDevice } from '../../../src/dev/device.js';
import { freePort } from '../../../src/dev/free-port.js';

test('fleetvault ssh <short uuid> resolves the device through balena; unreachable balena suggests --host', async ({ vault, devices, tmp }) => {
  const api = await startBalenaApi();
  try {
    const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
    const config = defaultDeviceConfig('d');
    (config.os as { sshKeys: string[] }).sshKeys = [line];
    const d = await devices.start({ config });
    const uuid = 'c0ffee' + '1'.repeat(26);
    api.addDevice({ uuid, ip_address: `${d.host} fe80::1`, is_online: true });
    const kh = knownHostsFor(tmp, [d]);
    const env = { ...vault.env, BALENA_TOKEN: api.apiKey };
    const r = await runCli(['ssh', uuid.slice(0, 7), '--via', 'direct', '--balena-url', api.url, '--port', String(d.port), '--user-known-hosts-file', kh, '--json', '--', 'id', '-un'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('root');
    expect(api.requests.some((q) => q.path === '/v7/device' && q.query.includes(`startswith(uuid,'${uuid.slice(0, 7)}')`))).toBe(true);
    expect(api.unhandled).toEqual([]);

    const closed = await freePort();
    const offline = await runCli(['ssh', uuid.slice(0, 7), '--via', 'direct', '--balena-url', `http://127.0.0.1:${closed}`, '--', 'true'], { env });
    expect(offline.code).toBe(2);
    // One line, the cause named (issue 12: it used to say "TypeError").
    expect(offline.stderr.trim().split('\n')).toHaveLength(1);
    expect(offline.stderr).toMatch(/cannot reach the balena API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(offline.stderr).not.toMatch(/TypeError/);
    expect(offline.stderr).not.toContain(api.apiKey);
  } finally {
    await api.stop();
  }
});

test('ca rollout --fleet takes devices and addresses from balena', async ({ vault, tmp }) => {
  const api = await startBalenaApi();
  const port = await freePort();
  const opKey = join(tmp, 'op');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
  const started = [];
  try {
    for (let i = 0; i < 3; i++) {
      const config = defaultDeviceConfig(`f${i}`);
      (config.os as { sshKeys: string[] }).sshKeys = [readFileSync(`${opKey}.pub`, 'utf8').trim()];
      // Fleet devices share one SSH port, on different addresses.
      const d = await startDevice({ dir: join(tmp, `f${i}`), name: `f${i}`, host: `127.0.${100 + i}.1`, port, config });
      started.push(d);
      api.addDevice({ uuid: `${i}`.repeat(32), ip_address: d.host });
    }
    const kh = knownHostsFor(tmp, started);
    writeFileSync(join(tmp, 'unused'), '');
    const r = await runCli(['ca', 'rollout', '--fleet', api.fleet.slug, '--via', 'direct', '--balena-url', api.url, '--port', String(port),
      '--config-path', '/CONFIG', '--identity', opKey, '--user-known-hosts-file', kh, '--journal', join(tmp, 'j'), '--json'],
    { env: { ...vault.env, BALENA_TOKEN: api.apiKey } });
    // Each device keeps its config.json elsewhere: with a shared --config-path they all report it missing.
    expect(r.code).toBe(2);
    const rep = JSON.parse(r.stdout);
    expect(rep.total).toBe(3);
    expect(rep.devices.map((x: { host: string }) => x.host).sort()).toEqual(started.map((d) => d.host).sort());
    expect(rep.devices.every((x: { reason: string }) => /no config.json at \/CONFIG/.test(x.reason))).toBe(true);
    expect(api.unhandled).toEqual([]);
  } finally {
    await Promise.all(started.map((d) => d.stop()));
    await api.stop();
  }
});
