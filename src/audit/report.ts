// Reports over the event stream: filtering (time range, kinds), the listing `fleetvault audit`
// prints, and the per-kind/per-actor summary. Pure functions over async iterables, so the library
// and the CLI share them and memory stays flat (only the summary's counters grow, per actor).
import { durationToSeconds } from '../config.js';
import { UsageError, escapeControl } from '../errors.js';
import type { AuditEvent, AuditEventKind } from './events.js';
import { readAuditEvents, emptyStats, type AuditReadOptions, type AuditReadStats } from './reader.js';
import { compareTimes } from './order.js';

/** What --kind accepts: ssh, transit, denied, login, other, all (or an exact event kind). */
export const KIND_FILTERS = ['ssh', 'transit', 'denied', 'login', 'other', 'all'] as const;

export interface AuditFilter {
  /** Epoch ms; events before are dropped. */
  sinceMs?: number;
  untilMs?: number;
  /**
   * Kind filters, OR'ed. Default (empty): every ssh-sign, transit and login event plus every
   * refused request of any kind — `other` successes (mount reads, policy writes…) only with
   * "other" or "all".
   */
  kinds?: string[];
  /** Only events whose path contains one of these (e.g. one layout's mount names). */
  pathContains?: string[];
}

/** "2026-01-02T03:04:05Z", "2026-01-02", or a duration back from now ("1h", "30m", "7d"). */
export function parseTimeBound(input: string, what: string, nowMs = Date.now()): number {
  const s = input.trim();
  if (/^\d+[smhd]/.test(s) || /^\d+$/.test(s)) {
    // A bare number is a duration in seconds, like everywhere else in fleetvault.
    return nowMs - durationToSeconds(s, what) * 1000;
  }
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(t)) {
    throw new UsageError(`invalid ${what} "${input}"`, { hint: 'use an ISO time (2026-01-02T15:04:05Z) or a duration back from now (1h, 30m, 7d)' });
  }
  return t;
}

export function validateKinds(kinds: string[] | undefined): string[] {
  const list = (kinds ?? []).flatMap((k) => k.split(',')).map((k) => k.trim()).filter(Boolean);
  const exact: string[] = ['ssh-sign', 'transit-encrypt', 'transit-decrypt', 'transit-rewrap', 'login', 'other'];
  for (const k of list) {
    if (!(KIND_FILTERS as readonly string[]).includes(k) && !exact.includes(k)) {
      throw new UsageError(`invalid --kind "${k}"`, { hint: `use one of ${KIND_FILTERS.join(', ')}` });
    }
  }
  return list;
}

export function eventMatches(e: AuditEvent, f: AuditFilter): boolean {
  if (f.sinceMs !== undefined || f.untilMs !== undefined) {
    const t = Date.parse(e.time);
    if (Number.isNaN(t)) return false;
    if (f.sinceMs !== undefined && t < f.sinceMs) return false;
    if (f.untilMs !== undefined && t > f.untilMs) return false;
  }
  if (f.pathContains?.length && !f.pathContains.some((p) => e.path.includes(p))) return false;
  const kinds = f.kinds ?? [];
  if (kinds.length === 0) return e.kind !== 'other' || !e.ok;
  return kinds.some((k) => {
    switch (k) {
      case 'all': return true;
      case 'ssh': return e.kind === 'ssh-sign';
      case 'transit': return e.kind.startsWith('transit-');
      case 'denied': return !e.ok;
      default: return e.kind === k;
    }
  });
}

export async function* filterEvents(events: AsyncIterable<AuditEvent>, f: AuditFilter): AsyncGenerator<AuditEvent> {
  for await (const e of events) if (eventMatches(e, f)) yield e;
}

export interface AuditReportOptions extends AuditReadOptions, AuditFilter {}

/** Read, normalize and filter: the event stream behind `fleetvault audit`, in time order unless told not to. */
export function auditEvents(o: AuditReportOptions): AsyncGenerator<AuditEvent> {
  return filterEvents(readAuditEvents({ ordered: true, ...o }), o);
}

export interface AuditSummary {
  events: number;
  refused: number;
  byKind: Partial<Record<AuditEventKind, { ok: number; refused: number }>>;
  /** "actor kind" → count, for the busiest actors. */
  byActor: Record<string, Partial<Record<AuditEventKind, number>>>;
  /** The earliest and latest event times, ISO 8601 to the millisecond (Vault logs nanoseconds). */
  first?: string;
  last?: string;
  stats: AuditReadStats;
}

/** "2026-11-24T08:09:31.935000309Z" → "2026-11-24T08:09:31.935Z"; unparseable times unchanged. */
export function isoMillis(t: string): string {
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? t : new Date(ms).toISOString();
}

/** Counts per kind and per actor over every event (filters still apply). Reads every line. */
export async function summarizeAuditLog(o: AuditReportOptions): Promise<AuditSummary> {
  const stats = o.stats ?? emptyStats();
  const s: AuditSummary = { events: 0, refused: 0, byKind: {}, byActor: {}, stats };
  // Counting needs no order: skip the reorder buffer (memory and the jitter hold-back).
  for await (const e of auditEvents({ ordered: false, ...o, stats })) {
    s.events++;
    if (!e.ok) s.refused++;
    const k = (s.byKind[e.kind] ??= { ok: 0, refused: 0 });
    if (e.ok) k.ok++; else k.refused++;
    const a = (s.byActor[e.actor] ??= {});
    a[e.kind] = (a[e.kind] ?? 0) + 1;
    // Not string order: Go trims trailing zeros, so "…:05.1Z" sorts after "…:05.12Z" as text.
    if (e.time && (s.first === undefined || compareTimes(e.time, s.first) < 0)) s.first = e.time;
    if (e.time && (s.last === undefined || compareTimes(e.time, s.last) > 0)) s.last = e.time;
  }
  if (s.first !== undefined) s.first = isoMillis(s.first);
  if (s.last !== undefined) s.last = isoMillis(s.last);
  return s;
}

/** One line per event: what happened, to what, by whom, from where. */
export function describeEvent(e: AuditEvent): string {
  const d = e.details;
  const parts: string[] = [];
  if (e.kind === 'ssh-sign') {
    if (d.principals) parts.push(`principals=${d.principals.join(',')}`);
    if (d.ttl !== undefined) parts.push(`ttl=${d.ttl}s`);
    if (d.serial) parts.push(`serial=${d.serial}`);
    if (d.keyId) parts.push(`key_id=${d.keyId}`);
    if (d.reason) parts.push(`reason=${JSON.stringify(d.reason)}`);
  } else if (e.kind.startsWith('transit-')) {
    if (d.key) parts.push(`key=${d.key}`);
    if (d.fleet) parts.push(`fleet=${d.fleet}`);
    if (d.keyVersion !== undefined) parts.push(`v${d.keyVersion}`);
    if (d.batchItems !== undefined) parts.push(`items=${d.batchItems}`);
  } else if (e.kind === 'login' && d.role) parts.push(`role=${d.role}`);
  if (d.batch) parts.push(`batch=${d.batch}`);
  if (d.error) parts.push(`error=${JSON.stringify(d.error)}`);
  if (d.noResponse) parts.push('(no response logged)');
  return parts.join(' ');
}

/**
 * A fixed-column table for terminals. Every field is escaped: key ids, reasons and metadata come
 * from whoever called Vault, and a hostile one must not be able to drive the reader's terminal.
 */
export function formatEventTable(events: AuditEvent[]): string {
  const rows = events.map((e) => [
    e.time.replace(/\.\d+Z$/, 'Z'), e.kind, e.details.lookupMiss ? 'not found' : e.ok ? 'ok' : 'REFUSED', e.actor, e.remoteAddress ?? '-', e.path, describeEvent(e),
  ].map((c) => escapeControl(c)));
  const head = ['TIME', 'KIND', 'RESULT', 'ACTOR', 'FROM', 'PATH', 'DETAILS'];
  const widths = head.map((h, i) => Math.min(i === 5 ? 48 : 40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

/** The stderr summary line: what was read and what was skipped, so nothing is silently dropped. */
export function statsLine(s: AuditReadStats, shown: number): string {
  const skipped = [
    `${s.malformed} malformed line${s.malformed === 1 ? '' : 's'} skipped`,
    s.partial ? `${s.partial} partial last line${s.partial === 1 ? '' : 's'}` : '',
    s.oversized ? `${s.oversized} oversized` : '',
    s.unknownTypes ? `${s.unknownTypes} of unknown type` : '',
    s.corruptGzip ? `${s.corruptGzip} corrupt gzip file${s.corruptGzip === 1 ? '' : 's'}` : '',
    s.unpaired ? `${s.unpaired} request${s.unpaired === 1 ? '' : 's'} without response` : '',
    s.reorderOverflow ? `${s.reorderOverflow} shown out of time order (reorder buffer full)` : '',
  ].filter(Boolean);
  return `audit: ${shown} event${shown === 1 ? '' : 's'} shown of ${s.events} (${s.records} records in ${s.lines} lines, ${s.files} file${s.files === 1 ? '' : 's'}); ${skipped.join(', ')}`;
}
