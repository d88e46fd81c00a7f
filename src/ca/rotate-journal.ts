// The rotation journal: one JSON document per Vault server and SSH mount, rewritten atomically after
// every step, so a rotation interrupted anywhere (Ctrl-C, a dead device, a crash) resumes at the
// stage it stopped. Per-device progress of the fleet stages lives in rollout journals next to it.
// Keyed by the server too: two servers (staging, prod, a restarted dev server) have mounts of the
// same name, and a journal read against the wrong one pushed that server's CA to every device.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { readJson } from '../fs/json.js';
import { fleetvaultStateDir } from './targets.js';

export const ROTATION_STAGES = ['prepare', 'distribute', 'switch', 'retire'] as const;
export type RotationStage = (typeof ROTATION_STAGES)[number];
/** issuer: a second issuer on the same mount (OpenBao); mount: a second SSH mount (Vault). */
export type RotationStrategy = 'issuer' | 'mount';

export interface RotationCa {
  fingerprint: string;
  publicKey: string;
  /** The mount that signs with this CA. */
  mount: string;
  /** OpenBao issuer id (issuer strategy). */
  issuerId?: string;
  issuerName?: string;
}

export interface StageRecord {
  status: 'pending' | 'done' | 'failed';
  at?: string;
  /** One line: what happened, or why it stopped. */
  detail?: string;
}

/** Which Vault server a rotation belongs to: sys/health's cluster_id (no token needed; shared by HA nodes). */
export interface RotationServer {
  clusterId: string;
  /** Where it was reached when the rotation started: for messages only, an address can change. */
  address: string;
}

export interface RotationState {
  version: 1;
  /** Absent in journals written before servers were recorded: those are checked by CA fingerprint. */
  server?: RotationServer;
  /** The mount the rotation started from (engineers' FLEETVAULT_SSH_MOUNT before the switch). */
  mount: string;
  role: string;
  strategy: RotationStrategy;
  startedAt: string;
  completedAt?: string;
  old: RotationCa;
  /** Planned before anything is created, so a crash mid-prepare re-finds what it made. */
  next: RotationCa & { fingerprint: string };
  /** Devices confirmed (by reading config.json) to trust the new CA after distribute. */
  covered?: string[];
  stages: Record<RotationStage, StageRecord>;
  /**
   * `--scoped`: the new CA line names each device's scoped principals, and every later stage (and
   * run) verifies with fleet certificates — kept here so a resumed run without the flag keeps it.
   */
  scoped?: boolean;
  /** When `--delete-old-issuer` deleted the old issuer (issuer strategy). */
  oldIssuerDeletedAt?: string;
}

const fileSafe = (mount: string) => mount.replace(/[^A-Za-z0-9_.-]/g, '_');

/** `rotate-<mount>@<cluster id>.json` in the state dir: one journal per server and mount. */
export function defaultRotationJournal(mount: string, clusterId: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(fleetvaultStateDir(env), `rotate-${fileSafe(mount)}@${fileSafe(clusterId)}.json`);
}

/** Where journals were kept before they named the server; still read, and checked by CA fingerprint. */
export function legacyRotationJournal(mount: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(fleetvaultStateDir(env), `rotate-${mount}.json`);
}

/** Per-device journals of the fleet stages (and of an abort) sit next to the rotation journal. */
export function rolloutJournalFor(journal: string, stage: 'distribute' | 'retire' | 'abort'): string {
  return `${journal.replace(/\.json$/, '')}.${stage}.jsonl`;
}

const archiveStamp = (at: Date) => at.toISOString().replace(/[-:]/g, '').replace(/\..*/, '');

/**
 * An aborted rotation's journal is kept for the record as `<journal>.aborted-<time>.json`; its
 * per-device journals go (they describe a CA that no longer exists), so the next rotation starts clean.
 */
export function archiveAbortedRotation(path: string, at: Date): string {
  const to = `${path.replace(/\.json$/, '')}.aborted-${archiveStamp(at)}.json`;
  renameSync(path, to);
  for (const stage of ['distribute', 'retire', 'abort'] as const) rmSync(rolloutJournalFor(path, stage), { force: true });
  return to;
}

/**
 * A completed rotation's journal moves to `<journal>.completed-<time>.json` when a new rotation
 * starts, and its per-device journals move with it (`<archive>.distribute.jsonl` …): per-device
 * state then belongs to one rotation only, and abort or status of the new one never reads the
 * old one's devices.
 */
export function archiveCompletedRotation(path: string, at: Date): string {
  const to = `${path.replace(/\.json$/, '')}.completed-${archiveStamp(at)}.json`;
  for (const stage of ['distribute', 'retire', 'abort'] as const) {
    const from = rolloutJournalFor(path, stage);
    if (existsSync(from)) renameSync(from, rolloutJournalFor(to, stage));
  }
  renameSync(path, to); // last: a crash before it leaves the journal where the next run finds it
  return to;
}

export function readRotation(path: string): RotationState | undefined {
  if (!existsSync(path)) return undefined;
  const read = readJson(readFileSync(path));
  if (!read.ok) {
    throw new UsageError(`rotation journal ${path} ${read.why}; left unchanged`, {
      hint: 'fix or move it away; the CA state in Vault is unchanged by reading it',
    });
  }
  const s = read.value as RotationState;
  if (s?.version !== 1 || !s.old?.fingerprint || !s.next?.mount || !s.stages) {
    throw new UsageError(`rotation journal ${path} is not a fleetvault rotation journal (version 1); left unchanged`);
  }
  return s;
}

export function writeRotation(path: string, s: RotationState): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Public keys and names only, no secret; still 0600 like the other journals.
  writeFileAtomic(path, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
}

/**
 * After a mount-strategy switch engineers (and the operator) export the new mount, so the default
 * journal name changes under them: find the unfinished rotation whose new mount is this one.
 */
export function findRotationByNewMount(mount: string, clusterId: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = fleetvaultStateDir(env);
  if (!existsSync(dir)) return undefined;
  for (const f of readdirSync(dir)) {
    if (!/^rotate-.*\.json$/.test(f) || /\.(aborted|completed)-/.test(f)) continue;
    try {
      const s = readRotation(join(dir, f));
      if (s && !s.completedAt && s.next.mount === mount && s.mount !== mount && s.server?.clusterId === clusterId) return join(dir, f);
    } catch { /* not ours to judge here */ }
  }
  return undefined;
}

/** The first stage not done, or undefined when the rotation is complete. */
export function nextStage(s: RotationState): RotationStage | undefined {
  return ROTATION_STAGES.find((st) => s.stages[st].status !== 'done');
}

/**
 * Issuer ids and names every rotation journal next to `journalPath` (and in the state dir)
 * records, current or archived: issuers in Vault that none of them names were made elsewhere.
 */
export function knownRotationIssuers(journalPath: string, env: NodeJS.ProcessEnv = process.env): Set<string> {
  const known = new Set<string>();
  const dirs = new Set([dirname(journalPath), fleetvaultStateDir(env)]);
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      if (!/^rotate.*\.json$/.test(f) && join(dir, f) !== journalPath) continue;
      try {
        const s = readRotation(join(dir, f));
        for (const id of [s?.old.issuerId, s?.old.issuerName, s?.next.issuerId, s?.next.issuerName]) if (id) known.add(id);
      } catch { /* not a rotation journal */ }
    }
  }
  return known;
}
