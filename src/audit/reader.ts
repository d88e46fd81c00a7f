// Streaming reader for Vault/OpenBao file audit logs: JSON lines, one record per line, written
// as a "request" record when a request arrives and a "response" record (which repeats the
// request) when it is answered. Reads any number of files in the order given (rotated logs: oldest
// first), gzip or plain (detected by magic bytes, not by name), and never crashes on bad input:
// malformed lines, unknown record types, a partial last line (the server is still writing) and
// absurdly long lines are counted in the stats instead.
//
// Memory stays flat whatever the log size: lines are processed as they stream by; the only state
// is the set of requests still waiting for their response, bounded by a time window and a count.
// A request evicted from that set is reported on its own (details.noResponse).
//
// Speed trap: half the bytes of a log are request records that their response repeats. Those are
// not JSON.parse'd on the fast path — only their id and time are picked out with an anchored
// match on the prefix Vault/OpenBao always write ({"time":…,"type":…}); the full parse happens
// only if the request is evicted unanswered. Anything that does not look like that prefix takes
// the slow, fully parsed path.
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { UsageError } from '../errors.js';
import { normalizeAuditPair, type AuditEvent, type RawAuditRecord } from './events.js';
import { TimeOrderBuffer } from './order.js';

export interface AuditReadStats {
  files: number;
  /** Bytes read from disk (compressed size for .gz). */
  bytes: number;
  lines: number;
  /** request + response records recognised. */
  records: number;
  /** Lines that are not a JSON object with a string "type". */
  malformed: number;
  /** A last line cut off mid-record (the server was writing, or the file was truncated). */
  partial: number;
  /** Records of a type other than request/response (skipped). */
  unknownTypes: number;
  /** Lines longer than maxLineBytes (skipped whole). */
  oversized: number;
  /** Requests reported without a response. */
  unpaired: number;
  /** Events released out of time order because the reorder buffer was full (ordered reads). */
  reorderOverflow?: number;
  /** Responses whose request was not seen (earlier file not read, or evicted). */
  orphanResponses: number;
  /** gzip files that ended early or were corrupt (the rest of that file is skipped). */
  corruptGzip: number;
  events: number;
}

export function emptyStats(): AuditReadStats {
  return { files: 0, bytes: 0, lines: 0, records: 0, malformed: 0, partial: 0, unknownTypes: 0, oversized: 0, unpaired: 0, orphanResponses: 0, corruptGzip: 0, events: 0 };
}

export interface AuditPairingOptions {
  /** Seconds a request may wait for its response (log time) before it is reported alone. Default 300. */
  pairWindowSeconds?: number;
  /** Most unanswered requests held at once; beyond this the oldest is reported alone. Default 10000. */
  maxPending?: number;
  /** Longest line accepted, in characters. Default 16 MiB. */
  maxLineBytes?: number;
  /** Only records whose raw line contains one of these strings (e.g. an HMAC from `audit resolve`). */
  match?: string[];
}

export interface AuditReadOptions extends AuditPairingOptions {
  /** Log files, oldest first. */
  files: string[];
  /**
   * Emit events in time order (see order.ts). Off by default: counting passes (summary) do not
   * need it, and it holds events back by up to the jitter allowance.
   */
  ordered?: boolean;
  /** Most events held for reordering (default 20000). */
  maxReorder?: number;
  /** How far out of order concurrent records land in the file, ms of log time (default 2000). */
  reorderJitterMs?: number;
  /** Filled in while reading; read it after the iteration ends. */
  stats?: AuditReadStats;
  signal?: AbortSignal;
}

interface Pending { t: number; line?: string; record?: RawAuditRecord }

/** A string that does not share storage with its source (see the slice trap in line()). */
function flatCopy(s: string): string {
  return (' ' + s).slice(1);
}

// What every file audit record starts with (Go marshals struct fields in declaration order).
const HEAD = /^\{"time":"([^"]*)","type":"(request|response)"/;
const REQUEST_ID = '"request":{"id":"';
const AUDIT_TEST_PATH = '"path":"sys/audit/test"';

/**
 * Turns text into events. Push text as it arrives; call endOfInput() at the end of a file (the
 * remainder is a partial last line) and finish() at the very end (reports unanswered requests).
 * Used by the file reader and by `audit tail`.
 */
export class AuditLineProcessor {
  readonly stats: AuditReadStats;
  private carry = '';
  private skippingOversized = false;
  private readonly pending = new Map<string, Pending>();
  private latest = 0;
  private readonly windowMs: number;
  private readonly maxPending: number;
  private readonly maxLine: number;
  private readonly match?: string[];

  constructor(o: AuditPairingOptions = {}, stats: AuditReadStats = emptyStats()) {
    this.stats = stats;
    this.windowMs = (o.pairWindowSeconds ?? 300) * 1000;
    this.maxPending = Math.max(1, o.maxPending ?? 10_000);
    this.maxLine = o.maxLineBytes ?? 16 * 1024 * 1024;
    this.match = o.match?.length ? o.match : undefined;
  }

  /** Unanswered requests currently held (for tests of the memory bound). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** The newest log time seen, epoch ms. */
  get latestMs(): number {
    return this.latest;
  }

  /**
   * Log time of the oldest request still waiting for its response (Infinity when none): its event,
   * if it is ever reported alone, carries this time, so nothing at or after it is final yet.
   */
  get oldestPendingMs(): number {
    let oldest = Infinity;
    // Insertion order is time order but for jitter: the first few entries are enough to look at.
    let n = 0;
    for (const p of this.pending.values()) { if (p.t < oldest) oldest = p.t; if (++n >= 16) break; }
    return oldest;
  }

  push(text: string, out: AuditEvent[]): void {
    let start = 0;
    let data = text;
    if (this.carry !== '') { data = this.carry + text; this.carry = ''; }
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl < 0) break;
      if (this.skippingOversized) this.skippingOversized = false;
      else this.line(data.slice(start, nl), out);
      start = nl + 1;
    }
    if (start < data.length) {
      if (this.skippingOversized) return;
      const rest = start === 0 ? data : data.slice(start);
      if (rest.length > this.maxLine) {
        // Never buffer without bound: drop this line up to its newline.
        this.stats.oversized++;
        this.stats.lines++;
        this.skippingOversized = true;
      } else this.carry = rest;
    }
  }

  /** End of one file: whatever is left is a line without its newline. */
  endOfInput(out: AuditEvent[]): void {
    const rest = this.carry;
    this.carry = '';
    this.skippingOversized = false;
    if (rest.trim() === '') return;
    this.stats.lines++;
    let complete = false;
    try { JSON.parse(rest); complete = true; } catch { /* cut off */ }
    if (complete) { this.stats.lines--; this.line(rest, out); } else this.stats.partial++;
  }

  /** End of all input: report every request still waiting for its response. */
  finish(out: AuditEvent[]): void {
    for (const [id] of this.pending) this.evict(id, out);
  }

  /**
   * The log has been quiet for idleMs (tail): let log time run on by that much, so a request whose
   * response never comes is still reported. Not wall-clock time against log time: replayed or
   * skewed logs would have every request evicted on arrival.
   */
  expireIdle(idleMs: number, out: AuditEvent[]): void {
    this.evictExpired(out, idleMs);
  }

  private line(line: string, out: AuditEvent[]): void {
    this.stats.lines++;
    if (line.length > this.maxLine) { this.stats.oversized++; return; }
    if (line.trim() === '') return;
    if (this.match && !this.match.some((m) => line.includes(m))) return;
    const head = HEAD.exec(line);
    if (head && head[2] === 'request') {
      const i = line.indexOf(REQUEST_ID);
      if (i >= 0) {
        const idStart = i + REQUEST_ID.length;
        // Copies, not slices: V8 slices keep their whole 64 KiB read chunk alive for as long as the
        // request waits — with a few long-unanswered requests that alone added ~70 MiB peak RSS.
        const id = flatCopy(line.slice(idStart, line.indexOf('"', idStart)));
        this.stats.records++;
        this.addPending(id, { t: Date.parse(head[1]!) || this.latest, line: flatCopy(line) }, out);
        // Enabling an audit device logs a test request that is never answered, by design: report it
        // at once rather than hold it (and, in ordered reads, every event after it) for the window.
        if (line.includes(AUDIT_TEST_PATH)) this.evict(id, out);
        return;
      }
    }
    let rec: RawAuditRecord;
    try {
      rec = JSON.parse(line) as RawAuditRecord;
    } catch {
      this.stats.malformed++;
      return;
    }
    if (!rec || typeof rec !== 'object' || Array.isArray(rec) || typeof rec.type !== 'string') {
      this.stats.malformed++;
      return;
    }
    if (rec.type === 'request') {
      this.stats.records++;
      const id = typeof rec.request?.id === 'string' ? rec.request.id : '';
      const t = (typeof rec.time === 'string' && Date.parse(rec.time)) || this.latest;
      // Requests Vault makes itself (mounting secret/ at dev start-up) carry no id; their response
      // repeats them, so holding or reporting the request would only duplicate it.
      if (id !== '') {
        this.addPending(id, { t, record: rec }, out);
        if (rec.request?.path === 'sys/audit/test') this.evict(id, out);
      }
      return;
    }
    if (rec.type !== 'response') {
      this.stats.unknownTypes++;
      return;
    }
    this.stats.records++;
    const id = typeof rec.request?.id === 'string' ? rec.request.id : undefined;
    let request: RawAuditRecord | undefined;
    if (id !== undefined && this.pending.has(id)) {
      const p = this.pending.get(id)!;
      this.pending.delete(id);
      // The response repeats the request; the parsed request is only needed if we have it already.
      request = p.record;
    } else if (id !== undefined) this.stats.orphanResponses++;
    const t = typeof rec.time === 'string' ? Date.parse(rec.time) : NaN;
    if (t > this.latest) this.latest = t;
    this.emit(normalizeAuditPair(request, rec), out, false);
    this.evictExpired(out);
  }

  private addPending(id: string, p: Pending, out: AuditEvent[]): void {
    if (p.t > this.latest) this.latest = p.t;
    // A repeated id (should not happen) replaces the earlier request rather than growing the map.
    if (this.pending.has(id)) this.evict(id, out);
    this.pending.set(id, p);
    while (this.pending.size > this.maxPending) this.evict(this.pending.keys().next().value as string, out);
    this.evictExpired(out);
  }

  private evictExpired(out: AuditEvent[], idleMs = 0): void {
    const cutoff = this.latest + idleMs - this.windowMs;
    for (const [id, p] of this.pending) {
      if (p.t >= cutoff) break; // insertion order ≈ time order
      this.evict(id, out);
    }
  }

  private evict(id: string, out: AuditEvent[]): void {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (!p) return;
    let rec = p.record;
    if (!rec && p.line !== undefined) {
      // The fast path counted it as a record on its prefix alone; it turned out not to be one.
      try { rec = JSON.parse(p.line) as RawAuditRecord; } catch { this.stats.records--; this.stats.malformed++; return; }
    }
    if (!rec || typeof rec !== 'object') return;
    this.emit(normalizeAuditPair(rec, undefined), out, true);
  }

  private emit(e: AuditEvent | undefined, out: AuditEvent[], unpaired: boolean): void {
    if (!e) return;
    if (unpaired) this.stats.unpaired++;
    this.stats.events++;
    out.push(e);
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];
// Small, reused read buffers keep RSS flat: V8 frees short-lived small strings in its young
// generation cheaply, but chunk strings above ~256 KiB land in large-object space and pile up
// until a full GC (1 MiB chunks cost ~100 MiB more peak RSS on a 1 GB log).
const CHUNK = 64 * 1024;

function openError(file: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  return new UsageError(`failed to read audit log ${file}: ${code}`, {
    hint: code === 'EACCES' ? 'the audit log is 0600: run as its owner or copy it readable' : 'pass --log with an existing file',
  });
}

/** The file's text bytes, gunzipped when it starts with the gzip magic (whatever its name). */
async function openLog(file: string, onBytes: (n: number) => void): Promise<{ chunks: AsyncIterable<Buffer>; gzip: boolean; close(): Promise<void> }> {
  let fh: FileHandle;
  try { fh = await open(file, 'r'); } catch (e) { throw openError(file, e); }
  const magic = Buffer.alloc(2);
  const { bytesRead } = await fh.read(magic, 0, 2, 0);
  const gzip = bytesRead === 2 && magic[0] === GZIP_MAGIC[0] && magic[1] === GZIP_MAGIC[1];
  if (gzip) {
    await fh.close();
    const raw = createReadStream(file, { highWaterMark: CHUNK });
    raw.on('data', (c) => onBytes((c as Buffer).length));
    const gunzip = createGunzip({ chunkSize: CHUNK });
    raw.on('error', (e) => gunzip.destroy(e));
    const stream: Readable = raw.pipe(gunzip);
    return { chunks: stream as AsyncIterable<Buffer>, gzip, close: async () => { stream.destroy(); raw.destroy(); } };
  }
  const buf = Buffer.alloc(CHUNK);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      const { bytesRead: n } = await fh.read(buf, 0, CHUNK, null);
      if (n === 0) return;
      onBytes(n);
      // The consumer decodes it to a string before asking for more, so reuse is safe.
      yield buf.subarray(0, n);
    }
  }
  return { chunks: chunks(), gzip, close: () => fh.close() };
}

/**
 * Normalized events from audit log files: in the order responses appear (a request reported alone
 * appears when it is evicted), or in time order with `ordered`. Stats fill in as it goes.
 */
export async function* readAuditEvents(o: AuditReadOptions): AsyncGenerator<AuditEvent> {
  const stats = o.stats ?? emptyStats();
  const proc = new AuditLineProcessor(o, stats);
  if (!o.ordered) {
    for await (const batch of readBatches(o, proc, stats)) yield* batch;
    return;
  }
  const order = new TimeOrderBuffer(o.maxReorder);
  const jitter = o.reorderJitterMs ?? 2000;
  const out: AuditEvent[] = [];
  for await (const batch of readBatches(o, proc, stats)) {
    // The whole batch first: a request evicted by a response is in the same batch, and older.
    for (const e of batch) order.push(e, out);
    order.release(Math.min(proc.latestMs - jitter, proc.oldestPendingMs), out);
    if (out.length) { yield* out; out.length = 0; }
  }
  order.drain(out);
  if (order.overflowed) stats.reorderOverflow = (stats.reorderOverflow ?? 0) + order.overflowed;
  yield* out;
}

/** Events as the processor completes them, one batch per chunk read. */
async function* readBatches(o: AuditReadOptions, proc: AuditLineProcessor, stats: AuditReadStats): AsyncGenerator<AuditEvent[]> {
  let out: AuditEvent[] = [];
  const flush = () => { const b = out; out = []; return b; };
  for (const file of o.files) {
    if (o.signal?.aborted) break;
    const log = await openLog(file, (n) => { stats.bytes += n; });
    stats.files++;
    const decoder = new StringDecoder('utf8');
    try {
      for await (const chunk of log.chunks) {
        proc.push(decoder.write(chunk), out);
        if (out.length) yield flush();
        if (o.signal?.aborted) break;
      }
    } catch (e) {
      // A .gz cut short (rotation in progress, disk full) must not lose the rest of the report.
      if (!log.gzip) throw new UsageError(`failed to read audit log ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      stats.corruptGzip++;
    } finally {
      await log.close();
    }
    proc.push(decoder.end(), out);
    proc.endOfInput(out);
    if (out.length) yield flush();
  }
  proc.finish(out);
  if (out.length) yield flush();
}
