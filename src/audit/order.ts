// Putting events back in time order, with bounded memory. Why they arrive out of order:
// - Vault/OpenBao stamp a record's time before they take the audit file's lock, so concurrent
//   requests land in the file a few milliseconds out of order;
// - a request whose response never comes (the audit device's own sys/audit/test, a crash) is only
//   reported when it leaves the pairing window, up to minutes after the events that followed it.
// The reader holds events in a min-heap and releases those older than a horizon below which
// nothing else can still arrive: the newest log time minus a jitter allowance, and never past the
// oldest request still waiting for its response. A cap on held events keeps memory flat whatever
// the log holds (past it, the oldest event is released even if a straggler may follow).
import type { AuditEvent } from './events.js';

/** Epoch milliseconds and the nanoseconds within that millisecond: Vault writes 9 fraction digits. */
export function timeKey(t: string): [number, number] | undefined {
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) return undefined;
  const frac = /\.(\d+)/.exec(t)?.[1] ?? '';
  return [ms, Number((frac.slice(3, 9) || '0').padEnd(6, '0'))];
}

/** Compare two Vault timestamps at full (nanosecond) precision; unparseable ones sort first. */
export function compareTimes(a: string, b: string): number {
  const ka = timeKey(a) ?? [-Infinity, 0];
  const kb = timeKey(b) ?? [-Infinity, 0];
  return ka[0] - kb[0] || ka[1] - kb[1];
}

interface Held { ms: number; sub: number; seq: number; event: AuditEvent }

const before = (a: Held, b: Held) => a.ms - b.ms || a.sub - b.sub || a.seq - b.seq;

export class TimeOrderBuffer {
  private readonly heap: Held[] = [];
  private seq = 0;
  /** Events released past the cap, before their horizon (they may precede a straggler). */
  overflowed = 0;

  constructor(private readonly maxHeld = 20_000) {}

  get size(): number { return this.heap.length; }

  /** Events without a readable time go straight out: there is no place in the order to keep them. */
  push(e: AuditEvent, out: AuditEvent[]): void {
    const k = timeKey(e.time);
    if (!k) { out.push(e); return; }
    this.heap.push({ ms: k[0], sub: k[1], seq: this.seq++, event: e });
    this.up(this.heap.length - 1);
  }

  /** Release, oldest first, every event strictly before horizonMs, then any beyond the cap. */
  release(horizonMs: number, out: AuditEvent[]): void {
    while (this.heap.length && (this.heap[0]!.ms < horizonMs || this.heap.length > this.maxHeld)) {
      if (this.heap[0]!.ms >= horizonMs) this.overflowed++;
      out.push(this.pop().event);
    }
  }

  drain(out: AuditEvent[]): void {
    while (this.heap.length) out.push(this.pop().event);
  }

  private pop(): Held {
    const top = this.heap[0]!;
    const last = this.heap.pop()!;
    if (this.heap.length) { this.heap[0] = last; this.down(0); }
    return top;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(h[i]!, h[p]!) >= 0) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!) < 0) m = l;
      if (r < h.length && before(h[r]!, h[m]!) < 0) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
