// Fleet rollout of the CA line: for each device, read config.json over ssh, apply the same edit
// as `add-to-config`, write it back safely, then prove it works by logging in with a fresh
// fleetvault certificate — and put the original back if that proof fails. Canary wave first,
// bounded concurrency, abort past a failure budget, resumable through a journal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VaultClient } from '../vault/client.js';
import { generateEd25519KeyPair } from '../ssh/keys.js';
import { signUserKey } from '../ssh/sign.js';
import { editSshKeys, type SshKeysEdit } from './config-json.js';
import type { DeviceTarget } from './devices-file.js';
import { Journal, type DeviceStatus } from './journal.js';
import { describeSshFailure, readCommand, sha256, sshExec, writeCommand, type SshAccess } from './remote-config.js';
import { UsageError } from '../errors.js';

export interface RolloutOptions {
  client: VaultClient;
  mount: string;
  role: string;
  devices: DeviceTarget[];
  /** The edit: the CA line to add, CA fingerprints to remove. */
  edit: SshKeysEdit;
  /** Fingerprint of the CA being rolled out (journal key, verification). */
  caFingerprint: string;
  access: SshAccess;
  concurrency?: number;
  canary?: number;
  maxFailuresPercent?: number;
  dryRun?: boolean;
  journalPath?: string;
  /** Verify by logging in with a fresh certificate (default true; needs the edit to add the CA). */
  verify?: boolean;
  verifyTimeoutMs?: number;
  onProgress?: (p: RolloutProgress) => void;
  /** Test hook: called with the ssh pid of each remote write. */
  onWriteSpawn?: (device: string, pid: number) => void;
}

export interface DeviceOutcome {
  name: string;
  host: string;
  port: number;
  status: DeviceStatus;
  reason?: string;
  fromJournal?: boolean;
  added?: string[];
  removed?: string[];
  durationMs?: number;
}

export interface RolloutProgress { done: number; total: number; changed: number; already: number; failed: number; skipped: number }

export interface RolloutReport extends RolloutProgress {
  caFingerprint: string;
  dryRun: boolean;
  aborted?: string;
  journal?: string;
  devices: DeviceOutcome[];
}

interface Verifier { key: string; cert: string; dir: string }

async function makeVerifier(o: RolloutOptions): Promise<Verifier> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetvault-rollout-'));
  const pair = generateEd25519KeyPair('fleetvault-rollout-verify');
  // One short certificate verifies every device of this run.
  const signed = await signUserKey({ client: o.client, mount: o.mount, role: o.role, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 900, reason: 'fleetvault ca rollout verification' });
  const key = join(dir, 'id_ed25519');
  writeFileSync(key, pair.privateKey, { mode: 0o600 });
  writeFileSync(`${key}-cert.pub`, signed.certificate, { mode: 0o600 });
  return { key, cert: `${key}-cert.pub`, dir };
}

async function verifyLogin(t: DeviceTarget, o: RolloutOptions, v: Verifier): Promise<boolean> {
  // balenaOS re-applies os.sshKeys shortly after config.json changes: retry for a while.
  const deadline = Date.now() + (o.verifyTimeoutMs ?? 20_000);
  for (;;) {
    const r = await sshExec(t, { ...o.access, identity: v.key, certificate: v.cert, strictHostKeyChecking: 'yes' }, 'true', undefined, { timeoutMs: 15_000 });
    if (r.code === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((res) => setTimeout(res, 1000));
  }
}

async function rollOne(t: DeviceTarget, o: RolloutOptions, v: Verifier | undefined): Promise<Omit<DeviceOutcome, 'name' | 'host' | 'port'>> {
  const read = await sshExec(t, o.access, readCommand(t.configPath));
  if (read.code !== 0) {
    const missing = /No such file/.test(read.stderr);
    return { status: 'failed', reason: missing ? `no config.json at ${t.configPath}` : describeSshFailure(read) };
  }
  let edit;
  try {
    edit = editSshKeys(read.stdout, o.edit, `${t.name}:${t.configPath}`);
  } catch (e) {
    // Malformed config.json on the device: report it, touch nothing.
    return { status: 'failed', reason: (e as Error).message };
  }
  if (!edit.changed) return { status: 'already' };
  if (o.dryRun) return { status: 'changed', reason: 'dry run: would change', added: edit.added, removed: edit.removed };
  const next = Buffer.from(edit.text);
  const w = await sshExec(t, o.access, writeCommand(t.configPath, { newSha: sha256(next), expectSha: sha256(read.stdout), backup: true }), next, {
    onSpawn: (pid) => o.onWriteSpawn?.(t.name, pid),
  });
  if (w.code !== 0) return { status: 'failed', reason: `write failed: ${describeSshFailure(w)}` };
  if (v && !(await verifyLogin(t, o, v))) {
    // Put the original bytes back; the operator's access is what we came in with.
    const back = await sshExec(t, o.access, writeCommand(t.configPath, { newSha: sha256(read.stdout), expectSha: sha256(next), backup: false }), read.stdout);
    return {
      status: 'failed',
      reason: back.code === 0 ? 'verification login with a fleetvault certificate failed; original config.json restored'
        : `verification failed and restoring the original failed too (${describeSshFailure(back)}); backup at ${t.configPath}.fleetvault.bak`,
    };
  }
  return { status: 'changed', added: edit.added, removed: edit.removed };
}

export async function rolloutCa(o: RolloutOptions): Promise<RolloutReport> {
  const concurrency = Math.max(1, Math.min(o.concurrency ?? 16, 256));
  const canary = Math.max(0, o.canary ?? 0);
  const maxFailures = o.maxFailuresPercent ?? 100;
  if (maxFailures < 0 || maxFailures > 100) throw new UsageError('--max-failures must be a percentage from 0 to 100');
  const journal = o.journalPath && !o.dryRun ? new Journal(o.journalPath, o.caFingerprint) : undefined;
  const total = o.devices.length;
  const outcomes = new Map<string, DeviceOutcome>();
  const counts: RolloutProgress = { done: 0, total, changed: 0, already: 0, failed: 0, skipped: 0 };
  const finish = (t: DeviceTarget, r: Omit<DeviceOutcome, 'name' | 'host' | 'port'>) => {
    const out: DeviceOutcome = { name: t.name, host: t.host, port: t.port, ...r };
    outcomes.set(t.name, out);
    counts[r.status]++;
    counts.done++;
    if (!r.fromJournal && r.status !== 'skipped') journal?.record({ device: t.name, host: t.host, status: r.status, reason: r.reason });
    o.onProgress?.({ ...counts });
  };

  const pending: DeviceTarget[] = [];
  for (const t of o.devices) {
    const j = journal?.done.get(t.name);
    if (j) finish(t, { status: j.status, reason: 'finished in an earlier run (journal)', fromJournal: true });
    else pending.push(t);
  }

  const addsCa = !!o.edit.add;
  const verify = (o.verify ?? true) && addsCa && !o.dryRun;
  const verifier = verify && pending.length ? await makeVerifier(o) : undefined;
  let aborted: string | undefined;
  try {
    const runWave = async (wave: DeviceTarget[], width: number) => {
      let next = 0;
      const worker = async () => {
        while (next < wave.length && !aborted) {
          const t = wave[next++]!;
          const t0 = Date.now();
          let r: Omit<DeviceOutcome, 'name' | 'host' | 'port'>;
          try {
            r = await rollOne(t, o, verifier);
          } catch (e) {
            r = { status: 'failed', reason: (e as Error).message };
          }
          finish(t, { ...r, durationMs: Date.now() - t0 });
          if (counts.failed * 100 > maxFailures * total && !aborted) aborted = `failures above --max-failures ${maxFailures}%`;
        }
      };
      await Promise.all(Array.from({ length: Math.min(width, wave.length) }, worker));
    };
    const canaryWave = pending.slice(0, canary);
    if (canaryWave.length) {
      await runWave(canaryWave, Math.min(concurrency, canaryWave.length));
      if (canaryWave.some((t) => outcomes.get(t.name)?.status === 'failed')) aborted ??= 'a canary device failed';
    }
    if (!aborted) await runWave(pending.slice(canaryWave.length), concurrency);
  } finally {
    if (verifier) rmSync(verifier.dir, { recursive: true, force: true });
    journal?.close();
  }
  for (const t of o.devices) if (!outcomes.has(t.name)) finish(t, { status: 'skipped', reason: `not attempted: ${aborted}` });
  return {
    ...counts, caFingerprint: o.caFingerprint, dryRun: !!o.dryRun, aborted, journal: journal?.path,
    devices: o.devices.map((t) => outcomes.get(t.name)!),
  };
}
