// Property-based tests of the sealed-envelope parser (src/provision/envelope.ts): whatever bytes
// arrive, the parser returns a valid envelope or throws one UsageError; valid envelopes round-trip.
// 10 000 generated cases per property.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ENVELOPE_FORMAT, ENVELOPE_VERSION, formatEnvelope, parseEnvelope, type SealedEnvelope } from '../../../src/provision/envelope.js';
import { UsageError } from '../../../src/errors.js';

const RUNS = { numRuns: 10_000 };
const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,30}$/).filter((s) => !s.includes('..'));
const slugPart = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}$/);
const fleet = fc.oneof(slugPart, fc.tuple(slugPart, slugPart).map(([a, b]) => `${a}/${b}`));
const envelope: fc.Arbitrary<SealedEnvelope> = fc.record({
  mount: name, key: name, fleet,
  keyVersion: fc.integer({ min: 1, max: 999_999_999 }),
  createdAt: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 96 }),
}).map((g) => ({
  format: ENVELOPE_FORMAT, version: ENVELOPE_VERSION, mount: g.mount, key: g.key, keyVersion: g.keyVersion, fleet: g.fleet,
  createdAt: g.createdAt, ciphertext: `vault:v${g.keyVersion}:${Buffer.from(g.bytes).toString('base64')}`,
}));

function parsesOrUsageError(text: string): SealedEnvelope | undefined {
  try {
    return parseEnvelope(text, 'e.json');
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^failed to read sealed config e\.json: /);
    expect((e as Error).message).not.toContain('\n');
    return undefined;
  }
}

describe('envelope parser', () => {
  test('valid envelopes round-trip through format → parse, and formatting is stable', () => {
    fc.assert(fc.property(envelope, (e) => {
      const text = formatEnvelope(e);
      const back = parseEnvelope(text, 'e.json');
      expect(back).toEqual(e);
      expect(formatEnvelope(back)).toBe(text);
      // Key order and whitespace do not matter to the parser.
      const shuffled = JSON.stringify(Object.fromEntries(Object.entries(e).reverse()));
      expect(parseEnvelope(shuffled, 'e.json')).toEqual(e);
    }), RUNS);
  });

  test('arbitrary JSON values never throw anything but a UsageError', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => {
      parsesOrUsageError(JSON.stringify(v));
    }), RUNS);
  });

  test('arbitrary bytes and strings never throw anything but a UsageError', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('utf8')),
      envelope.chain((e) => { const t = formatEnvelope(e); return fc.nat(t.length).map((n) => t.slice(0, n)); }),
    );
    fc.assert(fc.property(text, (t) => { parsesOrUsageError(t); }), RUNS);
  });

  test('one field of a valid envelope replaced by anything: refused, unless the result is still valid', () => {
    const fields = ['format', 'version', 'mount', 'key', 'keyVersion', 'fleet', 'createdAt', 'ciphertext', '__proto__', 'constructor', 'extra'];
    fc.assert(fc.property(envelope, fc.constantFrom(...fields), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)), (e, field, value) => {
      const o: Record<string, unknown> = JSON.parse(formatEnvelope(e));
      if (value === undefined) delete o[field]; else o[field] = value;
      // Built by hand so that "__proto__" becomes a real key of the JSON text.
      const text = '{' + Object.entries(o).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',') + (field === '__proto__' && value !== undefined ? `,"__proto__":${JSON.stringify(value)}` : '') + '}';
      const r = parsesOrUsageError(text);
      if (r) {
        // Accepted: then it is exactly a valid envelope with the fixed fields.
        expect(Object.keys(r).sort()).toEqual(['ciphertext', 'createdAt', 'fleet', 'format', 'key', 'keyVersion', 'mount', 'version']);
        expect(r.ciphertext.startsWith(`vault:v${r.keyVersion}:`)).toBe(true);
        expect(r.mount.includes('..') || r.key.includes('..')).toBe(false);
      }
    }), RUNS);
  });
});
