// The cert-authority line a device puts in authorized_keys (via config.json os.sshKeys).
import { UsageError } from '../errors.js';
import { validatePrincipals } from '../ssh/principals.js';

export const FLEETVAULT_MARKER = 'fleetvault:';

export interface AuthorizedKeyOptions {
  publicKey: string;
  fingerprint: string;
  mount: string;
  principals?: string[];
  /** OpenSSH expiry-time for planned rotations: YYYYMMDD[HHMM[SS]] in UTC. */
  expiryTime?: Date;
  /** For tests: the clock an expiry is checked against. */
  now?: Date;
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * --expiry as ISO 8601, parsed strictly: `new Date('2027-02-30')` silently rolls over to March 2nd,
 * which moves the day a whole fleet stops trusting a CA. Out-of-range fields are refused instead.
 */
export function parseExpiry(text: string): Date {
  const bad = (why: string) => new UsageError(`invalid --expiry: ${why}`, { hint: 'use ISO 8601, e.g. 2027-01-31T00:00:00Z' });
  const m = ISO_TIME.exec(text.trim());
  if (!m) throw bad('not an ISO 8601 date or time');
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  if (month! < 1 || month! > 12) throw bad(`month ${month} does not exist`);
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (day! < 1 || day! > daysInMonth) throw bad(`${m[1]}-${m[2]} has no day ${day}`);
  if (hour > 23 || minute > 59 || second > 59) throw bad('hour, minute or second out of range');
  const zone = m[7];
  if (zone && zone !== 'Z' && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(-2)) > 59)) throw bad('time zone offset out of range');
  const d = new Date(text.trim());
  if (Number.isNaN(d.getTime())) throw bad('not an ISO 8601 date or time');
  return d;
}

/**
 * A line that has already expired is valid syntax and trusts nobody: pushed to a fleet whose only
 * CA line it replaces, it locks every engineer out of every device. Refuse it.
 */
export function validateExpiry(expiry: Date, now: Date = new Date()): Date {
  if (Number.isNaN(expiry.getTime())) throw new UsageError('invalid expiry time', { hint: 'use ISO 8601, e.g. 2027-01-31T00:00:00Z' });
  if (expiry.getTime() <= now.getTime()) {
    throw new UsageError(`expiry ${expiry.toISOString()} is in the past: the line would trust no certificate and lock everyone out`, {
      hint: 'give a future time, e.g. 2027-01-31T00:00:00Z',
    });
  }
  return expiry;
}

function sshTimestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/**
 * `cert-authority,principals="root" ssh-ed25519 AAAA… fleetvault:<mount>:<fingerprint>`.
 * Never without principals=: before OpenSSH 10.3 a certificate with no principals matches a bare
 * cert-authority line for any user. The comment lets fleetvault recognise its own lines later.
 */
export function authorizedKeyLine(o: AuthorizedKeyOptions): string {
  const principals = validatePrincipals(o.principals ?? ['root']);
  const [type, blob] = o.publicKey.trim().split(/\s+/);
  if (!type || !blob) throw new UsageError('CA public key is malformed');
  const opts = [`cert-authority`, `principals="${principals.join(',')}"`];
  if (o.expiryTime) validateExpiry(o.expiryTime, o.now);
  if (o.expiryTime) opts.push(`expiry-time="${sshTimestamp(o.expiryTime)}"`);
  return `${opts.join(',')} ${type} ${blob} ${FLEETVAULT_MARKER}${o.mount}:${o.fingerprint}`;
}
