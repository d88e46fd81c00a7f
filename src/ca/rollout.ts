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
import { editSshKeys, keyFingerprint, MAX_CONFIG_BYTES, type EditResult, type SshKeysEdit } from './config-json.js';
import type { DeviceTarget } from './devices-file.js';
import { Journal, type DeviceStatus } from './journal.js';
import { describeSshFailure, sshExec, type SshAccess } from '../device/remote-config.js';
import {
  ControlSockets, connectDevice, editDeviceConfig, holdsExpectedKeys, restoreSshKeys, type ExpectedKeys,
} from '../device/config-transfer.js';
import { readScript } from '../device/config-scripts.js';
import { adoptAddressPins, prepareKnownHosts } from '../device/known-hosts.js';
import { guardInterrupts } from '../device/interrupt.js';
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
  /** Also verify devices that already had the line (default true): an interrupted run wrote it unverified. */
  verifyAlready?: boolean;
  verifyTimeoutMs?: number;
  onProgress?: (p: RolloutProgress) => void;
  /** Test hook: called with the ssh pid of each remote write. */
  onWriteSpawn?: (device: string, pid: number) => void;
  /** Test hook: the verification key's temp dir once it exists. */
  onTempDir?: (dir: string) => void;
  /** Called just before config.json is written on a device. */
  onWriting?: (t: DeviceTarget) => void;
  /**
   * Journal a 'writing' line before each write, so a run killed mid-write leaves a record that
   * the device may have changed (rotate's distribute: abort must clean exactly those devices).
   */
  journalWrites?: boolean;
}

export interface DeviceOutcome {
  name: string;
  host: string;
  port: number;
  status: DeviceStatus;
  reason?: string;
  fromJournal?: boolean;
  /** false when it failed before anything was written: the device is untouched. */
  wrote?: boolean;
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

interface Verifier { key: string; cert: string }
type Result = Omit<DeviceOutcome, 'name' | 'host' | 'port'>;

async function makeVerifier(o: RolloutOptions, dir: string): Promise<Verifier> {
  const pair = generateEd25519KeyPair('fleetvault-rollout-verify');
  // One short certificate verifies every device of this run.
  const signed = await signUserKey({ client: o.client, mount: o.mount, role: o.role, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 900, reason: 'fleetvault ca rollout verification' });
  const key = join(dir, 'id_ed25519');
  writeFileSync(key, pair.privateKey, { mode: 0o600 });
  writeFileSync(`${key}-cert.pub`, signed.certificate, { mode: 0o600 });
  return { key, cert: `${key}-cert.pub` };
}

function expectedKeys(edit: SshKeysEdit): ExpectedKeys {
  return { present: edit.add, absentFingerprints: edit.removeFingerprints };
}

/**
 * A fresh login (never the master connection) with the fleetvault certificate that reads
 * config.json back: proves the device accepts the CA and that the line survived the supervisor's
 * restart. Retried while the device is still applying os.sshKeys; undefined when verified.
 */
async function verifyLogin(t: DeviceTarget, o: RolloutOptions, v: Verifier): Promise<string | undefined> {
  const deadline = Date.now() + (o.verifyTimeoutMs ?? 20_000);
  for (;;) {
    const r = await sshExec(t, { ...o.access, identity: v.key, certificate: v.cert, strictHostKeyChecking: 'yes' }, readScript(t.configPath), undefined, { timeoutMs: 15_000, maxStdoutBytes: MAX_CONFIG_BYTES + 1 });
    if (r.code === 0) return holdsExpectedKeys(r.stdout, expectedKeys(o.edit), `${t.name}:${t.configPath}`, keyFingerprint);
    if (Date.now() > deadline) return `verification login with a fleetvault certificate failed (${describeSshFailure(r, { maxBytes: MAX_CONFIG_BYTES })})`;
    await new Promise((res) => setTimeout(res, 1000));
  }
}

/** Put the original os.sshKeys back after a failed verification, on a connection of its own. */
async function restoreOriginal(t: DeviceTarget, o: RolloutOptions, original: Buffer, written: Buffer, sockets: ControlSockets): Promise<string | undefined> {
  const conn = connectDevice(t, o.access, sockets);
  try {
    const r = await editDeviceConfig(conn, t, {
      edit: (cur) => {
        // Untouched since our write: the original bytes; else only os.sshKeys goes back.
        const back = cur.equals(written) ? original : restoreSshKeys(cur, original, `${t.name}:${t.configPath}`);
        return { changed: !back.equals(cur), text: back.toString('utf8') };
      },
      backup: false, leaseSeconds: o.access.leaseSeconds,
    });
    return r.ok ? undefined : r.reason;
  } finally {
    await conn.close();
  }
}

async function rollOne(t: DeviceTarget, o: RolloutOptions, v: Verifier | undefined, sockets: ControlSockets, stopped: () => boolean): Promise<Result> {
  const conn = connectDevice(t, o.access, sockets);
  let edit: EditResult | undefined;
  let r;
  // Until the write starts a failure leaves the device as it was (wrote: false in the journal).
  let writing = false;
  try {
    r = await editDeviceConfig(conn, t, {
      edit: (bytes) => (edit = editSshKeys(bytes, o.edit, `${t.name}:${t.configPath}`)),
      dryRun: o.dryRun, backup: true, leaseSeconds: o.access.leaseSeconds,
      onWriteSpawn: (pid) => o.onWriteSpawn?.(t.name, pid),
      beforeWrite: () => {
        if (stopped()) return 'interrupted before the write';
        writing = true;
        o.onWriting?.(t);
        return undefined;
      },
    });
  } finally {
    await conn.close();
  }
  if (!r.ok) return { status: 'failed', reason: r.reason, ...(writing ? {} : { wrote: false }) };
  if (!r.written) {
    if (!v || o.verifyAlready === false || stopped()) return { status: 'already' };
    const why = await verifyLogin(t, o, v);
    return why ? { status: 'failed', reason: `config.json already has the change, but ${why}` } : { status: 'already' };
  }
  if (o.dryRun) return { status: 'changed', reason: 'dry run: would change', added: edit?.added, removed: edit?.removed };
  if (v && !stopped()) {
    const why = await verifyLogin(t, o, v);
    if (why) {
      // Put the original keys back; the operator's access is what we came in with.
      const back = await restoreOriginal(t, o, r.original, r.written, sockets);
      return {
        status: 'failed',
        reason: back === undefined ? `${why}; original os.sshKeys restored`
          : `${why}; restoring the original failed too (${back}); backup at ${t.configPath}.fleetvault.bak`,
      };
    }
  }
  return { status: 'changed', added: edit?.added, removed: edit?.removed };
}

export async function rolloutCa(o: RolloutOptions): Promise<RolloutReport> {
  const concurrency = Math.max(1, Math.min(o.concurrency ?? 16, 256));
  const canary = Math.max(0, o.canary ?? 0);
  const maxFailures = o.maxFailuresPercent ?? 100;
  if (maxFailures < 0 || maxFailures > 100) throw new UsageError('--max-failures must be a percentage from 0 to 100');
  const journal = o.journalPath && !o.dryRun ? new Journal(o.journalPath, o.caFingerprint) : undefined;
  if (journal && o.journalWrites) {
    const onWriting = o.onWriting;
    o = { ...o, onWriting: (t) => { journal.record({ device: t.name, host: t.host, status: 'writing' }); onWriting?.(t); } };
  }
  const total = o.devices.length;
  const outcomes = new Map<string, DeviceOutcome>();
  const counts: RolloutProgress = { done: 0, total, changed: 0, already: 0, failed: 0, skipped: 0 };
  let closed = false;
  const finish = (t: DeviceTarget, r: Omit<DeviceOutcome, 'name' | 'host' | 'port'>) => {
    const out: DeviceOutcome = { name: t.name, host: t.host, port: t.port, ...r };
    outcomes.set(t.name, out);
    counts[r.status]++;
    counts.done++;
    // closed: a device still in flight after an interrupt; the re-run decides about it.
    if (!closed && !r.fromJournal && r.status !== 'skipped') journal?.record({ device: t.name, host: t.host, status: r.status, reason: r.reason, ...(r.wrote === false ? { wrote: false } : {}) });
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
  prepareKnownHosts(o.access.knownHostsFile);
  adoptAddressPins(o.access.knownHostsFile, pending);
  const sockets = new ControlSockets();
  let keyDir: string | undefined;
  const cleanup = () => {
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
    keyDir = undefined;
    sockets.dispose();
  };
  // Ctrl-C while signing or mid-fleet: the key and its certificate go at once, not at exit.
  const guard = guardInterrupts(cleanup, 'ca rollout');
  let aborted: string | undefined;
  try {
    let verifier: Verifier | undefined;
    if (verify && pending.length) {
      keyDir = mkdtempSync(join(tmpdir(), 'fleetvault-rollout-'));
      o.onTempDir?.(keyDir);
      verifier = await Promise.race([makeVerifier(o, keyDir), guard.interrupted]);
    }
    const stopped = () => guard.signal() !== undefined;
    const runWave = async (wave: DeviceTarget[], width: number) => {
      let next = 0;
      const worker = async () => {
        while (next < wave.length && !aborted && !stopped()) {
          const t = wave[next++]!;
          const t0 = Date.now();
          let r: Omit<DeviceOutcome, 'name' | 'host' | 'port'>;
          try {
            r = await rollOne(t, o, verifier, sockets, stopped);
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
    const run = async () => {
      if (canaryWave.length) {
        await runWave(canaryWave, Math.min(concurrency, canaryWave.length));
        if (canaryWave.some((t) => outcomes.get(t.name)?.status === 'failed')) aborted ??= 'a canary device failed';
      }
      if (!aborted) await runWave(pending.slice(canaryWave.length), concurrency);
    };
    await Promise.race([run(), guard.interrupted]);
  } finally {
    guard.dispose();
    cleanup();
    closed = true;
    journal?.close();
  }
  for (const t of o.devices) if (!outcomes.has(t.name)) finish(t, { status: 'skipped', reason: `not attempted: ${aborted}` });
  return {
    ...counts, caFingerprint: o.caFingerprint, dryRun: !!o.dryRun, aborted, journal: journal?.path,
    devices: o.devices.map((t) => outcomes.get(t.name)!),
  };
}
