// After a failed /device/register, fleetvault removes the device only when the answer was lost
// (5xx, no answer) and the device can only be this call's; a 4xx refusal created nothing, and a
// uuid that existed before is someone else's device. Against the stand-in balena API.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { registerDevice } from '../../../src/balena/sdk.js';
import { startBalenaApi, type BalenaApi } from '../../support/balena-api.js';

let api: BalenaApi;
beforeEach(async () => { api = await startBalenaApi({ fleetSlug: 'acme/sensors' }); });
afterEach(async () => { await api.stop(); });

const reg = (uuid?: string, token = api.apiKey) => registerDevice({ apiUrl: api.url, token, fleet: 'acme/sensors', deviceType: api.fleet.deviceType, osVersion: '6.0.13', uuid });
const EXISTING = 'e'.repeat(32);

describe('cleanup after a failed register call', () => {
  test('409 for an existing uuid: the existing device is left alone', async () => {
    api.addDevice({ uuid: EXISTING });
    await expect(reg(EXISTING)).rejects.toThrow(/failed to register a .* device in acme\/sensors: the balena API answered 409/);
    expect(api.devices.map((d) => d.uuid)).toEqual([EXISTING]);
    expect(api.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
  });
  test('a lost answer (500) for a uuid that existed before: left alone, and said so', async () => {
    api.addDevice({ uuid: EXISTING });
    api.failNext('POST', '/device/register', 500, 'Internal Server Error');
    await expect(reg(EXISTING)).rejects.toThrow(/existed before and was left alone/);
    expect(api.devices.map((d) => d.uuid)).toEqual([EXISTING]);
  });
  test('a lost answer for a fresh uuid: the device this call created is removed', async () => {
    api.failNextRegisterAfterCreate();
    await expect(reg()).rejects.toThrow(/the device it had created was removed again/);
    expect(api.devices).toEqual([]);
  });
  test('a refused key says "failed to register" once', async () => {
    const e = await reg(undefined, 'wrong-key').catch((x: Error) => x);
    expect((e as Error).message).toMatch(/^failed to register a \S+ device in acme\/sensors: the balena API key was refused \(401\)$/);
  });
});
