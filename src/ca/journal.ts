// Rollout journal: one JSON line per finished device, fsync'd as it is written, so a re-run
// (after a crash, Ctrl-C or unreachable devices) skips what is done and retries the rest.
// "Done" is per edit: a --scoped run does not skip a device an unscoped run finished.
// The journal also carries the run's hold key (one header line, written before the first hold):
// a device's hold names its owner, derived from that key, so a re-run of a run that died between
// a hold and its write can tell its own leftover hold from anyone else's (see config-scripts.ts).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, readFileSync, writeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openAppendLog, writeTarget } from '../fs/atomic.js';
import { takePidLock } from '../fs/pid-lock.js';
import { UsageError } from '../errors.js';

export type DeviceStatus = 'changed' | 'already' | 'failed' | 'skipped';

export interface JournalEntry {
  device: string;
  host: string;
  /** 'writing': recorded just before config.json is written, so a run killed mid-write still shows the device may have changed. */
  status: DeviceStatus | 'writing';
  reason?: string;
  /** false on a failure before any write (read refused, malformed config.json): the device is as it was. */
  wrote?: boolean;
  /** --scoped: the device's unscoped line of this CA was removed (the scoped line proven first). */
  migrated?: boolean;
  /**
   * Which edit the entry is about (editKey): a device is done only for the same edit — a run with
   * --scoped (or other principals, or --remove-ca) is another edit. Entries from before this field
   * have none and count only for the plain default edit (principals="root", nothing removed): the
   * old version journalled every run the same way, so nothing else can be read from them.
   */
  edit?: string;
  /** --scoped run (for people reading the journal; matching uses `edit`). */
  scoped?: boolean;
  /** The device's uuid when the run knew it: an entry never stands for another device of that name. */
  uuid?: string;
  caFingerprint: string;
  at: string;
}

const doneKey = (device: string, host: string) => JSON.stringify([device, host]);

function firstHoldKey(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (!line.includes('"holdKey"')) continue;
    try {
      const k = (JSON.parse(line) as { holdKey?: unknown }).holdKey;
      if (typeof k === 'string' && /^[0-9a-f]{64}$/.test(k)) return k;
    } catch { /* a torn line */ }
  }
  return undefined;
}

export class Journal {
  private fd: number | undefined;
  readonly done = new Map<string, JournalEntry & { status: DeviceStatus }>();
  malformedLines = 0;
  private holdKey: string | undefined;
  private release: (() => void) | undefined;

  constructor(readonly path: string, readonly caFingerprint: string) {
    writeTarget(path); // a planted link is refused now, before any device is touched
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const e = JSON.parse(line) as JournalEntry & { holdKey?: unknown };
          if (typeof e.holdKey === 'string' && /^[0-9a-f]{64}$/.test(e.holdKey)) {
            this.holdKey ??= e.holdKey;
            continue;
          }
          // Only finished work for the same CA counts; failures are retried.
          const k = doneKey(e.device, e.host);
          if (e.caFingerprint === caFingerprint && (e.status === 'changed' || e.status === 'already')) this.done.set(k, e as JournalEntry & { status: DeviceStatus });
          else if (e.caFingerprint === caFingerprint) this.done.delete(k);
        } catch {
          this.malformedLines++; // a torn last line from a crash mid-append
        }
      }
    }
  }

  record(e: Omit<JournalEntry, 'at' | 'caFingerprint'>): void {
    this.append({ ...e, caFingerprint: this.caFingerprint, at: new Date().toISOString() });
  }

  /**
   * Who holds a device's config.json for this run: the same for every run on this journal (a
   * re-run takes its own leftover hold over), unguessable from outside it. The key is on disk,
   * fsync'd, before the first hold it names.
   */
  holdOwner(t: { name: string; host: string }): string {
    if (!this.holdKey) {
      const mine = randomBytes(32).toString('hex');
      this.append({ holdKey: mine, at: new Date().toISOString() });
      // Another run on this journal may have written its key since we read the file: the first key
      // in the file is the journal's (what a re-run reads), for both of us.
      this.holdKey = firstHoldKey(readFileSync(this.path, 'utf8')) ?? mine;
    }
    return createHash('sha256').update(`${this.holdKey}\0${t.name}\0${t.host}`).digest('hex').slice(0, 32);
  }

  private append(line: object): void {
    if (this.fd === undefined) {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      this.fd = openAppendLog(this.path);
      // After a crash mid-append the file may end in a torn line: start ours on a fresh line.
      if (existsSync(this.path)) {
        const text = readFileSync(this.path);
        if (text.length > 0 && text[text.length - 1] !== 0x0a) writeSync(this.fd, '\n');
      }
    }
    writeSync(this.fd, JSON.stringify(line) + '\n');
    fsyncSync(this.fd);
  }

  /**
   * The device's finished entry for this very edit, if any. The same device: name and host (a
   * devices file reused for another site has the same names), and uuid when both sides know it.
   */
  doneFor(t: { name: string; host: string; uuid?: string }, edit: string): (JournalEntry & { status: DeviceStatus }) | undefined {
    const e = this.done.get(doneKey(t.name, t.host));
    if (!e) return undefined;
    if (e.uuid !== undefined && t.uuid !== undefined && e.uuid.toLowerCase() !== t.uuid.toLowerCase()) return undefined;
    return e.edit === edit || (e.edit === undefined && edit === LEGACY_EDIT) ? e : undefined;
  }

  /**
   * One run per journal at a time (`<journal>.lock`): two runs on one journal share its hold key,
   * so each would take the other's live holds over. A run killed outright leaves a stale lock,
   * which the next run replaces. Released by close().
   */
  lock(): void {
    if (this.release) return;
    const file = `${this.path}.lock`;
    writeTarget(file);
    this.release = takePidLock(file, (h) => new UsageError(`journal ${this.path} is in use by another fleetvault run (pid ${h.pid}); nothing was done`, {
      hint: `wait for that run to finish, or pass --journal FILE for a separate run; if no fleetvault runs, remove ${file}`,
    }));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.release?.();
    this.release = undefined;
  }
}

/**
 * A short key for what a run writes on a device: scoped or not, the principals of the line, the
 * CA fingerprints it removes. Two runs with the same key make the same change.
 */
export function editKey(o: { scoped: boolean; principals?: string; removeFingerprints?: string[] }): string {
  const what = JSON.stringify([o.scoped ? 'scoped' : 'unscoped', o.principals ?? '', [...(o.removeFingerprints ?? [])].sort()]);
  return createHash('sha256').update(what).digest('hex').slice(0, 12);
}

/** The only edit the versions without `edit` in the journal could be counted for. */
const LEGACY_EDIT = editKey({ scoped: false, principals: 'root' });
