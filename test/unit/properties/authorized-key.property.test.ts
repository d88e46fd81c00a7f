// Property-based tests of the cert-authority line builder (src/ca/authorized-key.ts) and the
// principal policy it relies on. 10 000 generated cases per property.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import sshpk from 'sshpk';
import { describe, expect, onTestFinished, test } from 'vitest';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';
import { authorizedKeyOptions, editSshKeys, keyFingerprint, trustedCas } from '../../../src/ca/config-json.js';
import { validatePrincipal } from '../../../src/ssh/principals.js';
import { generateEd25519KeyPair } from '../../../src/ssh/keys.js';
import { UsageError } from '../../../src/errors.js';

const RUNS = { numRuns: 10_000 };
const ca = generateEd25519KeyPair('ca').publicKey;
const fingerprint = keyFingerprint(ca)!;
const FORBIDDEN = /[,"*?\s\u0000-\u001f\u007f]/u;
// ASCII user-name characters only (issue 11 item 14: no look-alikes, zero-width or bidi characters).
const ALLOWED = /^[A-Za-z0-9_@][A-Za-z0-9._@-]*$/;

// What a real user name can be: ASCII letters, digits, . _ - @, not first . or -.
const principal = fc.stringMatching(/^[A-Za-z0-9_@][A-Za-z0-9._@-]{0,15}$/);
const principals = fc.uniqueArray(principal, { minLength: 1, maxLength: 5 });
// Future expiries only: a past one is refused (issue 11 item 15), tested in test/unit/ca.
const expiry = fc.option(fc.date({ min: new Date(Date.now() + 86_400_000), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }), { nil: undefined });
const forbiddenChar = fc.oneof(
  fc.constantFrom(',', '"', '*', '?', ' ', '\t', '\n', '\r', '\u0000', '\u001b', '\u007f', '\u00a0', '\u2028', '\u3000', '\u200b', '\u202e', '\u043e', '/', ':'),
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  // Anything outside ASCII: look-alike letters, invisible and bidi characters.
  fc.integer({ min: 0x80, max: 0xffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCharCode(c)),
);

describe('authorized-key line builder', () => {
  test('always one line, always principals= in the options, the key intact, principals round-trip', () => {
    fc.assert(fc.property(principals, expiry, (p, exp) => {
      const line = authorizedKeyLine({ publicKey: ca, fingerprint, mount: 'ssh-client-signer', principals: p, expiryTime: exp });
      expect(line).not.toMatch(/[\n\r\u0000]/);
      const opts = authorizedKeyOptions(line);
      expect(opts.startsWith('cert-authority,principals="')).toBe(true);
      expect(/(?:^|,)principals="([^"]*)"/.exec(opts)![1]!.split(',')).toEqual(p);
      if (exp) expect(opts).toMatch(/,expiry-time="\d{14}Z"$/);
      // The key part is exactly the CA key and sshpk reads it as such.
      const rest = line.slice(opts.length + 1).split(' ');
      expect(rest).toHaveLength(3);
      expect(sshpk.parseKey(`${rest[0]} ${rest[1]}`, 'ssh').fingerprint('sha256').toString()).toBe(fingerprint);
      expect(rest[2]).toBe(`fleetvault:ssh-client-signer:${fingerprint}`);
      // And the editor accepts it and reports what it says.
      const t = trustedCas(editSshKeys('{}', { add: line }).sshKeys);
      expect(t).toEqual([{ fingerprint, principals: p.join(','), fleetvault: true, line }]);
    }), RUNS);
  });

  test('a principal with , " * ? whitespace, a control or any non-ASCII character makes the builder refuse', () => {
    fc.assert(fc.property(principals, principal, forbiddenChar, fc.nat(16), (good, base, bad, at) => {
      const p = base.slice(0, at) + bad + base.slice(at);
      expect(() => authorizedKeyLine({ publicKey: ca, fingerprint, mount: 'm', principals: [...good, p] })).toThrow(UsageError);
    }), RUNS);
    expect(() => authorizedKeyLine({ publicKey: ca, fingerprint, mount: 'm', principals: [] })).toThrow(UsageError);
    expect(() => authorizedKeyLine({ publicKey: ca, fingerprint, mount: 'm', principals: [''] })).toThrow(UsageError);
  });

  test('any string is either a safe principal (returned unchanged) or one UsageError', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })), (s) => {
      let out: string;
      try { out = validatePrincipal(s); } catch (e) { expect(e).toBeInstanceOf(UsageError); return; }
      expect(out).toBe(s);
      expect(out).not.toMatch(FORBIDDEN);
      expect(out).toMatch(ALLOWED);
      expect(out.length).toBeGreaterThan(0);
    }), RUNS);
  });

  test('ssh-keygen reads generated lines as authorized_keys entries for the CA key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fv-akl-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    // Few runs: each spawns ssh-keygen. ASCII principals (ssh-keygen -l has no say in encodings).
    const ascii = fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_@][A-Za-z0-9_.@-]{0,11}$/), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(ascii, expiry, (p, exp) => {
      const f = join(dir, 'authorized_keys');
      writeFileSync(f, authorizedKeyLine({ publicKey: ca, fingerprint, mount: 'm', principals: p, expiryTime: exp }) + '\n');
      expect(execFileSync('ssh-keygen', ['-l', '-f', f]).toString()).toContain(fingerprint);
    }), { numRuns: 40 });
  });
});
