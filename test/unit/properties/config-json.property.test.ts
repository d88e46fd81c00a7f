// Property-based tests of the config.json os.sshKeys editor (src/ca/config-json.ts): whatever the
// file holds, the editor either refuses it with one UsageError or produces valid JSON that keeps
// every other key, in order, and is idempotent. 10 000 generated cases per property.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { editSshKeys, isCertAuthorityLine, keyFingerprint, parseConfigJson } from '../../../src/ca/config-json.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';
import { generateEd25519KeyPair } from '../../../src/ssh/keys.js';
import { UsageError } from '../../../src/errors.js';

const RUNS = { numRuns: 10_000 };
const cas = Array.from({ length: 3 }, (_, i) => {
  const pub = generateEd25519KeyPair(`ca${i}`).publicKey;
  return { pub, fingerprint: keyFingerprint(pub)! };
});
const userKeys = Array.from({ length: 3 }, (_, i) => generateEd25519KeyPair(`user${i}`).publicKey.trim());
const caLine = (i: number, principals: readonly string[] = ["root"]) => authorizedKeyLine({ publicKey: cas[i]!.pub, fingerprint: cas[i]!.fingerprint, mount: "ssh", principals: [...principals] });

/** Entries a real config.json may carry: plain keys, foreign CA lines, our lines, junk text. */
const sshKeyEntry = fc.oneof(
  fc.constantFrom(...userKeys),
  fc.constantFrom(...userKeys).map((k) => `no-pty,from="10.0.0.0/8" ${k}`),
  fc.nat(2).map((i) => `cert-authority ${cas[i]!.pub.trim()} someone-else`),
  fc.nat(2).map((i) => caLine(i)),
  fc.string({ maxLength: 40 }).filter((s) => !/[\n\r\u0000]/.test(s)),
);
const jsonLeaf = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null));
const jsonish = fc.oneof(jsonLeaf, fc.array(jsonLeaf, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), jsonLeaf, { maxKeys: 3 }));
const key = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== 'os');
const configObject = fc.record({
  before: fc.dictionary(key, jsonish, { maxKeys: 4 }),
  after: fc.dictionary(key, jsonish, { maxKeys: 3 }),
  hasOs: fc.boolean(),
  osExtra: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== 'sshKeys'), jsonLeaf, { maxKeys: 2 }),
  hasSshKeys: fc.boolean(),
  sshKeys: fc.array(sshKeyEntry, { maxLength: 6 }),
  indent: fc.constantFrom(0, 2, 4, '\t'),
  newline: fc.boolean(),
}).map((g) => {
  const c: Record<string, unknown> = { ...g.before };
  if (g.hasOs) c.os = g.hasSshKeys ? { ...g.osExtra, sshKeys: g.sshKeys } : { ...g.osExtra };
  for (const [k, v] of Object.entries(g.after)) if (!(k in c)) c[k] = v;
  const text = JSON.stringify(c, null, g.indent) + (g.newline ? '\n' : '');
  return { text, sshKeys: g.hasOs && g.hasSshKeys ? g.sshKeys : [] };
});
const edit = fc.record({
  add: fc.option(fc.record({ ca: fc.nat(2), principals: fc.constantFrom(['root'], ['root', 'ops'], ['admin']) }), { nil: undefined }),
  remove: fc.subarray([0, 1, 2]),
}).map((e) => ({
  add: e.add ? caLine(e.add.ca, e.add.principals) : undefined,
  removeFingerprints: e.remove.map((i) => cas[i]!.fingerprint),
}));

describe('config.json editor', () => {
  test('output is always valid JSON that parses back, and re-applying the edit changes nothing', () => {
    fc.assert(fc.property(configObject, edit, ({ text }, e) => {
      const r = editSshKeys(text, e);
      JSON.parse(r.text);
      const again = editSshKeys(r.text, e);
      expect(again.changed).toBe(false);
      expect(again.text).toBe(r.text);
      expect(parseConfigJson(r.text).sshKeys).toEqual(r.sshKeys);
      if (!r.changed) expect(r.text).toBe(text);
    }), RUNS);
  });

  test('other keys keep their values and order; os gets appended only when missing', () => {
    fc.assert(fc.property(configObject, edit, ({ text }, e) => {
      const before = JSON.parse(text) as Record<string, unknown>;
      const after = JSON.parse(editSshKeys(text, e).text) as Record<string, unknown>;
      const keysBefore = Object.keys(before);
      const keysAfter = Object.keys(after);
      expect(keysAfter.slice(0, keysBefore.length)).toEqual(keysBefore);
      expect(keysAfter.length - keysBefore.length).toBe(!('os' in before) && keysAfter.includes('os') ? 1 : 0);
      for (const k of keysBefore) if (k !== 'os') expect(after[k]).toEqual(before[k]);
      if (before.os && typeof before.os === 'object') {
        const { sshKeys: _a, ...osBefore } = before.os as Record<string, unknown>;
        const { sshKeys: _b, ...osAfter } = after.os as Record<string, unknown>;
        expect(osAfter).toEqual(osBefore);
      }
    }), RUNS);
  });

  test('entries that are not cert-authority lines are never removed, and keep their order', () => {
    fc.assert(fc.property(configObject, edit, ({ text, sshKeys }, e) => {
      const r = editSshKeys(text, e);
      const plain = (l: string[]) => l.filter((k) => !isCertAuthorityLine(k));
      expect(plain(r.sshKeys)).toEqual(plain(sshKeys));
      // What was asked to go is gone; what was asked to be there is there, exactly once.
      if (e.add) expect(r.sshKeys.filter((k) => k === e.add)).toHaveLength(Math.max(1, sshKeys.filter((k) => k === e.add).length));
      for (const k of r.sshKeys) {
        if (k !== e.add && isCertAuthorityLine(k)) expect(e.removeFingerprints).not.toContain(keyFingerprint(k));
      }
    }), RUNS);
  });

  test('entries with a newline, CR or NUL are refused, in the file and in the edit', () => {
    const bad = fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom('\n', '\r', '\u0000'), fc.string({ maxLength: 10 })).map(([a, c, b]) => a + c + b);
    fc.assert(fc.property(configObject, bad, fc.nat(6), ({ text }, entry, at) => {
      const c = JSON.parse(text) as { os?: { sshKeys?: string[] } };
      const os = (c.os ??= {});
      const keys = (os.sshKeys ??= []);
      keys.splice(Math.min(at, keys.length), 0, entry);
      expect(() => editSshKeys(JSON.stringify(c), { add: caLine(0) })).toThrow(UsageError);
      expect(() => editSshKeys(text, { add: caLine(0) + entry })).toThrow(UsageError);
    }), RUNS);
  });

  test('arbitrary text and bytes are a parsed config or one UsageError, never another exception', () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      configObject.chain(({ text }) => fc.nat(text.length).map((n) => text.slice(0, n))),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    );
    fc.assert(fc.property(junk, (t) => {
      try {
        editSshKeys(t, { add: caLine(1) });
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as Error).message).not.toContain('\n');
      }
    }), RUNS);
  });

  test('a CA line without principals= in its options is never added', () => {
    fc.assert(fc.property(fc.nat(2), fc.constantFrom('', 'no-pty', 'from="10.0.0.1"'), fc.string({ maxLength: 20 }).filter((s) => !/[\n\r\u0000]/.test(s)), (i, opts, comment) => {
      const line = `cert-authority${opts ? ',' + opts : ''} ${cas[i]!.pub.trim()} ${comment}`.trimEnd();
      expect(() => editSshKeys('{}', { add: line })).toThrow(UsageError);
      // Not even when the comment spells principals= (the key part is what sshd reads).
      expect(() => editSshKeys('{}', { add: `${line} principals="root"` })).toThrow(UsageError);
    }), RUNS);
  });
});
