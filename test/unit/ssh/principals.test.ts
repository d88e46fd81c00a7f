import { describe, expect, it } from 'vitest';
import { validatePrincipal, validatePrincipals } from '../../../src/ssh/principals.js';
import { UsageError } from '../../../src/errors.js';

describe('principal policy', () => {
  it.each(['root', 'admin', 'ops-1', 'user.name', 'a_b', 'alice@example.com', '_svc', 'x'.repeat(256)])('accepts %j', (p) => expect(validatePrincipal(p)).toBe(p));
  it.each(['root,admin', 'ro"ot', '*', 'r?ot', 'ro ot', 'root\n', '\u0000', 'tab\there', '\u007f', ''])('refuses %j', (p) => {
    expect(() => validatePrincipal(p)).toThrow();
  });
  // Issue 11 item 14: each of these reads as an ASCII name in a terminal but is another principal.
  it.each([
    ['zero-width space', 'root\u200b'], ['zero-width joiner', 'ro\u200dot'], ['Cyrillic o', 'r\u043eot'], ['Greek omicron', 'r\u03bfot'],
    ['right-to-left override', '\u202etoor'], ['left-to-right isolate', '\u2066root'], ['no-break space', 'root\u00a0'],
    ['combining accent', 'ro\u0301ot'], ['fullwidth r', '\uff52oot'], ['BOM', '\ufeffroot'], ['C1 control', 'root\u009b'],
    ['leading dash', '-oProxyCommand=x'], ['leading dot', '.root'], ['slash', 'acme/fleet'], ['colon', 'a:b'], ['too long', 'x'.repeat(257)],
  ])('refuses a look-alike or unsafe name: %s', (_, p) => {
    expect(() => validatePrincipal(p)).toThrow(UsageError);
  });
  it('says why in one printable ASCII line, the offending character escaped', () => {
    let msg = '';
    try { validatePrincipal('r\u043eot'); } catch (e) { msg = `${(e as UsageError).message} (${(e as UsageError).hint})`; }
    expect(msg).toContain('"r\\u043eot" refused: only ASCII letters, digits and . _ - @ are allowed');
    expect(msg).toMatch(/look-alike/);
    expect(msg).toMatch(/^[\x20-\x7e]+$/);
  });
  it('refuses an empty list: a no-principal certificate is a wildcard on OpenSSH < 10.3', () => {
    expect(() => validatePrincipals([])).toThrow(/no principals/);
  });
  it('refuses duplicates', () => expect(() => validatePrincipals(['root', 'root'])).toThrow(/duplicate/));
});
