// The rotation journal: one JSON document per SSH mount, rewritten atomically after every step, so
// a rotation interrupted anywhere (Ctrl-C, a dead device, a crash) resumes at the stage it stopped.
// Per-device progress of the two fleet stages lives in rollout journals next to it.
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
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

export interface RotationState {
  version: 1;
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
}

export function defaultRotationJournal(mount: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(fleetvaultStateDir(env), `rotate-${mount}.json`);
}

/** Per-device journals of the fleet stages sit next to the rotation journal. */
export function rolloutJournalFor(journal: string, stage: 'distribute' | 'retire'): string {
  return `${journal.replace(/\.json$/, '')}.${stage}.jsonl`;
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
export function findRotationByNewMount(mount: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = fleetvaultStateDir(env);
  if (!existsSync(dir)) return undefined;
  for (const f of readdirSync(dir)) {
    if (!/^rotate-.*\.json$/.test(f)) continue;
    try {
      const s = readRotation(join(dir, f));
      if (s && !s.completedAt && s.next.mount === mount && s.mount !== mount) return join(dir, f);
    } catch { /* not ours to judge here */ }
  }
  return undefined;
}

/** The first stage not done, or undefined when the rotation is complete. */
export function nextStage(s: RotationState): RotationStage | undefined {
  return ROTATION_STAGES.find((st) => s.stages[st].status !== 'done');
}
