import { UsageError } from '../errors.js';

/**
 * Client-side principal policy, applied before anything reaches Vault.
 * - `,` lets one principal match a `principals="a,b"` list twice (CVE-2026-35414);
 * - `"` breaks out of the quoted principals= option; `*` and `?` are patterns there;
 * - whitespace and control characters have no business in a user name and hide in logs.
 * An empty list is refused outright: OpenSSH before 10.3 lets a certificate with no principals
 * match any cert-authority line without principals= (a fleet-wide wildcard).
 */
const FORBIDDEN = /[,"*?\s\u0000-\u001f\u007f]/u;

export function validatePrincipal(p: string): string {
  if (p === '') throw new UsageError('empty principal refused', { hint: 'name the device user, e.g. --principal root' });
  if (FORBIDDEN.test(p)) {
    throw new UsageError(`principal ${JSON.stringify(p)} refused: it contains , " * ? whitespace or a control character`);
  }
  if (p.length > 256) throw new UsageError('principal refused: longer than 256 characters');
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
