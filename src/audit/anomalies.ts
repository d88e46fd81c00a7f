// Anomalies: the events a security review should look at first, found in one streaming pass.
//   decrypt-outside-factory  a successful transit decrypt from an address outside the factory CIDRs
//   burst                    an actor making more than maxPerMinute requests within 60 s (signings,
//                            transit, logins and refusals; successful configuration traffic does not count)
//   unusual-principals       a certificate for principals outside the expected set (default root)
//                            and outside the scoped ones grants hand out (device-<uuid>, fleet-<slug>)
//   break-glass              every break-glass certificate, with its reason
//   long-ttl                 a certificate requested for longer than maxTtl (default 1h)
//   refusals                 refused requests, totalled per source address
// Memory: per-actor sliding windows hold at most maxPerMinute timestamps each; refusals are one
// counter per source address.
import { cidrSet, type CidrSet } from '../provision/cidr.js';
import type { AuditEvent } from './events.js';
import { BREAK_GLASS_PRINCIPAL, parseScopePrincipal } from '../access/principals.js';

export type AnomalyType = 'decrypt-outside-factory' | 'burst' | 'unusual-principals' | 'long-ttl' | 'refusals' | 'break-glass';

export interface Anomaly {
  type: AnomalyType;
  /** When it happened (for refusals and bursts: the first event). */
  time: string;
  until?: string;
  actor?: string;
  remoteAddress?: string;
  path?: string;
  count?: number;
  message: string;
}

export interface AnomalyOptions {
  /** Factory ranges; decrypts from elsewhere are anomalies. Without it, that check is off. */
  factoryCidrs?: string[];
  /** Requests per actor within any 60 s (default 60). */
  maxPerMinute?: number;
  expectedPrincipals?: string[];
  /** Seconds (default 3600). */
  maxTtlSeconds?: number;
  /** Report a source address once it has this many refusals (default 1). */
  minRefusals?: number;
}

export class AnomalyDetector {
  private readonly blocks?: CidrSet;
  private readonly maxPerMinute: number;
  private readonly expected: Set<string>;
  private readonly maxTtl: number;
  private readonly minRefusals: number;
  private readonly windows = new Map<string, { times: number[]; burst?: Anomaly }>();
  private readonly refusals = new Map<string, { count: number; first: string; last: string; actors: Set<string>; paths: Set<string> }>();

  constructor(o: AnomalyOptions = {}) {
    if (o.factoryCidrs?.length) {
      this.blocks = cidrSet(o.factoryCidrs);
    }
    this.maxPerMinute = o.maxPerMinute ?? 60;
    this.expected = new Set(o.expectedPrincipals?.length ? o.expectedPrincipals : ['root']);
    this.maxTtl = o.maxTtlSeconds ?? 3600;
    this.minRefusals = Math.max(1, o.minRefusals ?? 1);
  }

  /** Anomalies this event completes (bursts are reported once per window). */
  add(e: AuditEvent): Anomaly[] {
    const found: Anomaly[] = [];
    const base = { time: e.time, actor: e.actor, remoteAddress: e.remoteAddress, path: e.path };
    if (e.kind === 'transit-decrypt' && e.ok && this.blocks && !this.inFactory(e.remoteAddress)) {
      found.push({ type: 'decrypt-outside-factory', ...base, message: `decrypt from ${e.remoteAddress ?? 'an unknown address'}, outside the factory ranges` });
    }
    if (e.kind === 'ssh-sign' && e.ok) {
      const principals = e.details.principals ?? [];
      // Every break-glass certificate is reported, with the reason its policy demanded.
      if (principals.includes(BREAK_GLASS_PRINCIPAL)) {
        found.push({ type: 'break-glass', ...base, message: `break-glass certificate${e.details.reason ? ` (reason: ${e.details.reason})` : ''}` });
      }
      // Scoped principals (device-<uuid>, fleet-<slug>) are what grants hand out: not unusual.
      const odd = principals.filter((p) => !this.expected.has(p) && p !== BREAK_GLASS_PRINCIPAL && parseScopePrincipal(p) === undefined);
      if (odd.length) found.push({ type: 'unusual-principals', ...base, message: `certificate for principals ${odd.join(',')}` });
      if (e.details.ttl !== undefined && e.details.ttl > this.maxTtl) {
        found.push({ type: 'long-ttl', ...base, message: `certificate requested for ${e.details.ttl}s (more than ${this.maxTtl}s)` });
      }
    }
    if (!e.ok) {
      const key = e.remoteAddress ?? 'unknown';
      const r = this.refusals.get(key) ?? { count: 0, first: e.time, last: e.time, actors: new Set<string>(), paths: new Set<string>() };
      r.count++;
      r.last = e.time;
      if (r.actors.size < 10) r.actors.add(e.actor);
      if (r.paths.size < 10) r.paths.add(e.path);
      this.refusals.set(key, r);
    }
    const t = Date.parse(e.time);
    // Bursts are about what hands out access (certificates, decrypts, logins) and about refusals;
    // an admin's configuration traffic (init writes ~60 mounts, roles and policies in a second) is not.
    if (!Number.isNaN(t) && (e.kind !== 'other' || !e.ok)) {
      const w = this.windows.get(e.actor) ?? { times: [] };
      w.times.push(t);
      while (w.times.length && w.times[0]! <= t - 60_000) w.times.shift();
      // Only the last maxPerMinute+1 matter: the array never outgrows the threshold.
      if (w.times.length > this.maxPerMinute + 1) w.times.splice(0, w.times.length - this.maxPerMinute - 1);
      this.windows.set(e.actor, w);
      if (w.times.length <= this.maxPerMinute) w.burst = undefined;
      else if (w.burst) {
        // Still the same burst: one report that grows, not one per request.
        w.burst.count = (w.burst.count ?? 0) + 1;
        w.burst.until = e.time;
      } else {
        w.burst = {
          type: 'burst', time: new Date(w.times[0]!).toISOString(), until: e.time, actor: e.actor, remoteAddress: e.remoteAddress,
          count: w.times.length, message: `more than ${this.maxPerMinute} requests within a minute`,
        };
        found.push(w.burst);
      }
    }
    return found;
  }

  /** The per-source refusal totals, busiest first. */
  finish(): Anomaly[] {
    return [...this.refusals.entries()]
      .filter(([, r]) => r.count >= this.minRefusals)
      .sort((a, b) => b[1].count - a[1].count)
      .map(([addr, r]) => ({
        type: 'refusals' as const, time: r.first, until: r.last, remoteAddress: addr, count: r.count,
        actor: [...r.actors].join(','),
        message: `${r.count} refused request${r.count === 1 ? '' : 's'} (${[...r.paths].join(', ')})`,
      }));
  }

  private inFactory(addr: string | undefined): boolean {
    return !!this.blocks?.contains(addr);
  }
}

export async function findAnomalies(events: AsyncIterable<AuditEvent>, o: AnomalyOptions = {}): Promise<Anomaly[]> {
  const d = new AnomalyDetector(o);
  const out: Anomaly[] = [];
  for await (const e of events) out.push(...d.add(e));
  out.push(...d.finish());
  return out;
}
