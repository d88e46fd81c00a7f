// A factory run: unseal a directory of envelopes (one per device) into config.json files, the
// way a flasher station works through a batch — resumable after a crash of the station or of
// Vault, with nothing lost and nothing decrypted twice except what was in flight.
//
// Order is everything: decrypt → write the file atomically (0600, fsync, rename) → append the
// journal line and fsync it. An envelope is "done" only once its line is on disk, and its line is
// only written after its file is. A crash anywhere leaves at most `concurrency` envelopes whose
// decrypt happened but whose line did not: the re-run decrypts exactly those again (and, with
// AppRole, spends one more batch use each — size batches with that headroom).
import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, lstatSync, fsyncSync, mkdirSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError, failedTo } from '../errors.js';
import { openAppendLog, readInputFile, writeFileAtomic, writeTarget } from '../fs/atomic.js';
import type { FleetvaultConfig } from '../config.js';
import type { VaultClient } from '../vault/client.js';
import { parseEnvelope, type SealedEnvelope } from './envelope.js';
import { unsealEnvelope } from './seal.js';

export interface UnsealBatchOptions {
  /** Directory of envelopes (`*.json`; `<name>.sealed.json` → `<name>.config.json`). */
  envelopesDir: string;
  outDir: string;
  /** Default: `<outDir>/.fleetvault-unseal-journal.jsonl`. */
  journalPath?: string;
  /** Envelopes in flight at once. Default 4. */
  concurrency?: number;
  /**
   * A client for one envelope. The flasher's AppRole token is good for one request, so this is
   * called once per envelope (flasherSession below: a fresh login each time).
   */
  session: () => Promise<VaultClient>;
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface UnsealBatchReport {
  total: number;
  /** Unsealed by this run. */
  unsealed: number;
  /** Already done in an earlier run (journal). */
  skipped: number;
  outDir: string;
  journal: string;
}

interface JournalLine { envelope: string; ciphertextSha256: string; out: string; at: string }

const JOURNAL_NAME = '.fleetvault-unseal-journal.jsonl';

function outputName(file: string): string {
  const b = basename(file);
  return `${b.endsWith('.sealed.json') ? b.slice(0, -'.sealed.json'.length) : b.slice(0, -'.json'.length)}.config.json`;
}

function cipherKey(e: SealedEnvelope): string {
  return createHash('sha256').update(e.ciphertext).digest('hex');
}

/** Done envelopes: file name → ciphertext hash. A torn last line (crash mid-append) is ignored. */
function readJournal(path: string): Map<string, string> {
  const done = new Map<string, string>();
  if (!existsSync(path)) return done;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as JournalLine;
      if (typeof j.envelope === 'string' && typeof j.ciphertextSha256 === 'string') done.set(j.envelope, j.ciphertextSha256);
    } catch { /* torn line */ }
  }
  return done;
}

/**
 * Trap (OpenBao ≥ 2 on integrated storage): concurrent AppRole logins with one secret_id all
 * decrement its use count in the same storage entry, and the losers of that race get "transaction
 * commit failed". The transaction was rolled back — no use spent, no token issued — so the login
 * is safe to repeat, unlike a login cut off mid-flight.
 */
async function openSession(session: () => Promise<VaultClient>): Promise<VaultClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await session();
    } catch (e) {
      if (attempt >= 20 || !(e instanceof Error) || !/transaction commit failed/i.test(e.message)) throw e;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
  }
}

export async function unsealBatch(o: UnsealBatchOptions): Promise<UnsealBatchReport> {
  const concurrency = o.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UsageError(`invalid --concurrency "${o.concurrency}"`, { hint: 'a whole number from 1 to 64' });
  let names: string[];
  try {
    names = readdirSync(o.envelopesDir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort();
  } catch (e) {
    throw new UsageError(`failed to read envelope directory ${o.envelopesDir}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  if (names.length === 0) throw new UsageError(`no envelopes (*.json) in ${o.envelopesDir}`);
  // Parse everything before the first login: a malformed file must not cost a batch use.
  const items = names.map((f) => {
    const path = join(o.envelopesDir, f);
    return { file: f, path, out: join(o.outDir, outputName(f)), envelope: parseEnvelope(readInputFile(path, 'sealed config', 1024 * 1024).toString('utf8'), path) };
  });
  const outs = new Set<string>();
  for (const it of items) {
    if (outs.has(it.out)) throw new UsageError(`envelopes ${it.file} and another both unseal to ${it.out}`, { hint: 'rename one of them' });
    outs.add(it.out);
  }
  mkdirSync(o.outDir, { recursive: true, mode: 0o700 });
  const journalPath = o.journalPath ?? join(o.outDir, JOURNAL_NAME);
  // Planted links (journal or outputs) are refused before anything is decrypted.
  writeTarget(journalPath);
  for (const it of items) writeTarget(it.out);
  // So is anything else that would only fail after a decrypt (and a spent batch use): a directory
  // where a file goes (EISDIR), an --out-dir this user cannot write.
  for (const [path, what] of [[journalPath, 'the journal'] as const, ...items.map((it) => [it.out, `the output of ${it.file}`] as const)]) {
    if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      throw new UsageError(`cannot write ${what}: ${path} is a directory`, { hint: 'move it away, then run it again; nothing was decrypted and no batch use was spent' });
    }
  }
  try {
    accessSync(o.outDir, constants.W_OK);
  } catch {
    throw new UsageError(`cannot write into --out-dir ${o.outDir}: not writable`, { hint: 'pick another --out-dir; nothing was decrypted and no batch use was spent' });
  }
  const done = readJournal(journalPath);
  const pending = items.filter((it) => done.get(it.file) !== cipherKey(it.envelope));
  const skipped = items.length - pending.length;

  let fd: number | undefined;
  const record = (line: JournalLine) => {
    if (fd === undefined) {
      fd = openAppendLog(journalPath);
      // Start on a fresh line after a torn one.
      const text = readFileSync(journalPath);
      if (text.length > 0 && text[text.length - 1] !== 0x0a) writeSync(fd, '\n');
    }
    writeSync(fd, JSON.stringify(line) + '\n');
    fsyncSync(fd);
  };

  let next = 0;
  let unsealed = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < pending.length && failure === undefined) {
      const it = pending[next++]!;
      try {
        const client = await openSession(o.session);
        const plaintext = await unsealEnvelope({ client, envelope: it.envelope, source: it.path });
        writeFileAtomic(it.out, plaintext, { mode: 0o600 });
        record({ envelope: it.file, ciphertextSha256: cipherKey(it.envelope), out: it.out, at: new Date().toISOString() });
        unsealed++;
        o.onProgress?.({ done: skipped + unsealed, total: items.length });
      } catch (e) {
        // Stop taking new envelopes; let the ones in flight finish and be journaled.
        failure ??= failedTo(`unseal batch ${o.envelopesDir} (${skipped + unsealed} of ${items.length} done, journal ${journalPath}; run the same command again to resume)`, e);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (failure !== undefined) throw failure;
  return { total: items.length, unsealed, skipped, outDir: o.outDir, journal: journalPath };
}

/**
 * Credentials for a factory run, chosen like every command's (src/vault/connect.ts): with
 * FLEETVAULT_ROLE_ID a fresh AppRole login per envelope, as one flasher unseal does; otherwise
 * the one token, shared.
 */
export function flasherSession(config: FleetvaultConfig): () => Promise<VaultClient> {
  if (config.roleId) return async () => (await import('../vault/connect.js')).connect(config);
  let shared: Promise<VaultClient> | undefined;
  return () => (shared ??= import('../vault/connect.js').then((m) => m.connect(config)));
}
