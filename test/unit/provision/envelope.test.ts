import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { ciphertextVersion, fleetContext, formatEnvelope, parseConfigObject, parseEnvelope, validateFleetSlug, type SealedEnvelope } from '../../../src/provision/envelope.js';
import { stripProvisioningKey } from '../../../src/provision/strip.js';
import { validateBatchName } from '../../../src/provision/batch.js';
import { UsageError } from '../../../src/errors.js';

const good: SealedEnvelope = {
  format: 'fleetvault-sealed-config', version: 1, mount: 'transit', key: 'balena-provisioning', keyVersion: 3,
  fleet: 'acme/sensors', createdAt: '2025-06-01T10:00:00.000Z', ciphertext: 'vault:v3:QUJDREVGR0g=',
};

describe('envelope', () => {
  test('format → parse round trips', () => {
    expect(parseEnvelope(formatEnvelope(good), 'x')).toEqual(good);
  });
  test('the context is base64 of the fleet slug', () => {
    expect(fleetContext('acme/sensors')).toBe(Buffer.from('acme/sensors').toString('base64'));
    expect(ciphertextVersion('vault:v12:AAAA')).toBe(12);
  });
  test.each([
    ['not JSON', '{'],
    ['array', '[]'],
    ['wrong format', JSON.stringify({ ...good, format: 'x' })],
    ['wrong version', JSON.stringify({ ...good, version: '1' })],
    ['missing fleet', JSON.stringify({ ...good, fleet: undefined })],
    ['null key', JSON.stringify({ ...good, key: null })],
    ['bad ciphertext', JSON.stringify({ ...good, ciphertext: 'vault:v3:not base64!' })],
    ['v0', JSON.stringify({ ...good, ciphertext: 'vault:v0:AAAA', keyVersion: 0 })],
    ['version mismatch', JSON.stringify({ ...good, keyVersion: 2 })],
    ['mount traversal', JSON.stringify({ ...good, mount: 'a/../sys' })],
    ['bad date', JSON.stringify({ ...good, createdAt: 'yesterday' })],
    ['unknown field', JSON.stringify({ ...good, note: 1 })],
  ])('refuses %s with one line', (_name, text) => {
    let err: unknown;
    try { parseEnvelope(text, 'e.json'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/^failed to read sealed config e\.json: /);
    expect((err as Error).message).not.toContain('\n');
  });
  test('any string either parses to a valid envelope or is a UsageError', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      try { parseEnvelope(s, 'f'); } catch (e) { return e instanceof UsageError; }
      return true;
    }));
  });
  test('fleet slugs', () => {
    expect(validateFleetSlug('acme/sensors')).toBe('acme/sensors');
    for (const bad of ['', 'a b', 'a/b/c', '../x', 'a\n']) expect(() => validateFleetSlug(bad)).toThrow(UsageError);
  });
  test('config objects', () => {
    expect(parseConfigObject('{"a":1}', 'c')).toEqual({ a: 1 });
    for (const bad of ['[]', 'null', '1', '{']) expect(() => parseConfigObject(bad, 'c')).toThrow(UsageError);
  });
});

describe('strip and batch names', () => {
  test('strip removes apiKey only when deviceApiKey exists', () => {
    expect(stripProvisioningKey({ apiKey: 'p', deviceApiKey: 'd' })).toEqual({ config: { deviceApiKey: 'd' }, removed: true });
    expect(stripProvisioningKey({ deviceApiKey: 'd' })).toEqual({ config: { deviceApiKey: 'd' }, removed: false });
    expect(() => stripProvisioningKey({ apiKey: 'p' })).toThrow(/no deviceApiKey/);
    expect(() => stripProvisioningKey({ apiKey: 'p', deviceApiKey: '' })).toThrow(UsageError);
  });
  test('batch names', () => {
    expect(validateBatchName('line3-2025w24')).toBe('line3-2025w24');
    for (const bad of ['', '-x', 'a b', 'x'.repeat(65), 'a/b']) expect(() => validateBatchName(bad)).toThrow(UsageError);
  });
});
