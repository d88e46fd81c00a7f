import { describe, expect, test } from 'vitest';
import { validateAuthMount, validateUsername } from '../../../src/auth/login.js';
import { browserCommand } from '../../../src/auth/browser.js';
import { UsageError } from '../../../src/errors.js';

describe('validateAuthMount', () => {
  test('accepts mount names, trims slashes', () => {
    expect(validateAuthMount('userpass')).toBe('userpass');
    expect(validateAuthMount('/oidc-corp/')).toBe('oidc-corp');
    expect(validateAuthMount('team/okta')).toBe('team/okta');
  });
  test('refuses traversal and odd characters', () => {
    for (const bad of ['', '../sys', 'a/../b', 'a//b', 'a b', 'x?y', '-x']) expect(() => validateAuthMount(bad), bad).toThrow(UsageError);
  });
});

describe('validateUsername', () => {
  test('accepts ordinary names, e-mail addresses included', () => {
    expect(validateUsername('alice')).toBe('alice');
    expect(validateUsername('alice@example.com')).toBe('alice@example.com');
  });
  test('refuses what would change the request path or the terminal', () => {
    for (const bad of ['', 'a/b', '../root', 'a b', 'a?x', 'a#x', 'a%2f', 'a\u001b[2J', 'a\\b']) expect(() => validateUsername(bad), JSON.stringify(bad)).toThrow(UsageError);
  });
});

test('browserCommand: open on macOS, xdg-open on Linux, nothing where unknown', () => {
  expect(browserCommand('darwin')).toBe('open');
  expect(browserCommand('linux')).toBe('xdg-open');
  expect(browserCommand('win32')).toBeUndefined();
});
