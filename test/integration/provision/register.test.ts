// Out-of-band registration: the real balena-sdk against the local balenaCloud stand-in, the API
// key read from the real OpenBao's KV v2, the CA line from the real SSH CA.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test as base, expect, describe } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startBalenaApi, type BalenaApi } from '../../support/balena-api.js';
import { buildDiskImage, mtoolsRead } from '../../support/disk-image.js';
import { findDevice } from '../../../src/balena/sdk.js';
import { registerOutOfBand } from '../../../src/provision/register.js';
import { UsageError } from '../../../src/errors.js';

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
    expect(config).toMatchObject({ uuid: dev.uuid, deviceApiKey: dev.api_key, deviceId: dev.id, applicationId: balena.fleet.id, deviceType: 'raspberrypi4-64', apiEndpoint: `https://${new URL(balena.url).host}` });
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
    // The stand-in enforces open-balena-api's limits (50/150); every key fleetvault names fits.
    for (const k of balena.provisioningKeys) expect((k.name ?? '').length).toBeLessThanOrEqual(50);
    // The config template (and its key) is fetched before the device is registered.
    const order = balena.requests.map((q) => q.path);
    expect(order.indexOf('/download-config')).toBeLessThan(order.indexOf('/device/register'));
    // The key never appears in argv-visible places: it came from Vault.
    expect(r.stderr).not.toContain(balena.apiKey);

    // findDevice resolves the short and full uuid.
    for (const q of [dev.uuid, dev.uuid.slice(0, 7)]) {
      expect(await findDevice({ apiUrl: balena.url, token: balena.apiKey, uuidOrShort: q })).toEqual({ uuid: dev.uuid, name: dev.device_name, ipAddresses: [], isOnline: false, fleet: balena.fleet.slug });
      // $select is honoured: the API returns exactly the fields asked for.
      expect(balena.requests.at(-1)!.query).toMatch(/\$select=id,uuid,device_name,ip_address,is_online/);
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

  test('a lost answer after registration leaves no orphan: the device is removed again (exit 2, one line)', async ({ vault, balena, tmp }) => {
    await vault.root.write(`${vault.layout.kvMount}/data/balena`, { data: { apiKey: balena.apiKey, apiUrl: balena.url } });
    const out = join(tmp, 'config.json');
    balena.failNextRegisterAfterCreate();
    const r = await runCli(['provision', 'register', '--fleet', 'acme/line3', '--device-type', 'raspberrypi4-64', '--out', out], { env: vault.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/the balena API answered 500: Internal Server Error; the device it had created was removed again/);
    expect(balena.devices).toHaveLength(0);
    expect(balena.requests.some((q) => q.method === 'DELETE' && q.path === '/v7/device')).toBe(true);
    expect(existsSync(out)).toBe(false);
    expect(balena.unhandled).toEqual([]);
  });

  test('the API\'s own reason is shown, never a bare status; nothing is registered', async ({ vault, balena, tmp }) => {
    await vault.root.write(`${vault.layout.kvMount}/data/balena`, { data: { apiKey: balena.apiKey, apiUrl: balena.url } });
    const reason = 'It is necessary that each api key that has a name, has a name that has a Length (Type) that is less than or equal to 50.';
    balena.failNext('POST', '/download-config', 400, JSON.stringify(reason));
    const r = await runCli(['provision', 'register', '--fleet', 'acme/line3', '--device-type', 'raspberrypi4-64', '--out', join(tmp, 'c.json')], { env: vault.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`the balena API answered 400: ${reason}`);
    expect(balena.devices).toHaveLength(0);
    // An output that cannot be written is found before anything is registered.
    const noDir = await runCli(['provision', 'register', '--fleet', 'acme/line3', '--device-type', 'raspberrypi4-64', '--out', join(tmp, 'missing', 'c.json')], { env: vault.env });
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toMatch(/cannot write .*: directory .* does not exist/);
    // A wrong fleet with a good key is "not found"; a wrong key is "refused" (the API answers both with an empty list).
    const fleet = await runCli(['provision', 'register', '--fleet', 'acme/nope', '--device-type', 'raspberrypi4-64', '--out', join(tmp, 'c.json')], { env: vault.env });
    expect(fleet.code).toBe(2);
    expect(fleet.stderr).toMatch(/Application not found: acme\/nope/);
    expect(balena.devices).toHaveLength(0);
  });

  test('a write that fails after registration removes the device again, or names the command that does', async ({ vault, balena }) => {
    await vault.root.write(`${vault.layout.kvMount}/data/balena`, { data: { apiKey: balena.apiKey, apiUrl: balena.url } });
    const base = { client: vault.root, kvMount: vault.layout.kvMount, sshMount: vault.layout.sshMount, fleet: 'acme/line3', deviceType: 'raspberrypi4-64', osVersion: '6.0.13' };
    const diskFull = async () => { throw new UsageError('ENOSPC: no space left on device'); };
    await expect(registerOutOfBand({ ...base, write: diskFull })).rejects.toThrow(/ENOSPC: no space left on device; the device was removed from acme\/line3 again/);
    expect(balena.devices).toHaveLength(0);
    // The removal fails too: the uuid and the one command that removes it.
    balena.failNext('DELETE', '/v7/device', 500, 'Internal Server Error');
    const e = await registerOutOfBand({ ...base, write: diskFull }).then(() => { throw new Error("registered"); }, (x: unknown) => x as UsageError);
    expect(balena.devices).toHaveLength(1);
    const uuid = balena.devices[0]!.uuid;
    expect(e.message).toMatch(new RegExp(`device ${uuid}: ENOSPC.*still registered in acme/line3`));
    expect(e.hint).toBe(`remove it with: balena device rm ${uuid} --yes`);
    expect(e.exitCode).toBe(1);
  });
});
