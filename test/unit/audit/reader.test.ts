// The reader against real OpenBao records (test/fixtures/audit/real.log, written by capture.mjs
// from a real dev server), and against every way a real log file goes wrong.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLineProcessor, emptyStats, readAuditEvents, type AuditReadStats } from '../../../src/audit/reader.js';
import type { AuditEvent } from '../../../src/audit/events.js';

const FIXTURE = new URL('../../fixtures/audit/real.log', import.meta.url).pathname;
const text = readFileSync(FIXTURE, 'utf8');
const lines = text.split('\n').filter(Boolean);
const dir = mkdtempSync(join(tmpdir(), 'fv-audit-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PLAINTEXT_B64 = Buffer.from('{"apiKey":"SECRET-PLAINTEXT-MARKER"}').toString('base64');

async function read(files: string[], o: Partial<Parameters<typeof readAuditEvents>[0]> = {}): Promise<{ events: AuditEvent[]; stats: AuditReadStats }> {
  const stats = emptyStats();
  const events: AuditEvent[] = [];
  for await (const e of readAuditEvents({ files, stats, ...o })) events.push(e);
  return { events, stats };
}

function file(name: string, content: string | Buffer): string {
  const f = join(dir, name);
  writeFileSync(f, content);
  return f;
}

const baseline = await read([FIXTURE]);

describe('real OpenBao records', () => {
  it('reads every record, pairs requests with responses, and finds no malformed line', () => {
    expect(baseline.stats).toMatchObject({ files: 1, lines: lines.length, records: lines.length, malformed: 0, partial: 0, unknownTypes: 0 });
    // Only the audit device's own test request has no response.
    const alone = baseline.events.filter((e) => e.details.noResponse);
    expect(alone.map((e) => e.path)).toEqual(['sys/audit/test']);
    // The requests OpenBao makes itself have no id: reported once, from their response.
    expect(baseline.events.filter((e) => e.path === 'sys/mounts/secret')).toHaveLength(1);
  });

  it('normalizes certificate issuances with principals, ttl, serial and reason', () => {
    const signs = baseline.events.filter((e) => e.kind === 'ssh-sign');
    expect(signs).toHaveLength(4);
    expect(signs[0]).toMatchObject({
      ok: true, actor: 'token', remoteAddress: '127.0.0.1', path: 'ssh-client-signer/sign/engineer',
      details: { role: 'engineer', principals: ['root'], ttl: 900, reason: 'ticket OPS-42', certType: 'user', extensions: ['permit-pty'] },
    });
    expect(BigInt('0x' + signs[0]!.details.serialHex!).toString()).toBe(signs[0]!.details.serial);
    expect(signs[1]).toMatchObject({ ok: true, actor: 'token-alice', details: { ttl: 1800 } });
    // The hostile reason survives as data (JSON escapes it); the table escapes it (report.test.ts).
    expect(signs[2]!.details.reason).toContain('\u001b]0;pwned');
    // A TTL above the role's max: a logical refusal, its message HMAC'd.
    expect(signs[3]).toMatchObject({ ok: false, actor: 'token-alice', details: { ttl: 18000, error: "refused (message HMAC'd)" } });
  });

  it('normalizes transit and AppRole events with fleet, key version, batch metadata and refusals', () => {
    const t = baseline.events.filter((e) => e.kind.startsWith('transit-'));
    expect(t.map((e) => [e.kind, e.ok, e.actor])).toEqual([
      ['transit-encrypt', true, 'token'],
      ['transit-decrypt', true, 'token'],
      ['transit-rewrap', true, 'token'],
      ['transit-decrypt', true, 'approle/flasher'],
      ['transit-decrypt', false, 'token-alice'],
      ['transit-encrypt', true, 'token'],
      ['transit-decrypt', true, 'token'],
    ]);
    for (const e of t) expect(e.details).toMatchObject({ key: 'balena-provisioning', fleet: 'acme-fleet' });
    expect(t[0]!.details.keyVersion).toBe(1);
    expect(t[3]!.details).toMatchObject({ batch: 'line-7', role: 'flasher' });
    expect(t[4]!.details.error).toBe('permission denied');

    const logins = baseline.events.filter((e) => e.kind === 'login');
    expect(logins.map((e) => [e.ok, e.actor, e.details.batch])).toEqual([
      [true, 'approle/flasher', 'line-7'], [false, 'anonymous', undefined], [false, 'anonymous', undefined],
    ]);
    expect(logins[0]!.details.policies).toEqual(['fleetvault-flasher']);
    // Once the mount un-HMACs `error`, the CIDR refusal says why.
    expect(logins[2]!.details.error).toMatch(/unauthorized through CIDR restrictions/);
  });

  it('never emits plaintext, even from a mount tuned to log it in clear', () => {
    expect(text).toContain(PLAINTEXT_B64); // the trap is real: the log itself has it
    const out = JSON.stringify(baseline.events);
    expect(out).not.toContain(PLAINTEXT_B64);
    expect(out).not.toContain('SECRET-PLAINTEXT-MARKER');
  });
});

describe('damaged and rotated logs', () => {
  it('counts malformed lines and unknown record types without losing events', async () => {
    const junk = ['not json', '[1,2,3]', '{"no":"type"}', '{"time":"2026-01-01T00:00:00Z","type":"request","request":{"id":"x"', '{"type":"future-record"}', '', '   '];
    const mixed = lines.flatMap((l, i) => (i % 10 === 3 ? [junk[(i / 10) % junk.length | 0]!, l] : [l]));
    const f = file('malformed.log', junk.join('\n') + '\n' + mixed.join('\n') + '\n');
    const r = await read([f]);
    expect(r.stats.malformed).toBeGreaterThanOrEqual(4 + Math.floor(lines.length / 10 / junk.length) * 3);
    expect(r.stats.unknownTypes).toBeGreaterThanOrEqual(1);
    expect(r.events.map((e) => e.path)).toEqual(baseline.events.map((e) => e.path));
  });

  it('reads rotated files in order, gzip detected by magic bytes, pairing across the rotation', async () => {
    // Cut between a transit decrypt request and its response.
    const cut = lines.findIndex((l) => l.includes('"type":"request"') && l.includes('transit/decrypt')) + 1;
    const older = file('audit.log.1', gzipSync(lines.slice(0, cut).join('\n') + '\n')); // no .gz suffix on purpose
    const newer = file('audit.log', lines.slice(cut).join('\n') + '\n');
    const r = await read([older, newer]);
    expect(r.stats).toMatchObject({ files: 2, records: lines.length, malformed: 0, orphanResponses: 0 });
    expect(r.events).toEqual(baseline.events);
    expect(r.stats.bytes).toBeLessThan(Buffer.byteLength(text)); // compressed bytes were read
  });

  it('counts a partial last line and a gzip cut short, and keeps going', async () => {
    const last = lines[lines.length - 1]!;
    const partial = file('partial.log', text + last.slice(0, 200));
    const r = await read([partial]);
    expect(r.stats.partial).toBe(1);
    expect(r.events).toEqual(baseline.events);
    // A complete last record without its newline is still a record.
    const nonl = await read([file('nonl.log', text.trimEnd())]);
    expect(nonl.stats.partial).toBe(0);
    expect(nonl.events).toEqual(baseline.events);

    const gz = gzipSync(text);
    const cutGz = file('cut.log.gz', gz.subarray(0, gz.length - 40));
    const g = await read([cutGz, partial]);
    expect(g.stats.corruptGzip).toBe(1);
    expect(g.stats.files).toBe(2);
    expect(g.events.length).toBeGreaterThan(baseline.events.length);
  });

  it('skips absurdly long lines instead of buffering them', async () => {
    const f = file('long.log', lines.slice(0, 10).join('\n') + '\n' + 'x'.repeat(300_000) + '\n' + lines.slice(10).join('\n') + '\n');
    const r = await read([f], { maxLineBytes: 100_000 });
    expect(r.stats.oversized).toBe(1);
    expect(r.events.map((e) => e.path)).toEqual(baseline.events.map((e) => e.path));
  });

  it('refuses a missing file with a usage error naming it', async () => {
    await expect(read([join(dir, 'nope.log')])).rejects.toThrow(/failed to read audit log .*nope\.log: ENOENT/);
  });
});

describe('bounded memory', () => {
  const request = lines.find((l) => l.includes('"type":"request"') && l.includes('transit/decrypt'))!;
  const reqTime = JSON.parse(request).time as string;

  it('holds at most maxPending unanswered requests, reporting the evicted ones alone', () => {
    const stats = emptyStats();
    const p = new AuditLineProcessor({ maxPending: 100 }, stats);
    const out: AuditEvent[] = [];
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      p.push(request.replace(/"request":\{"id":"[^"]+"/, `"request":{"id":"r-${i}"`) + '\n', out);
      peak = Math.max(peak, p.pendingCount);
    }
    expect(peak).toBe(100);
    expect(out).toHaveLength(20_000 - 100);
    expect(out.every((e) => e.details.noResponse && e.kind === 'transit-decrypt')).toBe(true);
    p.finish(out);
    expect(out).toHaveLength(20_000);
    expect(stats.unpaired).toBe(20_000);
  });

  it('evicts requests older than the pairing window (log time)', () => {
    const p = new AuditLineProcessor({ pairWindowSeconds: 60 });
    const out: AuditEvent[] = [];
    const t0 = Date.parse(reqTime);
    for (let i = 0; i < 600; i++) {
      const t = new Date(t0 + i * 1000).toISOString();
      p.push(request.replace(reqTime, t).replace(/"request":\{"id":"[^"]+"/, `"request":{"id":"w-${i}"`) + '\n', out);
      expect(p.pendingCount).toBeLessThanOrEqual(62);
    }
    expect(out.length).toBeGreaterThanOrEqual(600 - 62);
  });
});
