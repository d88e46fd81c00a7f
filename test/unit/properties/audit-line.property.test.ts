// Property-based tests of the audit line parser (src/audit/reader.ts AuditLineProcessor and
// src/audit/events.ts normalizeAuditPair): arbitrary lines never crash it, the counters add up,
// and how the text is cut into chunks changes nothing. 10 000 generated cases per property.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { AuditLineProcessor, emptyStats } from '../../../src/audit/reader.js';
import { normalizeAuditPair, type AuditEvent, type RawAuditRecord } from '../../../src/audit/events.js';

const RUNS = { numRuns: 10_000 };
const real = readFileSync(new URL('../../fixtures/audit/real.log', import.meta.url), 'utf8').split('\n').filter(Boolean);

/** Real OpenBao records, cut, spliced, or with one value replaced: what a damaged log holds. */
const realLine = fc.constantFrom(...real);
const mutatedReal = fc.oneof(
  realLine.chain((l) => fc.nat(l.length).map((n) => l.slice(0, n))),
  fc.tuple(realLine, realLine, fc.nat(4000), fc.nat(4000)).map(([a, b, i, j]) => a.slice(0, i % (a.length + 1)) + b.slice(j % (b.length + 1))),
  fc.tuple(realLine, fc.jsonValue({ maxDepth: 2 })).map(([l, v]) => {
    const rec = JSON.parse(l) as Record<string, unknown>;
    const keys = Object.keys(rec);
    rec[keys[JSON.stringify(v).length % keys.length]!] = v;
    return JSON.stringify(rec);
  }),
  fc.tuple(realLine, fc.jsonValue({ maxDepth: 2 })).map(([l, v]) => {
    const rec = JSON.parse(l) as { request?: Record<string, unknown> };
    if (rec.request && typeof rec.request === 'object') rec.request.data = v as Record<string, unknown>;
    return JSON.stringify(rec);
  }),
);
const anyLine = fc.oneof(
  { arbitrary: fc.string({ maxLength: 120 }).map((s) => s.replace(/\n/g, ' ')), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), weight: 2 },
  { arbitrary: fc.record({ time: fc.string({ maxLength: 30 }), type: fc.constantFrom('request', 'response', 'other'), request: fc.option(fc.record({ id: fc.constantFrom('a', 'b', 'c', ''), path: fc.string({ maxLength: 20 }) })) }).map((r) => JSON.stringify(r)), weight: 2 },
  { arbitrary: realLine, weight: 2 },
  { arbitrary: mutatedReal, weight: 3 },
  { arbitrary: fc.constantFrom('', '   ', '\t'), weight: 1 },
);
const lines = fc.array(anyLine, { maxLength: 12 });

function run(chunks: string[], maxLineBytes?: number) {
  const stats = emptyStats();
  const proc = new AuditLineProcessor({ maxLineBytes, pairWindowSeconds: 300, maxPending: 5 }, stats);
  const out: AuditEvent[] = [];
  for (const c of chunks) proc.push(c, out);
  proc.endOfInput(out);
  proc.finish(out);
  return { stats, out };
}

describe('audit line parser', () => {
  test('arbitrary lines never crash it and every line is counted exactly once', () => {
    fc.assert(fc.property(lines, fc.boolean(), (ls, lastNewline) => {
      const text = ls.join('\n') + (lastNewline && ls.length ? '\n' : '');
      const { stats, out } = run([text]);
      const blank = ls.filter((l, i) => l.trim() === '' && (lastNewline || i < ls.length - 1)).length;
      // Each non-blank line is exactly one of: a record, malformed, an unknown type, cut off.
      expect(stats.records + stats.malformed + stats.unknownTypes + stats.partial + stats.oversized).toBe(stats.lines - blank);
      expect(stats.events).toBe(out.length);
      expect(stats.unpaired).toBeLessThanOrEqual(stats.events);
      expect(out.length).toBeLessThanOrEqual(stats.records);
      // Events are plain data: serialisable, with the documented kinds.
      for (const e of out) {
        expect(['ssh-sign', 'transit-encrypt', 'transit-decrypt', 'transit-rewrap', 'login', 'other']).toContain(e.kind);
        expect(typeof e.ok).toBe('boolean');
        JSON.stringify(e);
      }
    }), RUNS);
  });

  test('how the text is cut into chunks changes neither events nor counters', () => {
    fc.assert(fc.property(lines, fc.array(fc.nat(), { maxLength: 6 }), (ls, cuts) => {
      const text = ls.join('\n') + '\n';
      const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const chunks: string[] = [];
      let prev = 0;
      for (const p of points) { chunks.push(text.slice(prev, p)); prev = p; }
      chunks.push(text.slice(prev));
      const whole = run([text]);
      const cut = run(chunks);
      expect(cut.out).toEqual(whole.out);
      expect(cut.stats).toEqual(whole.stats);
    }), RUNS);
  });

  test('lines over the length limit are skipped whole and counted, never buffered', () => {
    fc.assert(fc.property(lines, fc.integer({ min: 8, max: 200 }), (ls, limit) => {
      const { stats } = run([ls.join('\n') + '\n'], limit);
      const over = ls.filter((l) => l.length > limit).length;
      expect(stats.oversized).toBe(over);
    }), RUNS);
  });

  test('normalizeAuditPair takes any JSON as request and response without throwing', () => {
    const rec = fc.oneof(fc.jsonValue({ maxDepth: 4 }), realLine.map((l) => JSON.parse(l) as unknown), mutatedReal.map((l) => { try { return JSON.parse(l) as unknown; } catch { return {}; } }));
    fc.assert(fc.property(fc.option(rec, { nil: undefined }), fc.option(rec, { nil: undefined }), (a, b) => {
      const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as RawAuditRecord) : undefined);
      const e = normalizeAuditPair(obj(a), obj(b));
      if (e) JSON.stringify(e);
    }), RUNS);
  });
});
