import { UsageError } from '../errors.js';

/**
 * Client-side principal policy, applied wherever a principal enters fleetvault (cert sign, ssh
 * --user, ca authorized-key/add-to-config/rollout/rotate, audit --expected-principals) before
 * anything reaches Vault or a device. ASCII user-name characters only: letters, digits, `.`, `_`,
 * `-`, `@`; not starting with `-` or `.`. What that keeps out, and why:
 * - `,` lets one principal match a `principals="a,b"` list twice (CVE-2026-35414);
 * - `"` breaks out of the quoted principals= option; `*` and `?` are patterns there;
 * - whitespace and control characters have no business in a user name and hide in logs;
 * - look-alikes: `r\u043eot` (Cyrillic o), `root\u200b` (zero-width space) and bidi overrides
 *   read as "root" in a terminal, a review or an audit report, but are other principals to sshd;
 * - a leading `-` turns into an option wherever a name reaches a command line.
 * An empty list is refused outright: OpenSSH before 10.3 lets a certificate with no principals
 * match any cert-authority line without principals= (a fleet-wide wildcard).
 */
const PRINCIPAL = /^[A-Za-z0-9_@][A-Za-z0-9._@-]*$/;
const MAX_LENGTH = 256;

/** The principal as printable ASCII (non-ASCII as \uXXXX), safe for a one-line error. */
function shown(p: string): string {
  const cut = p.length > 64 ? p.slice(0, 64) + '…' : p;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function validatePrincipal(p: string): string {
  if (p === '') throw new UsageError('empty principal refused', { hint: 'name the device user, e.g. --principal root' });
  if (p.length > MAX_LENGTH) throw new UsageError(`principal refused: longer than ${MAX_LENGTH} characters`);
  if (!PRINCIPAL.test(p)) {
    throw new UsageError(`principal ${shown(p)} refused: only ASCII letters, digits and . _ - @ are allowed, not first - or .`, {
      hint: /[^\x20-\x7e]/.test(p) ? 'it holds a non-ASCII or invisible character (a look-alike of an ASCII name?); retype it' : 'use a user name such as root',
    });
  }
  return p;
}

export function validatePrincipals(list: readonly string[]): string[] {
  if (list.length === 0) {
    throw new UsageError('a certificate with no principals is refused (it would be valid for every user on older OpenSSH)', {
      hint: 'pass --principal root',
    });
  }
  const out = list.map(validatePrincipal);
  if (new Set(out).size !== out.length) throw new UsageError('duplicate principal refused');
  return out;
}
