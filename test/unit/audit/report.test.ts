// Filters, the terminal table and anomalies over the events of real OpenBao records.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readAuditEvents, emptyStats } from '../../../src/audit/reader.js';
import { eventMatches, formatEventTable, parseTimeBound, statsLine, summarizeAuditLog, validateKinds } from '../../../src/audit/report.js';
import { findAnomalies } from '../../../src/audit/anomalies.js';
import { matchStringsFor } from '../../../src/audit/resolve.js';
import type { AuditEvent } from '../../../src/audit/events.js';
import { UsageError } from '../../../src/errors.js';

const FIXTURE = new URL('../../fixtures/audit/real.log', import.meta.url).pathname;
const events: AuditEvent[] = [];
for await (const e of readAuditEvents({ files: [FIXTURE] })) events.push(e);
async function* replay(list: AuditEvent[]) { yield* list; }

describe('filters', () => {
  it('by kind: the default hides successful "other" requests but keeps every refusal', () => {
    const pick = (kinds: string[]) => events.filter((e) => eventMatches(e, { kinds })).map((e) => e.kind);
    // The config/ca read that found no CA yet is init's own probe: a lookup, not a refusal (issue 12).
    expect(pick([]).filter((k) => k === 'other')).toEqual([]);
    expect(new Set(pick(['ssh']))).toEqual(new Set(['ssh-sign']));
    expect(new Set(pick(['transit']))).toEqual(new Set(['transit-encrypt', 'transit-decrypt', 'transit-rewrap']));
    expect(pick(['login'])).toEqual(['login', 'login', 'login']);
    expect(events.filter((e) => eventMatches(e, { kinds: ['denied'] })).every((e) => !e.ok)).toBe(true);
    expect(pick(['all'])).toHaveLength(events.length);
    expect(() => validateKinds(['ssh,bogus'])).toThrow(UsageError);
  });

  it('by time: ISO times and durations back from now', () => {
    const t = Date.parse(events[10]!.time);
    expect(parseTimeBound('2026-01-02T03:04:05Z', 'since')).toBe(Date.parse('2026-01-02T03:04:05Z'));
    expect(parseTimeBound('1h', 'since', 10_000_000)).toBe(10_000_000 - 3_600_000);
    expect(parseTimeBound('1h30m', 'since', 10_000_000)).toBe(10_000_000 - 5_400_000);
    expect(() => parseTimeBound('yesterday', 'since')).toThrow(/invalid since "yesterday"/);
    const after = events.filter((e) => eventMatches(e, { kinds: ['all'], sinceMs: t }));
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((e) => Date.parse(e.time) >= t)).toBe(true);
    expect(events.filter((e) => eventMatches(e, { kinds: ['all'], untilMs: t - 1 })).every((e) => Date.parse(e.time) < t)).toBe(true);
  });

  it('summarizes per kind and actor', async () => {
    const s = await summarizeAuditLog({ files: [FIXTURE], kinds: ['all'] });
    expect(s.events).toBe(events.length);
    expect(s.byKind['ssh-sign']).toEqual({ ok: 3, refused: 1 });
    expect(s.byActor['approle/flasher']).toEqual({ login: 1, 'transit-decrypt': 1 });
    expect(statsLine(s.stats, 3)).toMatch(/^audit: 3 events shown of \d+ \(113 records in 113 lines, 1 file\); 0 malformed lines skipped/);
  });
});

describe('table', () => {
  it('escapes terminal control sequences in every field', () => {
    const hostile = events.find((e) => e.details.reason?.includes('\u001b'))!;
    const forged: AuditEvent = { ...hostile, actor: 'evil\u001b[2J', path: 'x\u009bpath', remoteAddress: '1.2.3.4\r' };
    const table = formatEventTable([...events, forged]);
    // eslint-disable-next-line no-control-regex
    expect(table).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(table).toContain('evil\\x1b[2J');
    expect(table).toContain('x\\x9bpath');
    expect(table.split('\n')[0]).toMatch(/^TIME\s+KIND\s+RESULT\s+ACTOR\s+FROM\s+PATH\s+DETAILS$/);
  });
});

describe('anomalies', () => {
  it('finds decrypts outside the factory, bursts, unusual principals, long TTLs and refusals per source', async () => {
    const outside = await findAnomalies(replay(events), { factoryCidrs: ['203.0.113.0/24'], maxPerMinute: 1000 });
    expect(outside.filter((a) => a.type === 'decrypt-outside-factory').map((a) => a.actor)).toEqual(['token', 'approle/flasher', 'token']);
    const inside = await findAnomalies(replay(events), { factoryCidrs: ['127.0.0.0/8'], maxPerMinute: 1000 });
    expect(inside.filter((a) => a.type === 'decrypt-outside-factory')).toEqual([]);
    const refusals = inside.filter((a) => a.type === 'refusals');
    expect(refusals).toEqual([expect.objectContaining({ remoteAddress: '127.0.0.1', count: events.filter((e) => !e.ok).length })]);

    // Bursts count what hands out access and refusals, not configuration traffic (init's writes).
    const counted = events.filter((e) => e.actor === 'token' && (e.kind !== 'other' || !e.ok)).length;
    const limit = Math.floor(counted / 2);
    const bursts = (await findAnomalies(replay(events), { maxPerMinute: limit })).filter((a) => a.type === 'burst');
    expect(bursts).toHaveLength(1); // one growing report, not one per request
    expect(bursts[0]).toMatchObject({ actor: 'token' });
    expect(bursts[0]!.count).toBeGreaterThan(limit);
    const config = events.filter((e) => e.kind === 'other' && e.ok).map((e) => ({ ...e, actor: 'admin-only' }));
    expect((await findAnomalies(replay(config), { maxPerMinute: 5 })).filter((a) => a.type === 'burst')).toEqual([]);

    const certs = await findAnomalies(replay(events), { expectedPrincipals: ['admin'], maxTtlSeconds: 600, maxPerMinute: 1000 });
    expect(certs.filter((a) => a.type === 'unusual-principals')).toHaveLength(3); // refused signs do not count
    expect(certs.filter((a) => a.type === 'long-ttl').map((a) => a.message)).toEqual([
      'certificate requested for 900s (more than 600s)', 'certificate requested for 1800s (more than 600s)',
    ]);
    expect((await findAnomalies(replay(events), { maxPerMinute: 1000 })).filter((a) => a.type === 'unusual-principals' || a.type === 'long-ttl')).toEqual([]);
  });

  it('refuses bad factory ranges', async () => {
    await expect(findAnomalies(replay([]), { factoryCidrs: ['10.0.0.0/33'] })).rejects.toThrow(/invalid CIDR/);
  });
});

describe('resolve', () => {
  it('matches serials in clear, given in decimal (sshd) or hex', () => {
    const sign = events.find((e) => e.kind === 'ssh-sign')!;
    expect(matchStringsFor(sign.details.serial!, [])).toContain(`"serial_number":"${sign.details.serialHex}"`);
    expect(matchStringsFor(sign.details.serialHex!, [{ device: 'file', hash: 'hmac-sha256:ab' }])).toEqual(expect.arrayContaining(['hmac-sha256:ab', `"serial_number":"${sign.details.serialHex}"`]));
    expect(matchStringsFor('vault:v1:abc', [{ device: 'file', hash: 'hmac-sha256:ab' }])).toEqual(['hmac-sha256:ab']);
  });
});

// Keep the stats helper honest for consumers of the library.
it('emptyStats starts at zero', () => {
  expect(Object.values(emptyStats()).every((v) => v === 0)).toBe(true);
});
