// `fleetvault audit tail`: follow an audit log the way `tail -F` does. Polls (fs.watch misses
// events on some filesystems and across rotations): when the path names a new inode the old file
// is drained to its end first, then the new one is read from its start; when the file shrinks
// (truncated in place, copytruncate rotation) reading restarts at 0. A missing file is waited for.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { UsageError } from '../errors.js';
import type { AuditEvent } from './events.js';
import { AuditLineProcessor, emptyStats, type AuditPairingOptions, type AuditReadStats } from './reader.js';

export interface TailOptions extends AuditPairingOptions {
  file: string;
  onEvent: (e: AuditEvent) => void;
  /** Stops following; the promise then resolves with the stats. */
  signal: AbortSignal;
  /** Read what is already there first (default: start at the end, like tail -n 0). */
  fromStart?: boolean;
  pollMs?: number;
  /** Called once the file is open and positioned (tests wait on it before writing). */
  onReady?: () => void;
}

interface Followed { fh: FileHandle; ino: number; offset: number; decoder: StringDecoder }

export async function tailAuditLog(o: TailOptions): Promise<AuditReadStats> {
  const stats = emptyStats();
  const proc = new AuditLineProcessor(o, stats);
  const pollMs = o.pollMs ?? 250;
  const out: AuditEvent[] = [];
  const flush = () => { for (const e of out) o.onEvent(e); out.length = 0; };
  const buf = Buffer.alloc(1024 * 1024);
  let cur: Followed | undefined;
  let first = true;
  let readySignalled = false;
  let bytesSeen = 0;
  let lastDataAt = Date.now();

  const drain = async (f: Followed, upTo: number) => {
    while (f.offset < upTo && !o.signal.aborted) {
      const { bytesRead } = await f.fh.read(buf, 0, Math.min(buf.length, upTo - f.offset), f.offset);
      if (bytesRead === 0) break;
      f.offset += bytesRead;
      stats.bytes += bytesRead;
      proc.push(f.decoder.write(buf.subarray(0, bytesRead)), out);
      flush();
    }
  };
  const closeCurrent = async () => {
    if (!cur) return;
    proc.push(cur.decoder.end(), out);
    proc.endOfInput(out);
    flush();
    await cur.fh.close().catch(() => {});
    cur = undefined;
  };

  try {
    while (!o.signal.aborted) {
      let st: Awaited<ReturnType<typeof stat>> | undefined;
      try { st = await stat(o.file); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') throw new UsageError(`failed to follow audit log ${o.file}: ${code ?? e}`);
      }
      if (cur && (!st || st.ino !== cur.ino)) {
        // Rotated away or deleted: whatever was appended to the old file before the switch still counts.
        const s = await cur.fh.stat();
        await drain(cur, s.size);
        await closeCurrent();
      }
      if (st && !cur) {
        try {
          const fh = await open(o.file, 'r');
          const s = await fh.stat();
          cur = { fh, ino: s.ino, offset: first && !o.fromStart ? s.size : 0, decoder: new StringDecoder('utf8') };
          stats.files++;
          first = false;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT') throw new UsageError(`failed to follow audit log ${o.file}: ${code ?? e}`);
        }
      }
      if (cur) {
        const s = await cur.fh.stat();
        if (s.size < cur.offset) {
          // Truncated in place: the partial line we held belongs to the old content.
          proc.endOfInput(out);
          flush();
          cur.offset = 0;
          cur.decoder = new StringDecoder('utf8');
        }
        await drain(cur, s.size);
      }
      if (!readySignalled && (cur || first)) {
        readySignalled = true;
        o.onReady?.();
      }
      if (stats.bytes !== bytesSeen) { bytesSeen = stats.bytes; lastDataAt = Date.now(); }
      proc.expireIdle(Date.now() - lastDataAt, out);
      flush();
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, pollMs);
        function done() { clearTimeout(t); o.signal.removeEventListener('abort', done); resolve(); }
        o.signal.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    await cur?.fh.close().catch(() => {});
  }
  return stats;
}
