// The scoped principal scheme: every principal stays within [A-Za-z0-9._-], and the fleet-slug
// encoding is injective (decode ∘ encode = id), so two fleets never share a principal.
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  BREAK_GLASS_PRINCIPAL, decodeFleetSlug, devicePrincipal, devicePrincipals, encodeFleetSlug, fleetPrincipal, normalizeFleetSlug, normalizeUuid,
  parseScopePrincipal, scopePrincipal,
} from '../../../src/access/principals.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';
import { UsageError } from '../../../src/errors.js';

const SAFE = /^[A-Za-z0-9._-]+$/;
const part = fc.stringMatching(/^[a-z0-9._-]{1,40}$/);
const slug = fc.tuple(part, part).map(([o, f]) => `${o}/${f}`);
const uuid = fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{62}$/));

describe('fleet slug encoding', () => {
  test('review #14: a non-ASCII letter that lower-cases to ASCII (KELVIN SIGN) is refused, not folded into another fleet', () => {
    expect(() => normalizeFleetSlug('acme/\u212Aiosk')).toThrow(/character "\u212A" \(U\+212A\) is not allowed/);
    expect(() => normalizeFleetSlug('acme/a b')).toThrow(/character " " is not allowed/);
    expect(() => fleetPrincipal('acme/\u212Aiosk')).toThrow(UsageError);
    expect(normalizeFleetSlug('ACME/Kiosk')).toBe('acme/kiosk');
  });

  test('review #14: a legal slug too long for a principal says so, with the limit', () => {
    expect(() => fleetPrincipal(`acme/${'_'.repeat(100)}`)).toThrow(/is too long: its principal would be 311 characters, the limit is 256/);
    expect(() => normalizeFleetSlug(`acme/${'a'.repeat(101)}`)).toThrow(/a part is longer than 100 characters/);
  });

  test('examples', () => {
    expect(fleetPrincipal('acme/sensors')).toBe('fleet-acme.sensors');
    expect(fleetPrincipal('ACME/Sensors')).toBe('fleet-acme.sensors');
    expect(encodeFleetSlug('my_org/v1.2')).toBe('my_5forg.v1_2e2');
    expect(decodeFleetSlug('my_5forg.v1_2e2')).toBe('my_org/v1.2');
    // Look-alikes that a naive "/ → ." mapping would merge.
    expect(fleetPrincipal('a.b/c')).not.toBe(fleetPrincipal('a/b.c'));
  });

  test('property: every fleet principal is within [A-Za-z0-9._-] and the principal validator accepts it', () => {
    fc.assert(fc.property(slug, (s) => {
      const p = fleetPrincipal(s);
      expect(p).toMatch(SAFE);
      expect(p.length).toBeLessThanOrEqual(256);
    }), { numRuns: 2000 });
  });

  test('property: decode(encode(s)) = s, so the encoding is injective', () => {
    fc.assert(fc.property(slug, (s) => decodeFleetSlug(encodeFleetSlug(s)) === s), { numRuns: 2000 });
    fc.assert(fc.property(slug, slug, (a, b) => (a === b) === (fleetPrincipal(a) === fleetPrincipal(b))), { numRuns: 2000 });
  });

  test('property: principals of different kinds never collide, and each parses back to its scope', () => {
    fc.assert(fc.property(slug, uuid, (s, u) => {
      const all = devicePrincipals({ uuid: u, fleet: s });
      expect(new Set(all).size).toBe(3);
      expect(parseScopePrincipal(all[0]!)).toEqual({ kind: 'device', uuid: u });
      expect(parseScopePrincipal(all[1]!)).toEqual({ kind: 'fleet', slug: s });
      expect(parseScopePrincipal(all[2]!)).toEqual({ kind: 'break-glass' });
    }), { numRuns: 1000 });
  });

  test('property: any slug with a character outside a-z 0-9 . _ - (besides one /) is refused with a UsageError', () => {
    const bad = fc.tuple(part, fc.constantFrom(',', '"', ' ', '\t', '*', '?', 'é', 'ß', '\u0000', '\u202e', '/', ':', '\\', '\n'), part)
      .map(([a, c, b]) => `${a}${c}x/${b}`);
    fc.assert(fc.property(bad, (s) => {
      expect(() => fleetPrincipal(s)).toThrow(UsageError);
    }), { numRuns: 500 });
    for (const s of ['acme', 'acme/', '/x', 'a/b/c', 'acme/sen,sors', 'acme/"x', 'acme/my fleet', 'acme/flötte', '']) {
      expect(() => fleetPrincipal(s), s).toThrow(UsageError);
    }
  });
});

describe('device and break-glass principals', () => {
  test('a balena uuid (32 or 62 hex) is lower-cased; anything else is refused', () => {
    expect(devicePrincipal('0123456789ABCDEF0123456789abcdef')).toBe('device-0123456789abcdef0123456789abcdef');
    for (const u of ['', 'xyz', '0123456789abcdef0123456789abcde', '0123456789abcdef0123456789abcdefg', '0123456789abcdef 123456789abcdef', '../../etc']) {
      expect(() => normalizeUuid(u), u).toThrow(UsageError);
    }
    expect(scopePrincipal({ kind: 'break-glass' })).toBe(BREAK_GLASS_PRINCIPAL);
  });

  test('the scoped cert-authority line names the device, its fleet and break-glass', () => {
    const line = authorizedKeyLine({
      publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb', fingerprint: 'SHA256:x', mount: 'ssh-client-signer',
      principals: devicePrincipals({ uuid: 'a'.repeat(32), fleet: 'acme/sensors' }),
    });
    expect(line).toBe(`cert-authority,principals="device-${'a'.repeat(32)},fleet-acme.sensors,break-glass" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb fleetvault:ssh-client-signer:SHA256:x`);
  });
});
