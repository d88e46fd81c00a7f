// Issue 12, "Audit views", over records a real OpenBao wrote (test/fixtures/audit/real.log, made by
// capture.mjs): fleetvault's own probes are not anomalies, events come out in time order, the
// summary's times are ISO to the millisecond, and audit resolve's hash lookups are told apart.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAuditEvents, emptyStats } from '../../../src/audit/reader.js';
import { auditEvents, formatEventTable, summarizeAuditLog } from '../../../src/audit/report.js';
import { findAnomalies } from '../../../src/audit/anomalies.js';
import { compareTimes, timeKey } from '../../../src/audit/order.js';
import { isAuditHashLookup } from '../../../src/audit/resolve.js';
import { normalizeAuditPair, type AuditEvent, type RawAuditRecord } from '../../../src/audit/events.js';

const FIXTURE = new URL('../../fixtures/audit/real.log', import.meta.url).pathname;
const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter(Boolean);
const dir = mkdtempSync(join(tmpdir(), 'fv-audit-order-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncIterable<AuditEvent>): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}
const inOrder = (ev: AuditEvent[]) => ev.every((e, i) => i === 0 || compareTimes(ev[i - 1]!.time, e.time) <= 0);

describe("fleetvault's own probes are lookups, not refusals", () => {
  it('the config/ca read that found no CA yet (init) is ok, marked lookupMiss, and not an anomaly', async () => {
    const events = await collect(auditEvents({ files: [FIXTURE], kinds: ['all'] }));
    const probe = events.find((e) => e.path === 'ssh-client-signer/config/ca' && e.details.lookupMiss);
    expect(probe).toMatchObject({ ok: true, kind: 'other', details: { lookupMiss: true, error: "nothing found (message HMAC'd)" } });
    const anomalies = await findAnomalies(auditEvents({ files: [FIXTURE], kinds: ['all'] }));
    expect(anomalies.map((a) => a.message).join('\n')).not.toContain('config/ca');
    // The real refusals are all still there.
    expect(anomalies.find((a) => a.type === 'refusals')?.count).toBe(4);
    expect(formatEventTable([probe!])).toMatch(/ not found /);
  });

  it('the same read refused by policy stays a refusal; a failed write stays a refusal', () => {
    const i = lines.findIndex((l) => l.includes('"type":"response"') && l.includes('"path":"ssh-client-signer/config/ca"') && l.includes('"data":{"error"'));
    const rec = JSON.parse(lines[i]!) as RawAuditRecord;
    expect(normalizeAuditPair(undefined, rec)).toMatchObject({ ok: true, details: { lookupMiss: true } });
    const denied = structuredClone(rec);
    denied.auth!.policy_results = { allowed: false };
    denied.error = 'permission denied';
    expect(normalizeAuditPair(undefined, denied)).toMatchObject({ ok: false, details: { error: 'permission denied' } });
    expect(normalizeAuditPair(undefined, denied)!.details.lookupMiss).toBeUndefined();
    const write = structuredClone(rec);
    write.request!.operation = 'update';
    expect(normalizeAuditPair(undefined, write)).toMatchObject({ ok: false });
  });

  it("a rotation's issuer probe (real OpenBao answer) is a lookup miss too", () => {
    // As OpenBao 2.7.2 logs `ca rotate` reading issuer/<new name> before importing it (error un-HMAC'd).
    const rec: RawAuditRecord = {
      time: '2026-11-30T23:17:49.352876911Z', type: 'response',
      auth: { display_name: 'token', policies: ['root'], policy_results: { allowed: true } },
      request: { id: 'x', operation: 'read', mount_point: 'ssh/', mount_type: 'ssh', mount_class: 'secret', path: 'ssh/issuer/fleetvault-20261130-231749', remote_address: '127.0.0.1' },
      response: { data: { error: 'unable to find issuer for reference: fleetvault-20261130-231749' } },
    };
    expect(normalizeAuditPair(undefined, rec)).toMatchObject({ ok: true, details: { lookupMiss: true, error: 'unable to find issuer for reference: fleetvault-20261130-231749' } });
  });
});

describe('time order', () => {
  it('the fixture comes out in time order: the request without a response first, not last', async () => {
    const raw = await collect(readAuditEvents({ files: [FIXTURE] }));
    const ordered = await collect(auditEvents({ files: [FIXTURE], kinds: ['all'] }));
    expect(ordered).toHaveLength(raw.length);
    expect(inOrder(ordered)).toBe(true);
    expect(ordered[0]).toMatchObject({ path: 'sys/audit/test', details: { noResponse: true } });
  });

  it('records written out of order by concurrent requests are put back in order', async () => {
    // Two requests answered concurrently: A's response is stamped first but written after B's.
    // reqA respA reqB respB → reqA reqB respB respA, wherever the log has that shape.
    const type = (l: string) => /"type":"(request|response)"/.exec(l)?.[1];
    const swapped = [...lines];
    let moved = 0;
    for (let i = 0; i + 3 < swapped.length; i++) {
      const [a, b, c, d] = swapped.slice(i, i + 4).map(type);
      if (a === 'request' && b === 'response' && c === 'request' && d === 'response') {
        const [ra, sa, rb, sb] = swapped.slice(i, i + 4);
        swapped.splice(i, 4, ra!, rb!, sb!, sa!);
        moved++;
        i += 3;
      }
    }
    expect(moved).toBeGreaterThan(10);
    const f = join(dir, 'swapped.log');
    writeFileSync(f, swapped.join('\n') + '\n');
    expect(inOrder(await collect(readAuditEvents({ files: [f] })))).toBe(false);
    const ordered = await collect(auditEvents({ files: [f], kinds: ['all'] }));
    expect(inOrder(ordered)).toBe(true);
    expect(ordered).toHaveLength(57);
  });

  it('a request whose response never came is shown where it happened, not after everything else', async () => {
    const i = lines.findIndex((l) => l.includes('"type":"request"') && l.includes('transit/encrypt'));
    const id = /"request":\{"id":"([^"]+)"/.exec(lines[i]!)![1]!;
    const f = join(dir, 'unanswered.log');
    writeFileSync(f, lines.filter((l) => !(l.includes('"type":"response"') && l.includes(`"id":"${id}"`))).join('\n') + '\n');
    const raw = await collect(readAuditEvents({ files: [f] }));
    expect(raw.at(-1)).toMatchObject({ path: 'transit/encrypt/balena-provisioning', details: { noResponse: true } });
    expect(inOrder(raw)).toBe(false);
    const ordered = await collect(auditEvents({ files: [f], kinds: ['all'] }));
    expect(inOrder(ordered)).toBe(true);
    expect(ordered.findIndex((e) => e.details.noResponse && e.kind === 'transit-encrypt')).toBeLessThan(ordered.length - 5);
  });

  it('memory stays bounded: past the cap the oldest is released and counted, nothing is lost', async () => {
    const stats = emptyStats();
    const ev = await collect(readAuditEvents({ files: [FIXTURE], ordered: true, maxReorder: 3, stats }));
    expect(ev).toHaveLength(57);
    expect(stats.reorderOverflow).toBeGreaterThan(0);
  });

  it('compares Vault times at nanosecond precision, not as text', () => {
    // Go trims trailing zeros: as text "05.1Z" sorts after "05.12Z".
    expect(compareTimes('2026-01-01T00:00:05.1Z', '2026-01-01T00:00:05.12Z')).toBeLessThan(0);
    expect(compareTimes('2026-01-01T00:00:05.000000002Z', '2026-01-01T00:00:05.000000001Z')).toBeGreaterThan(0);
    expect(compareTimes('2026-01-01T00:00:05Z', '2026-01-01T00:00:05.000Z')).toBe(0);
    expect(timeKey('not a time')).toBeUndefined();
  });
});

describe('summary times', () => {
  it('first and last are ISO 8601 to the millisecond, taken at full precision', async () => {
    const s = await summarizeAuditLog({ files: [FIXTURE], kinds: ['all'] });
    expect(s.first).toBe('2026-11-24T08:09:31.935Z');
    expect(s.last).toMatch(/^2026-11-24T08:09:32\.\d{3}Z$/);
    expect(s.refused).toBe(4);
  });
});

describe('audit resolve', () => {
  it("tells its own hash lookups apart from the events that carry the value", () => {
    const base = { time: '2026-01-01T00:00:00Z', kind: 'other' as const, ok: true, actor: 'token', details: {} };
    expect(isAuditHashLookup({ ...base, path: 'sys/audit-hash/file' })).toBe(true);
    expect(isAuditHashLookup({ ...base, path: 'team-a/sys/audit-hash/file' })).toBe(true);
    expect(isAuditHashLookup({ ...base, path: 'transit/decrypt/balena-provisioning' })).toBe(false);
    expect(isAuditHashLookup({ ...base, path: 'kv/data/sys/audit-hash-notes' })).toBe(false);
  });
});
