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
import { editSshKeys, isCertAuthorityLine, keyFingerprint, linePrincipals, MAX_CONFIG_BYTES, type EditResult, type SshKeysEdit } from './config-json.js';
import type { DeviceTarget } from './devices-file.js';
import { Journal, editKey, type DeviceStatus } from './journal.js';
import { describeSshFailure, sshExec, type SshAccess } from '../device/remote-config.js';
import {
  ControlSockets, connectDevice, editDeviceConfig, holdsExpectedKeys, restoreSshKeys, type ExpectedKeys,
} from '../device/config-transfer.js';
import { readScript } from '../device/config-scripts.js';
import { adoptAddressPins, prepareKnownHosts } from '../device/known-hosts.js';
import { guardInterrupts } from '../device/interrupt.js';
import { UsageError, VaultError } from '../errors.js';
import { requireScopedTargets, scopedPrincipalsFor, signFleetVerifiers } from './scoped.js';

export interface RolloutOptions {
  client: VaultClient;
  mount: string;
  role: string;
  devices: DeviceTarget[];
  /** The edit: the CA line to add, CA fingerprints to remove. */
  edit: SshKeysEdit;
  /**
   * --scoped: each device gets `line(its scoped principals)` instead of edit.add (every device must
   * know its fleet and uuid), is verified with a certificate for its fleet, and a line of the same
   * CA with other principals (principals="root") is migrated in two phases — see rollOne.
   */
  scoped?: { line: (principals: string[]) => string };
  /** --unscope: an unscoped line may replace a scoped line of this CA (refused otherwise). */
  unscope?: boolean;
  /** Also refuse an unscoped line where these CAs are trusted scoped (rotate: the old CA). */
  keepScopedOf?: string[];
  /** The next step named when an unscoped line is refused. */
  scopedHint?: string;
  /**
   * --scoped without verification (rotate's distribute, issuer strategy): the CA signs nothing yet,
   * so no one logs in with it and its other lines (an unscoped line from an earlier unscoped
   * distribute) are replaced in one step instead of the two verified phases.
   */
  replaceUnverified?: boolean;
  /** For messages: the command running this rollout. */
  command?: string;
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
  /** Who holds a device's config.json for this run (set from the journal: see Journal.holdOwner). */
  holdOwner?: (t: DeviceTarget) => string;
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
  /** --scoped: the unscoped line of this CA was removed after the scoped one was proven. */
  migrated?: boolean;
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

/**
 * The verification key and the certificate that should open a given device; with --scoped also a
 * root certificate of the same CA that must NOT open it (rootProbe, see proveRootRefused).
 */
interface Verifier { key: string; certFor: (t: DeviceTarget) => string; rootProbe?: { key: string; cert: string } }
type Result = Omit<DeviceOutcome, 'name' | 'host' | 'port'>;

async function makeVerifier(o: RolloutOptions, dir: string, pending: DeviceTarget[]): Promise<Verifier> {
  if (o.scoped) {
    // A scoped line trusts no root certificate: verify with the device's fleet principal.
    const v = await signFleetVerifiers({ client: o.client, mount: o.mount, fleets: pending.map((t) => t.fleet!), dir, command: o.command ?? 'ca rollout', reason: `fleetvault ${o.command ?? 'ca rollout'} verification` });
    return { key: v.key, certFor: (t) => v.certs.get(t.fleet!)!, rootProbe: await signRootProbe(o, dir) };
  }
  const pair = generateEd25519KeyPair('fleetvault-rollout-verify');
  // One short certificate verifies every device of this run.
  const signed = await signUserKey({ client: o.client, mount: o.mount, role: o.role, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 900, reason: 'fleetvault ca rollout verification' });
  const key = join(dir, 'id_ed25519');
  writeFileSync(key, pair.privateKey, { mode: 0o600 });
  writeFileSync(`${key}-cert.pub`, signed.certificate, { mode: 0o600 });
  return { key, certFor: () => `${key}-cert.pub` };
}

/**
 * The safety net under the line parser: a short root certificate through the unscoped role (the
 * one unscoped verification uses). Whatever line fleetvault failed to read, sshd either lets this
 * certificate in or not, and only "not" proves the device scoped. Undefined when the role signs
 * with another CA than the one rolled out (a rotation by issuer): it would prove nothing here.
 */
async function signRootProbe(o: RolloutOptions, dir: string): Promise<{ key: string; cert: string } | undefined> {
  const pair = generateEd25519KeyPair('fleetvault-rollout-root-probe');
  let signed;
  try {
    signed = await signUserKey({ client: o.client, mount: o.mount, role: o.role, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 300, reason: `fleetvault ${o.command ?? 'ca rollout'} --scoped: prove root certificates are refused` });
  } catch (e) {
    if (e instanceof VaultError && (e.status === 403 || e.status === 404)) {
      throw new VaultError(`${o.command ?? 'ca rollout'} --scoped: Vault refused the root certificate that proves each device refuses root certificates (role ${o.role} on ${o.mount}); no device was touched`, {
        path: e.path, status: e.status, errors: e.errors, hint: 'run it as someone who may sign through that role (the role unscoped rollout verifies with)',
      });
    }
    throw e;
  }
  if (signed.info.signingKeyFingerprint !== o.caFingerprint) return undefined;
  const key = join(dir, 'root-probe');
  writeFileSync(key, pair.privateKey, { mode: 0o600 });
  writeFileSync(`${key}-cert.pub`, signed.certificate, { mode: 0o600 });
  return { key, cert: `${key}-cert.pub` };
}

/**
 * After a scoped device is proven: a fresh login with the root probe must be refused (permission
 * denied). Retried while the device may still be applying os.sshKeys; undefined when refused.
 */
async function proveRootRefused(t: DeviceTarget, o: RolloutOptions, probe: { key: string; cert: string }): Promise<string | undefined> {
  const deadline = Date.now() + (o.verifyTimeoutMs ?? 20_000);
  for (;;) {
    const r = await sshExec(t, { ...o.access, identity: probe.key, certificate: probe.cert, strictHostKeyChecking: 'yes' }, 'true', undefined, { timeoutMs: 15_000, maxStdoutBytes: 1024 });
    if (r.code === 255 && /Permission denied/.test(r.stderr)) return undefined;
    if (r.code !== 0) return `could not prove that the device refuses root certificates (${describeSshFailure(r, { credential: 'the root certificate' })}); re-run to check again`;
    if (Date.now() > deadline) return 'the device still accepts root certificates: an unscoped line fleetvault cannot parse remains; inspect os.sshKeys in its config.json and re-run';
    await new Promise((res) => setTimeout(res, 1000));
  }
}

/** The edit for one device: the scoped line for its principals, kept next to an unscoped one (phase 1). */
function editFor(t: DeviceTarget, o: RolloutOptions): SshKeysEdit {
  if (!o.scoped) return { ...o.edit, unscope: o.unscope, keepScopedOf: o.keepScopedOf, scopedHint: o.scopedHint };
  // The line names this device: its config.json must be this device's (its own uuid field).
  return { ...o.edit, add: o.scoped.line(scopedPrincipalsFor(t)!), keepSameCa: true, expectUuid: t.uuid };
}

/** The journal's key for this device's edit: a device is done only for the same edit. */
function journalKey(t: DeviceTarget, o: RolloutOptions): string {
  const e = editFor(t, o);
  return editKey({ scoped: !!o.scoped, principals: e.add ? linePrincipals(e.add) : undefined, removeFingerprints: e.removeFingerprints });
}

function expectedKeys(edit: SshKeysEdit): ExpectedKeys {
  return { present: edit.add, absentFingerprints: edit.removeFingerprints };
}

/** Lines of the same CA as `line` other than `line` itself: what phase 2 of a migration removes. */
function otherLinesOfCa(sshKeys: string[], line: string): string[] {
  const fp = keyFingerprint(line);
  return sshKeys.filter((k) => k !== line && isCertAuthorityLine(k) && keyFingerprint(k) === fp);
}

/**
 * A fresh login (never the master connection) with the fleetvault certificate that reads
 * config.json back: proves the device accepts the CA and that the line survived the supervisor's
 * restart. Retried while the device is still applying os.sshKeys; undefined when verified.
 */
async function verifyLogin(t: DeviceTarget, o: RolloutOptions, v: Verifier, expect: ExpectedKeys): Promise<string | undefined> {
  const deadline = Date.now() + (o.verifyTimeoutMs ?? 20_000);
  for (;;) {
    const r = await sshExec(t, { ...o.access, identity: v.key, certificate: v.certFor(t), strictHostKeyChecking: 'yes' }, readScript(t.configPath), undefined, { timeoutMs: 15_000, maxStdoutBytes: MAX_CONFIG_BYTES + 1 });
    if (r.code === 0) return holdsExpectedKeys(r.stdout, expect, `${t.name}:${t.configPath}`, keyFingerprint);
    const cert = o.scoped ? `a fleetvault certificate for fleet ${t.fleet}` : 'a fleetvault certificate';
    if (Date.now() > deadline) return `verification login with ${cert} failed (${describeSshFailure(r, { maxBytes: MAX_CONFIG_BYTES, credential: 'that certificate' })})`;
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
      backup: false, leaseSeconds: o.access.leaseSeconds, holdOwner: o.holdOwner?.(t),
    });
    return r.ok ? undefined : r.reason;
  } finally {
    await conn.close();
  }
}

/**
 * One device. Without --scoped: one edit, verified, undone if the proof fails. With --scoped a
 * device that trusts this CA for other principals (principals="root") is migrated in two phases, so
 * the operator is never cut off midway: phase 1 adds the scoped line next to the old one and proves
 * it with a fresh fleet-certificate login; only then phase 2 removes the old line and proves again,
 * putting it back if that fails. A run killed between the phases leaves both lines (and no "done"
 * in the journal): the re-run finds phase 1 already done, verifies it, and runs phase 2.
 */
async function rollOne(t: DeviceTarget, o: RolloutOptions, v: Verifier | undefined, sockets: ControlSockets, stopped: () => boolean): Promise<Result> {
  const r = await rollDevice(t, o, v, sockets, stopped);
  // A scoped device that passed its proofs: finally prove a root certificate of this CA is refused.
  // A failure keeps the device as written (the scoped line works) and asks for a look.
  if (!o.scoped || !v?.rootProbe || o.dryRun || stopped() || r.status === 'failed' || (r.status === 'already' && !r.migrated && o.verifyAlready === false)) return r;
  const why = await proveRootRefused(t, o, v.rootProbe);
  return why ? { ...r, status: 'failed', reason: why } : r;
}

async function rollDevice(t: DeviceTarget, o: RolloutOptions, v: Verifier | undefined, sockets: ControlSockets, stopped: () => boolean): Promise<Result> {
  let want = editFor(t, o);
  if (o.scoped && !v && o.replaceUnverified && !o.dryRun) {
    // Nothing signs with this CA yet: its other lines go in the same write (see replaceUnverified).
    want = { ...want, keepSameCa: false, removeFingerprints: [...(want.removeFingerprints ?? []), keyFingerprint(want.add!)!] };
  }
  // A dry run reports where the device ends up (both phases); nothing proves a scoped line without
  // verification, so then the old line stays.
  const dryEnd = o.scoped && o.dryRun ? { ...want, keepSameCa: false, removeFingerprints: [...(want.removeFingerprints ?? []), keyFingerprint(want.add!)!] } : want;
  const first = await writeAndVerify(t, o, v, sockets, stopped, dryEnd);
  if (first.status !== 'ok') return first.result;
  const { edit } = first;
  const stale = o.scoped && v && edit ? otherLinesOfCa(edit.sshKeys, want.add!) : [];
  if (!first.written) {
    if (!v || stopped() || (o.verifyAlready === false && !stale.length)) return { status: 'already' };
    // Phase 2 never runs on an unproven scoped line: prove it (again) even with --no-verify-already.
    const why = await verifyLogin(t, o, v, expectedKeys(want));
    if (why) return { status: 'failed', reason: `config.json already has the change, but ${why}` };
  }
  if (o.dryRun) return { status: 'changed', reason: 'dry run: would change', added: edit?.added, removed: edit?.removed };
  const done: Result = first.written ? { status: 'changed', added: edit?.added, removed: edit?.removed } : { status: 'already' };
  if (!stale.length) return done;
  // Not "done": the journal would make the re-run skip a device that still trusts root certificates.
  if (stopped()) return { status: 'failed', reason: 'interrupted between adding the scoped line and removing the unscoped one: both lines kept; re-run to finish', ...(first.written ? {} : { wrote: false }) };
  // Phase 2: the scoped line is proven; drop the CA's other lines and prove the device again.
  const second = await writeAndVerify(t, o, v, sockets, stopped, { add: want.add, removeFingerprints: [keyFingerprint(want.add!)!], expectUuid: want.expectUuid });
  if (second.status !== 'ok') {
    // wrote: false only when neither phase of this run wrote (the device is as it was).
    const { wrote, ...r } = second.result;
    return { ...r, reason: `scoped line ${first.written ? 'added and verified' : 'already there'}, but removing the unscoped one failed: ${r.reason}`, ...(wrote === false && !first.written ? { wrote } : {}) };
  }
  return {
    status: first.written || second.written ? 'changed' : 'already',
    added: first.written ? edit?.added : [], removed: [...(first.written ? edit?.removed ?? [] : []), ...(second.edit?.removed ?? [])],
    migrated: !!second.written,
  };
}

type Step = { status: 'ok'; written: boolean; edit?: EditResult } | { status: 'stop'; result: Result };

/** Apply `want` to the device; when written, prove it with a fresh login and undo it if that fails. */
async function writeAndVerify(t: DeviceTarget, o: RolloutOptions, v: Verifier | undefined, sockets: ControlSockets, stopped: () => boolean, want: SshKeysEdit): Promise<Step> {
  const conn = connectDevice(t, o.access, sockets);
  let edit: EditResult | undefined;
  let r;
  // Until the write starts a failure leaves the device as it was (wrote: false in the journal).
  let writing = false;
  try {
    r = await editDeviceConfig(conn, t, {
      edit: (bytes) => (edit = editSshKeys(bytes, want, `${t.name}:${t.configPath}`)),
      dryRun: o.dryRun, backup: true, leaseSeconds: o.access.leaseSeconds, holdOwner: o.holdOwner?.(t),
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
  if (!r.ok) return { status: 'stop', result: { status: 'failed', reason: r.reason, ...(writing ? {} : { wrote: false }) } };
  if (!r.written || o.dryRun) return { status: 'ok', written: !!r.written, edit };
  if (v && !stopped()) {
    const why = await verifyLogin(t, o, v, expectedKeys(want));
    if (why) {
      // Put the original keys back; the operator's access is what we came in with.
      const back = await restoreOriginal(t, o, r.original, r.written, sockets);
      return {
        status: 'stop',
        result: {
          status: 'failed',
          reason: back === undefined ? `${why}; original os.sshKeys restored`
            : `${why}; restoring the original failed too (${back}); backup at ${t.configPath}.fleetvault.bak`,
        },
      };
    }
  }
  return { status: 'ok', written: true, edit };
}

export async function rolloutCa(o: RolloutOptions): Promise<RolloutReport> {
  const concurrency = Math.max(1, Math.min(o.concurrency ?? 16, 256));
  const canary = Math.max(0, o.canary ?? 0);
  const maxFailures = o.maxFailuresPercent ?? 100;
  if (maxFailures < 0 || maxFailures > 100) throw new UsageError('--max-failures must be a percentage from 0 to 100');
  const journal = o.journalPath && !o.dryRun ? new Journal(o.journalPath, o.caFingerprint) : undefined;
  // A re-run on this journal takes over holds its killed predecessor left (device by device).
  if (journal) o = { ...o, holdOwner: (t) => journal.holdOwner(t) };
  if (journal && o.journalWrites) {
    const onWriting = o.onWriting;
    o = { ...o, onWriting: (t) => { journal.record({ device: t.name, host: t.host, status: 'writing' }); onWriting?.(t); } };
  }
  if (o.scoped) requireScopedTargets(o.devices, o.command ?? 'ca rollout');
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
    if (!closed && !r.fromJournal && r.status !== 'skipped') {
      journal?.record({
        device: t.name, host: t.host, status: r.status, reason: r.reason, ...(r.wrote === false ? { wrote: false } : {}), ...(r.migrated ? { migrated: true } : {}),
        edit: journalKey(t, o), ...(o.scoped ? { scoped: true } : {}), ...(t.uuid ? { uuid: t.uuid } : {}),
      });
    }
    o.onProgress?.({ ...counts });
  };

  const pending: DeviceTarget[] = [];
  for (const t of o.devices) {
    // Done only for this run's edit: an unscoped run's entry does not make a --scoped run skip.
    const j = journal?.doneFor(t, journalKey(t, o));
    if (j) finish(t, { status: j.status, reason: 'finished in an earlier run (journal)', fromJournal: true });
    else pending.push(t);
  }

  // One run per journal, before anything is touched (released by journal.close() below; a run
  // that dies leaves a stale lock the next one replaces).
  journal?.lock();
  const addsCa = !!o.edit.add || !!o.scoped;
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
      verifier = await Promise.race([makeVerifier(o, keyDir, pending), guard.interrupted]);
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
