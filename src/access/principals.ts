// The scoped principals a device trusts and a certificate carries. balenaOS maps every login name
// to root (libnss-ato), so the principal is free to carry scope: a device's cert-authority line
// says principals="device-<uuid>,fleet-<org>.<app>,break-glass" and sshd accepts a certificate
// holding any one of them, whatever the login name.
//
// Every principal stays within [A-Za-z0-9._-] (ASCII user-name characters): no `,` (principals=
// list separator, CVE-2026-35414), no `"`, no `*`/`?` patterns, no whitespace or control
// characters — stricter than src/ssh/principals.ts, so it holds when that validator tightens.
// The same string is the Vault SSH role name (Vault role names allow exactly [A-Za-z0-9_.-]).
import { UsageError } from '../errors.js';
import { validatePrincipal } from '../ssh/principals.js';

export const DEVICE_PREFIX = 'device-';
export const FLEET_PREFIX = 'fleet-';
/** The one principal every fleetvault device trusts for emergencies; its role demands a reason. */
export const BREAK_GLASS_PRINCIPAL = 'break-glass';

export type Scope =
  | { kind: 'device'; uuid: string }
  | { kind: 'fleet'; slug: string }
  | { kind: 'break-glass' };

// balena device uuids: 32 lowercase hex characters (62 on devices registered by old clients).
const UUID = /^(?:[0-9a-f]{32}|[0-9a-f]{62})$/;

/** A balena device uuid, lower-cased; anything else is refused (exit 1). */
export function normalizeUuid(uuid: string): string {
  const u = uuid.trim().toLowerCase();
  if (!UUID.test(u)) {
    throw new UsageError(`malformed device uuid ${JSON.stringify(uuid.slice(0, 80))}`, { hint: 'a balena uuid is 32 (or 62) hexadecimal characters' });
  }
  return u;
}

// A balena fleet slug is `<org handle>/<fleet name>`, lower case. balena compares slugs without
// case, so input is lower-cased — but only once it is known to be ASCII: toLowerCase folds some
// non-ASCII letters into ASCII ones (KELVIN SIGN U+212A → k), which would make `acme/\u212Aiosk`
// another fleet's slug.
const SLUG_PART_MAX = 100;
const SLUG_PART = new RegExp(`^[a-z0-9._-]{1,${SLUG_PART_MAX}}$`);

/** `org/fleet`, lower-cased, or a one-line UsageError saying which character is not allowed. */
export function normalizeFleetSlug(slug: string): string {
  const refuse = (why: string) => new UsageError(`fleet slug ${JSON.stringify(slug.slice(0, 80))} refused: ${why}`, { hint: 'a balena fleet slug is <org>/<fleet> of a-z 0-9 . _ -' });
  const bad = [...slug].find((c) => !/[A-Za-z0-9._\-/]/.test(c));
  // The code point too: a look-alike (KELVIN SIGN U+212A for k) is invisible in the character itself.
  const cp = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  if (bad !== undefined) throw refuse(`character ${JSON.stringify(bad)}${/[^\x20-\x7e]/.test(bad) ? ` (${cp(bad)})` : ''} is not allowed`);
  const s = slug.toLowerCase();
  const parts = s.split('/');
  if (parts.length !== 2 || parts.some((p) => !p)) throw refuse('expected <org>/<fleet>');
  if (parts.some((p) => p.length > SLUG_PART_MAX)) throw refuse(`a part is longer than ${SLUG_PART_MAX} characters`);
  if (!parts.every((p) => SLUG_PART.test(p))) throw refuse('expected <org>/<fleet>');
  return s;
}

/**
 * Fleet slug → principal body, injective on normalized slugs: `/` → `.`; `.` → `_2e`; `_` → `_5f`;
 * a-z 0-9 - stay. The only raw `.` is the org/fleet separator and every `_` starts a two-digit
 * escape, so decodeFleetSlug reads it back unambiguously (which is what makes it injective).
 * e.g. acme/sensors → acme.sensors, my_org/v1.2 → my_5forg.v1_2e2
 */
export function encodeFleetSlug(slug: string): string {
  const s = normalizeFleetSlug(slug);
  return s.replace(/[._/]/g, (c) => (c === '/' ? '.' : `_${c.charCodeAt(0).toString(16)}`));
}

export function decodeFleetSlug(encoded: string): string {
  if (!/^(?:[a-z0-9-]|_(?:2e|5f))+\.(?:[a-z0-9-]|_(?:2e|5f))+$/.test(encoded)) {
    throw new UsageError(`${JSON.stringify(encoded.slice(0, 80))} is not an encoded fleet slug`);
  }
  return encoded.replace(/_(2e|5f)|\./g, (m, hex: string | undefined) => (hex ? String.fromCharCode(parseInt(hex, 16)) : '/'));
}

export function devicePrincipal(uuid: string): string {
  return checked(DEVICE_PREFIX + normalizeUuid(uuid));
}

export function fleetPrincipal(slug: string): string {
  const p = FLEET_PREFIX + encodeFleetSlug(slug);
  // Legal slugs can encode past the limit (each . and _ takes three characters): say so, not "characters".
  if (p.length > PRINCIPAL_MAX) throw new UsageError(`fleet slug ${JSON.stringify(slug.slice(0, 80))} is too long: its principal would be ${p.length} characters, the limit is ${PRINCIPAL_MAX} (each . and _ counts three)`);
  return checked(p);
}

export function scopePrincipal(s: Scope): string {
  if (s.kind === 'device') return devicePrincipal(s.uuid);
  if (s.kind === 'fleet') return fleetPrincipal(s.slug);
  return BREAK_GLASS_PRINCIPAL;
}

/** The principal back to its scope (for listing grants); undefined for principals not ours. */
export function parseScopePrincipal(p: string): Scope | undefined {
  if (p === BREAK_GLASS_PRINCIPAL) return { kind: 'break-glass' };
  try {
    if (p.startsWith(DEVICE_PREFIX)) return { kind: 'device', uuid: normalizeUuid(p.slice(DEVICE_PREFIX.length)) };
    if (p.startsWith(FLEET_PREFIX)) return { kind: 'fleet', slug: decodeFleetSlug(p.slice(FLEET_PREFIX.length)) };
  } catch { /* not one of ours */ }
  return undefined;
}

export function describeScope(s: Scope): string {
  if (s.kind === 'device') return `device ${s.uuid}`;
  if (s.kind === 'fleet') return `fleet ${s.slug}`;
  return 'break-glass';
}

/** What a device of this fleet trusts: its own principal, its fleet's, and break-glass. */
export function devicePrincipals(o: { uuid: string; fleet: string }): string[] {
  return [devicePrincipal(o.uuid), fleetPrincipal(o.fleet), BREAK_GLASS_PRINCIPAL];
}

const PRINCIPAL_MAX = 256;

function checked(p: string): string {
  if (p.length > PRINCIPAL_MAX) throw new UsageError(`principal ${JSON.stringify(p.slice(0, 80))} is too long (${p.length} characters, the limit is ${PRINCIPAL_MAX})`);
  if (!/^[A-Za-z0-9._-]{1,256}$/.test(p)) throw new UsageError(`principal ${JSON.stringify(p.slice(0, 80))} is outside [A-Za-z0-9._-]`);
  return validatePrincipal(p);
}
