// The sealed config.json envelope: a small JSON document carrying one transit ciphertext and the
// facts needed to decrypt or rewrap it (mount, key, fleet). Parsed strictly: an envelope that is
// not exactly this shape is refused locally (exit 1) before Vault is ever asked.
import { UsageError } from '../errors.js';
import { readJson } from '../fs/json.js';

export const ENVELOPE_FORMAT = 'fleetvault-sealed-config';
export const ENVELOPE_VERSION = 1;

export interface SealedEnvelope {
  format: typeof ENVELOPE_FORMAT;
  version: typeof ENVELOPE_VERSION;
  /** Transit mount and key that sealed it. */
  mount: string;
  key: string;
  /** Transit key version of the ciphertext (the N of vault:vN:). */
  keyVersion: number;
  /** Fleet slug; base64 of it is the derived key's context. */
  fleet: string;
  /** ISO 8601. */
  createdAt: string;
  ciphertext: string;
}

const FIELDS = ['format', 'version', 'mount', 'key', 'keyVersion', 'fleet', 'createdAt', 'ciphertext'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/;
// Vault transit ciphertext: vault:v<N>:<base64>. Anything else is not ours to send to Vault.
const CIPHERTEXT = /^vault:v([1-9]\d{0,8}):[A-Za-z0-9+/]+={0,2}$/;
// balena fleet slugs: <org>/<fleet>, or a bare fleet name; no whitespace or control characters.
const FLEET = /^[A-Za-z0-9][A-Za-z0-9_.\-]*(\/[A-Za-z0-9][A-Za-z0-9_.\-]*)?$/;

export function validateFleetSlug(fleet: string): string {
  if (!FLEET.test(fleet) || fleet.length > 255) {
    throw new UsageError(`invalid fleet "${fleet}"`, { hint: 'expected a balena fleet slug such as myorg/myfleet' });
  }
  return fleet;
}

/** The derived key's context: binds a ciphertext to one fleet (decrypting as another fails). */
export function fleetContext(fleet: string): string {
  return Buffer.from(fleet, 'utf8').toString('base64');
}

/** The key version a `vault:vN:` ciphertext was made with. */
export function ciphertextVersion(ciphertext: string): number {
  const m = CIPHERTEXT.exec(ciphertext);
  if (!m) throw new UsageError('ciphertext is not a Vault transit ciphertext (vault:vN:…)');
  return Number(m[1]);
}

/** Parse and check an envelope; `source` names it in the one-line error. */
export function parseEnvelope(text: string, source: string): SealedEnvelope {
  const bad = (why: string) => new UsageError(`failed to read sealed config ${source}: ${why}`, {
    hint: 'expected the output of fleetvault provision seal',
  });
  const read = readJson(text, { refuseDuplicateKeys: true });
  if (!read.ok) throw bad(read.why);
  const doc = read.value;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad('not a JSON object');
  const o = doc as Record<string, unknown>;
  if (o.format !== ENVELOPE_FORMAT) throw bad(`format is not "${ENVELOPE_FORMAT}"`);
  if (o.version !== ENVELOPE_VERSION) throw bad(`unsupported envelope version ${JSON.stringify(o.version ?? null)}`);
  for (const f of FIELDS) if (o[f] === undefined || o[f] === null) throw bad(`missing field "${f}"`);
  const unknown = Object.keys(o).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length) throw bad(`unknown field "${unknown[0]}"`);
  for (const f of ['mount', 'key'] as const) {
    if (typeof o[f] !== 'string' || !NAME.test(o[f] as string) || (o[f] as string).includes('..')) throw bad(`invalid ${f}`);
  }
  if (typeof o.fleet !== 'string' || !FLEET.test(o.fleet)) throw bad('invalid fleet');
  if (typeof o.createdAt !== 'string' || Number.isNaN(Date.parse(o.createdAt))) throw bad('invalid createdAt');
  if (typeof o.ciphertext !== 'string' || !CIPHERTEXT.test(o.ciphertext)) throw bad('ciphertext is not a Vault transit ciphertext (vault:vN:…)');
  if (!Number.isInteger(o.keyVersion) || (o.keyVersion as number) < 1) throw bad('invalid keyVersion');
  if (ciphertextVersion(o.ciphertext) !== o.keyVersion) throw bad('keyVersion does not match the ciphertext');
  return o as unknown as SealedEnvelope;
}

export function formatEnvelope(e: SealedEnvelope): string {
  // Fixed field order, so rewrapped envelopes diff cleanly.
  const ordered = Object.fromEntries(FIELDS.map((f) => [f, e[f]]));
  return JSON.stringify(ordered, null, 2) + '\n';
}

/** A config.json must be a JSON object; checked before sealing and after unsealing. */
export function parseConfigObject(data: Buffer | string, source: string): Record<string, unknown> {
  // Strict: sealing a config.json with a duplicate "os" would seal only the last one.
  const read = readJson(data, { refuseDuplicateKeys: true });
  if (!read.ok) throw new UsageError(`failed to read ${source}: it ${read.why}`);
  const doc = read.value;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`failed to read ${source}: not a JSON object`);
  return doc as Record<string, unknown>;
}

/**
 * The size of the config an envelope unseals to, known before any decrypt: transit's aes256-gcm96
 * ciphertext is a 12-byte nonce, the plaintext, and a 16-byte tag. Lets a target be checked for
 * room before a batch use is spent.
 */
export function plaintextSize(e: SealedEnvelope): number {
  const b64 = e.ciphertext.slice(e.ciphertext.indexOf(':', 6) + 1);
  return Math.max(0, Buffer.from(b64, 'base64').length - 28);
}
