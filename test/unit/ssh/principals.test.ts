import { describe, expect, it } from 'vitest';
import { validatePrincipal, validatePrincipals } from '../../../src/ssh/principals.js';

describe('principal policy', () => {
  it.each(['root', 'admin', 'ops-1', 'user.name', 'a_b'])('accepts %j', (p) => expect(validatePrincipal(p)).toBe(p));
  it.each(['root,admin', 'ro"ot', '*', 'r?ot', 'ro ot', 'root\n', '\u0000', 'tab\there', '\u007f', ''])('refuses %j', (p) => {
    expect(() => validatePrincipal(p)).toThrow();
  });
  it('refuses an empty list: a no-principal certificate is a wildcard on OpenSSH < 10.3', () => {
    expect(() => validatePrincipals([])).toThrow(/no principals/);
  });
  it('refuses duplicates', () => expect(() => validatePrincipals(['root', 'root'])).toThrow(/duplicate/));
});
