// Out-of-band registration: the real balena-sdk against the local balenaCloud stand-in, the API
// key read from the real OpenBao's KV v2, the CA line from the real SSH CA.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test as base, expect, describe } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startBalenaApi, type BalenaApi } from '../../support/balena-api.js';
import { buildDiskImage, mtoolsRead } from '../../support/disk-image.js';
import { findDevice } from '../../../src/balena/sdk.js';

const test = base.extend<{ balena: BalenaApi }>({
  // eslint-disable-next-line no-empty-pattern
  balena: async ({}, use) => {
    const api = await startBalenaApi({ fleetSlug: 'acme/line3' });
    await use(api);
    await api.stop();
  },
});

describe('provision register', () => {
  test('registers through balena-sdk and writes a device config.json with the CA line and no provisioning key', async ({ vault, balena, tmp }) => {
    await vault.root.write(`${vault.layout.kvMount}/data/balena`, { data: { apiKey: balena.apiKey, apiUrl: balena.url } });
    const out = join(tmp, 'config.json');
    const r = await runCli(['provision', 'register', '--fleet', 'acme/line3', '--device-type', 'raspberrypi4-64', '--out', out, '--json'], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(balena.devices).toHaveLength(1);
    const dev = balena.devices[0]!;
    expect(res).toEqual({ uuid: dev.uuid, deviceId: dev.id, fleet: 'acme/line3', deviceType: 'raspberrypi4-64', path: out });
    const config = JSON.parse(readFileSync(out, 'utf8'));
    expect(config).toMatchObject({ uuid: dev.uuid, deviceApiKey: dev.api_key, deviceId: dev.id, applicationId: balena.fleet.id, deviceType: 'raspberrypi4-64', apiEndpoint: balena.url });
    expect(config).not.toHaveProperty('apiKey');
    expect(Math.abs(config.registered_at - Date.now() / 1000)).toBeLessThan(60);
    const caLine = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
    expect(config.os.sshKeys).toEqual([caLine]);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    // No provisioning key of any kind in the written file.
    for (const k of balena.provisioningKeys) expect(readFileSync(out, 'utf8')).not.toContain(k.key);
    // The SDK's real request sequence, all answered; only /device/register used a provisioning key.
    expect(balena.unhandled).toEqual([]);
    expect(balena.requests.map((q) => `${q.method} ${q.path}`)).toEqual(expect.arrayContaining([
      'GET /actor/v1/whoami', 'POST /api-key/v2/', 'POST /device/register', 'POST /download-config', 'GET /v7/device_type',
    ]));
    for (const q of balena.requests) expect(q.auth).toBe(q.path === '/device/register' ? 'provisioning' : 'user');
    // The key never appears in argv-visible places: it came from Vault.
    expect(r.stderr).not.toContain(balena.apiKey);

    // findDevice resolves the short and full uuid.
    for (const q of [dev.uuid, dev.uuid.slice(0, 7)]) {
      expect(await findDevice({ apiUrl: balena.url, token: balena.apiKey, uuidOrShort: q })).toEqual({ uuid: dev.uuid, name: dev.device_name, ipAddresses: [], isOnline: false });
    }
  });

  test('--image writes the device config.json into the boot partition', async ({ vault, balena, tmp }) => {
    await vault.root.write(`${vault.layout.kvMount}/data/balena`, { data: { apiKey: balena.apiKey, apiUrl: balena.url } });
    // The stock image's config.json carries a provisioning apiKey: it must be gone afterwards.
    const img = buildDiskImage(tmp, { files: { 'config.json': JSON.stringify({ applicationId: 1001, apiKey: 'stock-provisioning-key', pad: 'p'.repeat(6000) }) } });
    const r = await runCli(['provision', 'register', '--fleet', 'acme/line3', '--device-type', 'raspberrypi4-64', '--image', img.path], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    const config = JSON.parse(mtoolsRead(img, 'config.json').toString('utf8'));
    expect(config.uuid).toBe(balena.devices[0]!.uuid);
    expect(config).not.toHaveProperty('apiKey');
    expect(readFileSync(img.path).includes('stock-provisioning-key')).toBe(false);
  });

  test('a missing API key in Vault or a refused key registers nothing', async ({ vault, balena, tmp }) => {
    const out = join(tmp, 'config.json');
    const none = await runCli(['provision', 'register', '--fleet', 'acme/line3', '--device-type', 'raspberrypi4-64', '--out', out], { env: vault.env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/failed to read the balena API key/);
    await vault.root.write(`${vault.layout.kvMount}/data/balena`, { data: { apiKey: 'wrong-key', apiUrl: balena.url } });
    const bad = await runCli(['provision', 'register', '--fleet', 'acme/line3', '--device-type', 'raspberrypi4-64', '--out', out], { env: vault.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).not.toContain('wrong-key');
    expect(balena.devices).toHaveLength(0);
    expect(existsSync(out)).toBe(false);
  });
});

describe('provision strip', () => {
  test('removes a leftover provisioning apiKey once deviceApiKey is present, refuses otherwise', async ({ tmp }) => {
    const f = join(tmp, 'config.json');
    writeFileSync(f, JSON.stringify({ apiKey: 'prov', deviceApiKey: 'dev', uuid: 'u' }), { mode: 0o644 });
    const r = await runCli(['provision', 'strip', f, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ path: f, removed: true, backups: [] });
    expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual({ deviceApiKey: 'dev', uuid: 'u' });
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const again = await runCli(['provision', 'strip', f]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/unchanged/);
    const g = join(tmp, 'unregistered.json');
    const text = JSON.stringify({ apiKey: 'prov' });
    writeFileSync(g, text);
    const refused = await runCli(['provision', 'strip', g]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/no deviceApiKey/);
    expect(readFileSync(g, 'utf8')).toBe(text);
  });
});
