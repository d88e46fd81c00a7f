// Issue #11 items 9 and 16: JSON from files and devices is read strictly (UTF-8, duplicate keys)
// and every refusal names a position, never content.
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { invalidUtf8Offset, readJson, scanJson } from '../../../src/fs/json.js';

const why = (input: string | Buffer, dup = true) => {
  const r = readJson(input, { refuseDuplicateKeys: dup });
  return r.ok ? 'ok' : r.why;
};

describe('readJson', () => {
  test('a parse error names the position, never the content', () => {
    expect(why('root:*:20251:0:99999:7:::\n')).toBe('is not valid JSON (line 1, column 1)');
    expect(why('{\n  "apiKey": "s3cr3t",\n  "os": tru\n}')).toBe('is not valid JSON (line 3, column 9)');
    expect(why('{"a":1,}')).toBe('is not valid JSON (line 1, column 8)');
    expect(why('{"apiKey": "abc')).toBe('is not valid JSON (ends early)');
    expect(why('[1,2] x')).toBe('is not valid JSON (line 1, column 7)');
    expect(why('')).toBe('is not valid JSON (ends early)');
    expect(why('{"a":"x\ty"}')).toBe('is not valid JSON (line 1, column 8)');
  });

  test('duplicate keys are refused wherever they are, named only when they are plain names', () => {
    expect(why('{"os":{"sshKeys":["op"]},"os":{}}')).toBe('has the key "os" twice (line 1, column 26; JSON keeps only the last one)');
    expect(why('{"os":{"sshKeys":["a"],"sshKeys":["b"]}}')).toMatch(/^has the key "os.sshKeys" twice/);
    expect(why('{"os":{"sshKeys":["a"],"ssh\\u004beys":["b"]}}')).toMatch(/^has the key "os.sshKeys" twice/);
    expect(why('{"a":[{"x":1},{"x":1,"x":2}]}')).toMatch(/^has the key "a\[1\].x" twice/);
    expect(why('{"root:*:202\\n":1,"root:*:202\\n":2}')).toMatch(/^has the key "…" twice/);
    expect(why('{"os":1,"os":2}', false)).toBe('ok');
    expect(why('{"a":{"x":1},"b":{"x":1}}')).toBe('ok');
  });

  test('invalid UTF-8 is refused with its byte offset; valid multi-byte text is not', () => {
    expect(why(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff]), Buffer.from('"}')]))).toBe('is not valid UTF-8 (byte 6)');
    expect(why(Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]))).toBe('is not valid UTF-8 (byte 2)'); // overlong "/"
    expect(why(Buffer.from('{"a":"\ud800"}'.replace('\ud800', ''), 'utf8'))).toBe('ok');
    expect(invalidUtf8Offset(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0); // an encoded surrogate
    expect(invalidUtf8Offset(Buffer.from([0xe2, 0x82]))).toBe(0); // cut short
    expect(invalidUtf8Offset(Buffer.from('héllo ✓ 𝄞'))).toBe(-1);
  });

  test('the scanner agrees with JSON.parse on what is valid (property)', () => {
    fc.assert(fc.property(fc.oneof(fc.json(), fc.string()), (s) => {
      let valid = true;
      try { JSON.parse(s); } catch { valid = false; }
      expect(scanJson(s).errorAt === undefined).toBe(valid);
    }), { numRuns: 2000 });
  });

  test('deep nesting does not overflow the stack', () => {
    expect(why('['.repeat(200_000))).toBe('is not valid JSON (ends early)');
  });

  test('matches the utf-8 decoder on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (a) => {
      const b = Buffer.from(a);
      let fatalOk = true;
      try { new TextDecoder('utf-8', { fatal: true }).decode(b); } catch { fatalOk = false; }
      expect(invalidUtf8Offset(b) === -1).toBe(fatalOk);
    }), { numRuns: 3000 });
  });
});
