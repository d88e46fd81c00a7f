// Reading JSON from files and devices without echoing them. V8's own messages quote the input
// ("root:*:202"... is not valid JSON): a /etc/shadow passed by mistake, or a config.json holding an
// apiKey, would end up in terminals, reports and journals. Every message here names a position
// (line, column or byte) and never a byte of content.
//
// JSON.parse stays the parser; the scanner below only runs to explain a failure or to find what
// JSON.parse silently accepts: duplicate keys (the last one wins, so `{"os":{…operator key…},
// "os":{…}}` drops the operator's key) and invalid UTF-8 (Buffer#toString turns it into U+FFFD).
import { isUtf8 } from 'node:buffer';

export type JsonRead = { ok: true; value: unknown; text: string } | { ok: false; why: string };

export interface JsonReadOptions {
  /** Refuse an object with the same key twice (anywhere in the document). */
  refuseDuplicateKeys?: boolean;
}

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) { line++; lineStart = i + 1; }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/** Offset of the first byte that is not well-formed UTF-8 (RFC 3629), or -1. */
export function invalidUtf8Offset(buf: Buffer): number {
  for (let i = 0; i < buf.length;) {
    const b = buf[i]!;
    if (b < 0x80) { i++; continue; }
    let n: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) { n = 1; min = 0x80; } else if (b >= 0xe0 && b <= 0xef) { n = 2; min = 0x800; } else if (b >= 0xf0 && b <= 0xf4) { n = 3; min = 0x10000; } else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

type Frame = { kind: 'object'; keys: Set<string>; key?: string } | { kind: 'array'; index: number };
type Expect = 'value' | 'value-or-end' | 'key' | 'key-or-end' | 'colon' | 'comma-or-end' | 'done';

export interface JsonScan {
  /** Offset of the first syntax error, if any. */
  errorAt?: number;
  duplicate?: { path: string; offset: number };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function stringEnd(text: string, i: number): number | { errorAt: number } {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c < 0x20) return { errorAt: j };
    if (c === 0x5c) {
      const e = text[j + 1];
      if (e === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) return { errorAt: j };
        j += 5;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) j++;
      else return { errorAt: j };
    }
  }
  return { errorAt: text.length };
}

/** Keys are named in messages only when they are plain names (never arbitrary file content). */
function printableKey(k: string): string {
  return /^[A-Za-z0-9_.-]{1,40}$/.test(k) ? k : '…';
}

/** One pass over JSON text: where it first breaks, and the first duplicate key. Iterative (deep nesting is input too). */
export function scanJson(text: string): JsonScan {
  const stack: Frame[] = [];
  let expect: Expect = 'value';
  let duplicate: JsonScan['duplicate'];
  let i = 0;
  const n = text.length;
  const afterValue = () => { expect = stack.length ? 'comma-or-end' : 'done'; };
  const path = () => stack.map((f) => (f.kind === 'object' ? printableKey(f.key ?? '') : `[${f.index}]`)).join('.').replace(/\.\[/g, '[');
  while (true) {
    while (i < n && ' \t\n\r'.includes(text[i]!)) i++;
    if (i >= n) return (expect as Expect) === 'done' ? { duplicate } : { errorAt: n, duplicate };
    const c = text[i]!;
    const top = stack[stack.length - 1];
    switch (expect as Expect) {
      case 'done':
        return { errorAt: i, duplicate };
      case 'colon':
        if (c !== ':') return { errorAt: i, duplicate };
        i++; expect = 'value';
        break;
      case 'comma-or-end':
        if (c === ',') {
          i++;
          if (top!.kind === 'object') expect = 'key';
          else { top!.index++; expect = 'value'; }
        } else if ((c === '}' && top!.kind === 'object') || (c === ']' && top!.kind === 'array')) {
          i++; stack.pop(); afterValue();
        } else return { errorAt: i, duplicate };
        break;
      case 'key':
      case 'key-or-end': {
        if (c === '}' && expect === 'key-or-end') { i++; stack.pop(); afterValue(); break; }
        if (c !== '"') return { errorAt: i, duplicate };
        const end = stringEnd(text, i);
        if (typeof end !== 'number') return { errorAt: end.errorAt, duplicate };
        const key = JSON.parse(text.slice(i, end)) as string;
        const obj = top as Extract<Frame, { kind: 'object' }>;
        if (obj.keys.has(key) && !duplicate) {
          obj.key = key;
          duplicate = { path: path(), offset: i };
        }
        obj.keys.add(key);
        obj.key = key;
        i = end; expect = 'colon';
        break;
      }
      case 'value':
      case 'value-or-end': {
        if (c === ']' && expect === 'value-or-end') { i++; stack.pop(); afterValue(); break; }
        if (c === '{') { stack.push({ kind: 'object', keys: new Set() }); i++; expect = 'key-or-end'; break; }
        if (c === '[') { stack.push({ kind: 'array', index: 0 }); i++; expect = 'value-or-end'; break; }
        if (c === '"') {
          const end = stringEnd(text, i);
          if (typeof end !== 'number') return { errorAt: end.errorAt, duplicate };
          i = end; afterValue(); break;
        }
        const lit = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
        if (lit) { i += lit.length; afterValue(); break; }
        NUMBER.lastIndex = i;
        if (NUMBER.test(text)) { i = NUMBER.lastIndex; afterValue(); break; }
        return { errorAt: i, duplicate };
      }
    }
  }
}

/**
 * JSON.parse with one-line, content-free reasons: "is not valid UTF-8 (byte 17)", "is not valid
 * JSON (line 3, column 9)", "has the key "os" twice (line 9, column 3)". A Buffer is decoded as
 * strict UTF-8.
 */
export function readJson(input: string | Buffer, o: JsonReadOptions = {}): JsonRead {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    // isUtf8 is native and fast; the JS walk only runs to name the offending byte.
    if (!isUtf8(input)) return { ok: false, why: `is not valid UTF-8 (byte ${invalidUtf8Offset(input)})` };
    text = input.toString('utf8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const at = scanJson(text).errorAt;
    return { ok: false, why: at === undefined ? 'is not valid JSON' : `is not valid JSON (${at >= text.length ? 'ends early' : lineColumn(text, at)})` };
  }
  if (o.refuseDuplicateKeys && value !== null && typeof value === 'object') {
    const dup = scanJson(text).duplicate;
    if (dup) return { ok: false, why: `has the key "${dup.path}" twice (${lineColumn(text, dup.offset)}; JSON keeps only the last one)` };
  }
  return { ok: true, value, text };
}
