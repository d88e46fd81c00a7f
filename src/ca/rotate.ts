// `fleetvault ca rotate`: replace the SSH CA without locking anyone out, in four stages that each
// finish (or stop, resumably) before the next starts:
//   prepare    a new CA exists in Vault; signing still uses the old one
//   distribute every device trusts both CAs (the new line is added, the old one stays)
//   switch     signing uses the new CA; proven by logging in with a fresh certificate
//   retire     the old line is removed everywhere (verified with the new CA, restored on failure)
// The order is the point: a device must trust the new CA before any certificate from it is issued,
// and must keep the old CA until certificates from the new one are proven to work on it.
import { existsSync } from 'node:fs';
import type { VaultClient } from '../vault/client.js';
import { UsageError, VaultError } from '../errors.js';
import { getCaPublicKey } from './public-key.js';
import { authorizedKeyLine } from './authorized-key.js';
import type { DeviceTarget } from './devices-file.js';
import type { SshAccess } from '../device/remote-config.js';
import { rolloutCa, type RolloutProgress, type RolloutReport } from './rollout.js';
import { caStatus } from './status.js';
import {
  ROTATION_STAGES, archiveCompletedRotation, defaultRotationJournal, knownRotationIssuers, findRotationByNewMount, legacyRotationJournal, nextStage, readRotation, rolloutJournalFor, writeRotation,
  type RotationServer, type RotationStage, type RotationState, type RotationStrategy,
} from './rotate-journal.js';
import {
  createIssuer, createMountCa, defaultIssuerId, deleteIssuer, detectRotationStrategy, otherRotationIssuers, plannedIssuerName, plannedMountName,
  rotationServer, signingCaFingerprint, switchDefaultIssuer,
} from './rotate-vault.js';
import { verifySigningCa, withFreshCertificate, type SwitchVerification } from './rotate-verify.js';
import { requireScopedTargets } from './scoped.js';

export interface RotateOptions {
  client: VaultClient;
  /** The SSH mount engineers sign with today (FLEETVAULT_SSH_MOUNT). */
  mount: string;
  role: string;
  devices: DeviceTarget[];
  access: SshAccess;
  journalPath: string;
  /** This server's identity when the caller already read it (resolveRotationJournal). */
  server?: RotationServer;
  /** Run only this stage (it must be the next pending one), or every pending stage in order. */
  stage?: RotationStage | 'all';
  strategy?: RotationStrategy | 'auto';
  principals?: string[];
  /** Scoped new-CA lines (see RotationState.scoped); recorded in the journal at the first stage run. */
  scoped?: boolean;
  concurrency?: number;
  canary?: number;
  maxFailuresPercent?: number;
  verifyTimeoutMs?: number;
  /** Plan the next pending stage only; write nothing anywhere. */
  dryRun?: boolean;
  /** Go on to switch even when some devices do not trust the new CA yet (they lose certificate access). */
  allowPartial?: boolean;
  /** Retire: also delete the old issuer on OpenBao (its private key is gone for good). */
  deleteOldIssuer?: boolean;
  /** Switch: log into at most this many devices with the new CA (default: every covered device). */
  verifySample?: number;
  /** Start another rotation when the journal records a completed one. */
  newRotation?: boolean;
  /** Prepare even though Vault holds a pending rotation issuer no local journal knows (made elsewhere). */
  ignorePendingIssuer?: boolean;
  now?: Date;
  onProgress?: (stage: RotationStage, p: RolloutProgress) => void;
}

export interface StageReport {
  stage: RotationStage;
  status: 'done' | 'failed' | 'planned' | 'already';
  detail: string;
  rollout?: RolloutReport;
  coverage?: { trusting: number; total: number; missing: string[]; stillTrustingOld?: string[] };
  verification?: SwitchVerification;
}

export interface RotateReport {
  journal: string;
  strategy: RotationStrategy;
  /** Where engineers sign after this run (changes at the switch with the mount strategy). */
  signingMount: string;
  old: RotationState['old'];
  next: RotationState['next'];
  stages: StageReport[];
  /** The first stage still to do, or undefined when the rotation is complete. */
  pending?: RotationStage;
  complete: boolean;
  dryRun: boolean;
  /** The new CA lines are scoped (--scoped, as recorded in the journal). */
  scoped?: boolean;
  /** What the operator should do next, one line each. */
  notes: string[];
}

const now = (o: RotateOptions) => (o.now ?? new Date());

/**
 * The journal at `journalPath`, if it is a rotation of `mount` on this very server: a journal from
 * another server (same mount name, other CAs) is refused before anything reads or writes, and so is
 * one whose CAs are not what this server signs with. Journals older than the server field are
 * checked by CA alone and then claimed for this server.
 */
export async function openRotation(o: { client: VaultClient; mount: string; journalPath: string; server?: RotationServer }): Promise<{ state?: RotationState; server: RotationServer }> {
  const server = o.server ?? await rotationServer(o.client);
  const state = readRotation(o.journalPath);
  if (!state) return { server };
  if (state.mount !== o.mount && state.next.mount !== o.mount) {
    throw new UsageError(`rotation journal ${o.journalPath} belongs to mount ${state.mount}, not ${o.mount}`, { hint: 'pass --journal for this mount' });
  }
  if (state.server && state.server.clusterId !== server.clusterId) {
    throw new UsageError(`rotation journal ${o.journalPath} belongs to another Vault server (cluster ${state.server.clusterId} at ${state.server.address}), not ${server.address} (cluster ${server.clusterId}); nothing was changed`, {
      hint: `point VAULT_ADDR at ${state.server.address} to go on with that rotation, or pass --journal with a new path to rotate this server's CA`,
    });
  }
  if (!state.completedAt) {
    // Before the switch the mount signs with the old CA, after it with the new one (on the new
    // mount with the mount strategy); anything else is not this rotation's server or mount.
    const signing = await signingCaFingerprint(o.client, state.stages.switch.status === 'done' ? state.next.mount : state.mount);
    const known = [state.old.fingerprint, state.next.fingerprint].filter(Boolean);
    if (!signing || !known.includes(signing)) {
      throw new UsageError(`rotation journal ${o.journalPath} does not match ${server.address}: ${state.mount} signs with ${signing ?? 'no CA'}, the journal's CAs are ${known.join(' and ')}; nothing was changed`, {
        hint: 'point VAULT_ADDR at the server the rotation started on, or pass --journal with a new path',
      });
    }
  }
  state.server ??= server;
  return { state, server };
}

/**
 * The journal of `mount` on this server: --journal when given; else the one named after the
 * server's cluster id, else a journal from before journals named the server (checked by CA when
 * opened), else — after a mount-strategy switch, when the operator exports the new mount — the
 * unfinished rotation of this server whose new mount this is.
 */
export async function resolveRotationJournal(o: { client: VaultClient; mount: string; journal?: string; env?: NodeJS.ProcessEnv }): Promise<{ journalPath: string; server: RotationServer }> {
  const server = await rotationServer(o.client);
  if (o.journal) return { journalPath: o.journal, server };
  const path = defaultRotationJournal(o.mount, server.clusterId, o.env);
  if (existsSync(path)) return { journalPath: path, server };
  const legacy = legacyRotationJournal(o.mount, o.env);
  if (existsSync(legacy)) return { journalPath: legacy, server };
  return { journalPath: findRotationByNewMount(o.mount, server.clusterId, o.env) ?? path, server };
}

/**
 * A rotation started from another HOME (or machine) has no journal here, and a second prepare would
 * leave two pending issuers and two half-rotations: refuse, naming the one in Vault.
 */
async function refuseParallelRotation(o: RotateOptions): Promise<void> {
  const others = await otherRotationIssuers(o.client, o.mount, knownRotationIssuers(o.journalPath));
  if (!others.length) return;
  const first = others[0]!;
  throw new UsageError(`${o.mount} already has a pending rotation issuer no local journal knows: ${others.map((i) => `${i.issuerName} (${i.issuerId})`).join(', ')}, a rotation started elsewhere (another HOME or machine) or abandoned; no second issuer was created`, {
    hint: `go on with it where it started (or copy that HOME's ~/.local/state/fleetvault/rotate-* files here), or delete it: bao delete ${o.mount}/issuer/${first.issuerId}; or pass --ignore-pending-issuer to start another one anyway`,
  });
}

async function startRotation(o: RotateOptions, server: RotationServer): Promise<{ state: RotationState; report?: StageReport }> {
  const old = await getCaPublicKey({ client: o.client, mount: o.mount });
  const strategy = !o.strategy || o.strategy === 'auto' ? await detectRotationStrategy(o.client, o.mount) : o.strategy;
  const at = now(o);
  const state: RotationState = {
    version: 1, server, mount: o.mount, role: o.role, strategy, startedAt: at.toISOString(),
    old: { mount: o.mount, publicKey: old.publicKey, fingerprint: old.fingerprint },
    next: { mount: o.mount, publicKey: '', fingerprint: '' },
    stages: { prepare: { status: 'pending' }, distribute: { status: 'pending' }, switch: { status: 'pending' }, retire: { status: 'pending' } },
  };
  if (strategy === 'issuer') {
    if (!o.ignorePendingIssuer) await refuseParallelRotation(o);
    state.old.issuerId = await defaultIssuerId(o.client, o.mount);
    state.next.issuerName = plannedIssuerName(at);
  } else {
    state.next.mount = await plannedMountName(o.client, o.mount, at);
  }
  return { state };
}

async function prepare(o: RotateOptions, s: RotationState): Promise<StageReport> {
  const what = s.strategy === 'issuer' ? `issuer ${s.next.issuerName} on ${s.mount}` : `mount ${s.next.mount} with its own CA and role ${s.role}`;
  if (o.dryRun) return { stage: 'prepare', status: 'planned', detail: `would create ${what} (signing unchanged; old CA ${s.old.fingerprint})` };
  // Journal first: the planned name is on disk before anything exists, so a crash between the
  // create and the journal write re-finds the new CA instead of making a second one.
  writeRotation(o.journalPath, s);
  const made = s.strategy === 'issuer'
    ? await createIssuer(o.client, s.mount, s.next.issuerName!)
    : await createMountCa(o.client, s.next.mount, s.role);
  if (made.fingerprint === s.old.fingerprint) throw new UsageError(`the new CA has the old CA's key ${s.old.fingerprint}; refusing to continue`);
  s.next = { ...s.next, ...made };
  return { stage: 'prepare', status: 'done', detail: `created ${what}: new CA ${made.fingerprint}; signing still uses ${s.old.fingerprint}` };
}

function newCaLine(o: RotateOptions, s: RotationState): string | undefined {
  if (s.scoped) return undefined; // per device: scopedNewCa
  return authorizedKeyLine({ publicKey: s.next.publicKey, fingerprint: s.next.fingerprint, mount: s.next.mount, principals: o.principals });
}

/** --scoped: each device's new-CA line names its own principals (rolloutCa builds it per device). */
function scopedNewCa(s: RotationState): { line: (principals: string[]) => string } | undefined {
  if (!s.scoped) return undefined;
  return { line: (principals) => authorizedKeyLine({ publicKey: s.next.publicKey, fingerprint: s.next.fingerprint, mount: s.next.mount, principals }) };
}

/**
 * An unscoped rotation never downgrades a scoped device: where the old CA is trusted for scoped
 * principals only, a root line of the new CA is refused (that device fails, nothing written).
 */
function keepScoped(s: RotationState) {
  return s.scoped ? {} : { keepScopedOf: [s.old.fingerprint], scopedHint: 're-run fleetvault ca rotate with --scoped (before distribute is done the rotation can still become scoped)' };
}

function rolloutCommon(o: RotateOptions, stage: 'distribute' | 'retire') {
  return {
    client: o.client, devices: o.devices, access: o.access, concurrency: o.concurrency, canary: o.canary,
    maxFailuresPercent: o.maxFailuresPercent, dryRun: o.dryRun, verifyTimeoutMs: o.verifyTimeoutMs,
    journalPath: rolloutJournalFor(o.journalPath, stage), onProgress: (p: RolloutProgress) => o.onProgress?.(stage, p),
    command: 'ca rotate',
  };
}

function rolloutTrouble(r: RolloutReport): string | undefined {
  if (r.failed === 0 && r.skipped === 0) return undefined;
  const failed = r.devices.filter((d) => d.status === 'failed').map((d) => `${d.name} (${d.reason})`);
  return `${r.failed} failed, ${r.skipped} skipped${r.aborted ? ` (${r.aborted})` : ''}${failed.length ? `: ${failed.slice(0, 5).join('; ')}${failed.length > 5 ? '; …' : ''}` : ''}`;
}

async function distribute(o: RotateOptions, s: RotationState): Promise<StageReport> {
  // Signing has not switched, so on OpenBao no certificate from the new issuer can be verified
  // by the live role yet: the proof here is reading every config.json back (caStatus below).
  // With the mount strategy the new mount already signs, so the rollout logs in with its CA too.
  const rollout = await rolloutCa({
    ...rolloutCommon(o, 'distribute'), mount: s.next.mount, role: s.role, edit: { add: newCaLine(o, s) }, scoped: scopedNewCa(s),
    caFingerprint: s.next.fingerprint, verify: s.strategy === 'mount', journalWrites: true, ...keepScoped(s), replaceUnverified: true,
  });
  if (o.dryRun) return { stage: 'distribute', status: 'planned', detail: `would add the new CA line on ${rollout.changed} device(s); ${rollout.already} already have it`, rollout };
  const st = await caStatus({ devices: o.devices, caFingerprint: s.next.fingerprint, access: o.access, concurrency: o.concurrency });
  // A scoped rotation covers a device only with the scoped line (an unscoped new-CA line left by an
  // earlier unscoped distribute would make the scoped switch fail there, every time).
  const covers = (d: (typeof st.devices)[number]) => d.trustsCurrent && (!s.scoped || d.currentScope === 'scoped');
  const missing = st.devices.filter((d) => !covers(d)).map((d) => d.name);
  const trusting = st.devices.length - missing.length;
  const coverage = { trusting, total: st.total, missing };
  s.covered = st.devices.filter(covers).map((d) => d.name);
  const trouble = rolloutTrouble(rollout);
  const summary = `${trusting}/${st.total} devices trust the new CA ${s.next.fingerprint}${s.scoped ? ' with the scoped line' : ''}`;
  if (missing.length && !(o.allowPartial && trusting > 0)) {
    return { stage: 'distribute', status: 'failed', detail: `${summary}; missing: ${missing.join(', ')}${trouble ? `; rollout: ${trouble}` : ''}; fix them and re-run (done devices are skipped), or pass --allow-partial`, rollout, coverage };
  }
  return { stage: 'distribute', status: 'done', detail: `${summary}${missing.length ? ` (--allow-partial: ${missing.join(', ')} will lose certificate access)` : ''}; the old CA stays trusted`, rollout, coverage };
}

async function switchSigning(o: RotateOptions, s: RotationState): Promise<StageReport> {
  const target = s.strategy === 'issuer' ? `default issuer of ${s.mount} → ${s.next.issuerName} (${s.next.issuerId})` : `signing mount ${s.mount} → ${s.next.mount}`;
  if (o.dryRun) return { stage: 'switch', status: 'planned', detail: `would switch the ${target} and verify with a fresh certificate` };
  const previous = s.strategy === 'issuer' ? await switchDefaultIssuer(o.client, s.mount, s.role, s.next.issuerId!) : undefined;
  const covered = new Set(s.covered ?? o.devices.map((d) => d.name));
  const sample = o.devices.filter((d) => covered.has(d.name)).slice(0, o.verifySample ?? Number.MAX_SAFE_INTEGER);
  let verification: SwitchVerification | undefined;
  let problem: string | undefined;
  try {
    verification = await verifySigningCa({ client: o.client, mount: s.next.mount, role: s.role, devices: sample, access: o.access, concurrency: o.concurrency, timeoutMs: o.verifyTimeoutMs, scoped: s.scoped });
    const bad = verification.devices.filter((d) => !d.ok);
    if (verification.signingKeyFingerprint !== s.next.fingerprint) problem = `a fresh certificate is signed by ${verification.signingKeyFingerprint}, not the new CA`;
    else if (bad.length) problem = `login with a new-CA ${s.scoped ? 'fleet ' : 'root '}certificate failed on ${bad.map((d) => `${d.name} (${d.reason})`).join(', ')}`;
  } catch (e) {
    problem = (e as Error).message;
  }
  if (problem) {
    // Engineers must not be left with certificates the fleet refuses: put the old issuer back.
    if (previous) await o.client.write(`${s.mount}/config/issuers`, { default: previous }).catch(() => {});
    return { stage: 'switch', status: 'failed', detail: `${problem}; signing ${previous ? 'switched back to the old CA' : 'unchanged'}`, verification };
  }
  return { stage: 'switch', status: 'done', detail: `switched the ${target}; a fresh certificate from ${s.next.fingerprint} logged into ${sample.length} device(s)`, verification };
}

async function retire(o: RotateOptions, s: RotationState): Promise<StageReport> {
  const rollout = await rolloutCa({
    ...rolloutCommon(o, 'retire'), mount: s.next.mount, role: s.role,
    edit: { add: newCaLine(o, s), removeFingerprints: [s.old.fingerprint] }, scoped: scopedNewCa(s), caFingerprint: s.next.fingerprint, verify: true, ...keepScoped(s),
  });
  if (o.dryRun) return { stage: 'retire', status: 'planned', detail: `would remove the old CA line on ${rollout.changed} device(s)`, rollout };
  // Read back with a fresh new-CA certificate only: the operator's access may be an old-CA
  // certificate in ssh-agent, refused the moment the old line is gone. A device this certificate
  // cannot log into does not trust the new CA, which is a real failure of retire.
  const fleets = s.scoped ? o.devices.map((t) => t.fleet!) : undefined;
  const st = await withFreshCertificate({ client: o.client, mount: s.next.mount, role: s.role, base: o.access, reason: 'fleetvault ca rotate retire check', fleets }, async (fresh) => {
    if (fresh.signingKeyFingerprint !== s.next.fingerprint) throw new UsageError(`${s.next.mount} signs with ${fresh.signingKeyFingerprint}, not the new CA ${s.next.fingerprint}; signing changed outside this rotation`, { hint: 'check the default issuer (fleetvault ca status) before retiring the old CA' });
    return caStatus({ devices: o.devices, caFingerprint: s.next.fingerprint, access: fresh.access, accessFor: fresh.accessFor, concurrency: o.concurrency });
  });
  const stillTrustingOld = st.devices.filter((d) => !d.reachable || d.cas.some((c) => c.fingerprint === s.old.fingerprint)).map((d) => d.name);
  const missing = st.devices.filter((d) => !d.trustsCurrent).map((d) => d.name);
  const coverage = { trusting: st.trustingCurrent, total: st.total, missing, stillTrustingOld };
  const trouble = rolloutTrouble(rollout);
  if (stillTrustingOld.length || trouble) {
    return { stage: 'retire', status: 'failed', detail: `old CA ${s.old.fingerprint} still trusted (or unknown) on ${stillTrustingOld.join(', ') || 'no device'}${trouble ? `; rollout: ${trouble}` : ''}; re-run to resume`, rollout, coverage };
  }
  let detail = `removed the old CA ${s.old.fingerprint} from ${rollout.changed} device(s) (${rollout.already} already clean); ${st.trustingCurrent}/${st.total} trust ${s.next.fingerprint}`;
  if (o.deleteOldIssuer) {
    // The fleet is done: a refused delete (policy, a moved default) must not mark retire failed.
    try {
      detail += `; ${await deleteOldIssuerOrExplain(o, s)}`;
    } catch (e) {
      detail += `; the old issuer was NOT deleted (${(e as Error).message}); retry with --stage retire --delete-old-issuer`;
    }
  }
  return { stage: 'retire', status: 'done', detail, rollout, coverage };
}

/** After retire no device trusts the old CA: deleting its issuer (and private key) is safe, and final. */
async function deleteOldIssuer(o: RotateOptions, s: RotationState): Promise<string> {
  if (s.strategy !== 'issuer' || !s.old.issuerId) return `no old issuer to delete (the old CA lives on mount ${s.old.mount}; an admin unmounts it)`;
  if (o.dryRun) return `would delete the old issuer ${s.old.issuerId}`;
  const deleted = await deleteIssuer(o.client, s.mount, s.old.issuerId, 'old');
  s.oldIssuerDeletedAt ??= now(o).toISOString();
  writeRotation(o.journalPath, s);
  return deleted ? `deleted the old issuer ${s.old.issuerId}` : `the old issuer ${s.old.issuerId} was already deleted`;
}

/**
 * deleteOldIssuer, where a 403 is an answer, not a failure: operators may not delete issuers (a
 * policy cannot tell the signing issuer from an old one), so the admin's command is the result.
 */
async function deleteOldIssuerOrExplain(o: RotateOptions, s: RotationState): Promise<string> {
  try {
    return await deleteOldIssuer(o, s);
  } catch (e) {
    if (e instanceof VaultError && e.status === 403 && s.old.issuerId) {
      return `Vault refused to delete the old issuer (403): it signs nothing, so it is harmless; an admin deletes it with \`bao delete ${s.mount}/issuer/${s.old.issuerId}\``;
    }
    throw e;
  }
}

const RUNNERS: Record<RotationStage, (o: RotateOptions, s: RotationState) => Promise<StageReport>> = {
  prepare, distribute, switch: switchSigning, retire,
};

export async function rotateCa(o: RotateOptions): Promise<RotateReport> {
  const want = o.stage ?? 'all';
  if (want !== 'all' && !ROTATION_STAGES.includes(want)) throw new UsageError(`unknown stage ${JSON.stringify(want)}`, { hint: `one of ${ROTATION_STAGES.join(', ')}, all` });
  const opened = await openRotation({ client: o.client, mount: o.mount, journalPath: o.journalPath, server: o.server });
  let state = opened.state;
  const reports: StageReport[] = [];
  const notes0: string[] = [];
  const finished = state?.completedAt && o.newRotation ? state : undefined;
  if (finished) state = undefined;
  if (!state) {
    if (want !== 'all' && want !== 'prepare') {
      throw new UsageError(`no rotation of ${o.mount} in progress on ${opened.server.address} (no journal at ${o.journalPath})`, { hint: 'start one with --stage prepare or --stage all; see fleetvault ca rotate status' });
    }
    state = (await startRotation(o, opened.server)).state;
    // The finished rotation's journals move aside only now, once the new one is sure to start.
    if (finished && !o.dryRun) notes0.push(`the completed rotation's journal is kept at ${archiveCompletedRotation(o.journalPath, now(o))}`);
  }
  const s = state;
  const notes: string[] = notes0;
  if (o.scoped && !s.scoped) {
    // Lines already distributed name other principals: a scoped switch would verify with
    // certificates those devices refuse. Decide at the start (or before distribute finished).
    if (s.stages.distribute.status === 'done') {
      throw new UsageError(`--scoped: this rotation distributed unscoped new-CA lines (${s.stages.distribute.at}); it goes on without --scoped`, { hint: 'finish it without --scoped, then run fleetvault ca rollout --scoped to migrate the devices' });
    }
    s.scoped = true;
  }
  // Fleet grants (the sign/fleet-… roles) live on the signing mount: a new mount has none, so its
  // fleet certificates could not be signed to verify anything.
  if (s.scoped && s.strategy === 'mount') {
    throw new UsageError('--scoped needs the issuer strategy (OpenBao): fleet grants live on the mount, and the new mount of the mount strategy has none', {
      hint: 'rotate without --scoped, grant the fleets on the new mount (FLEETVAULT_SSH_MOUNT=<new mount> fleetvault access grant …), then fleetvault ca rollout --scoped',
    });
  }
  // Every device must name its fleet and uuid before the first stage touches anything.
  if (s.scoped) requireScopedTargets(o.devices, 'ca rotate');
  const pendingAtStart = nextStage(s);
  let toRun: RotationStage[];
  if (want === 'retire' && s.stages.retire.status === 'done') {
    // Asked for retire again, typically with --delete-old-issuer (the hint of a finished run).
    toRun = [];
    let detail = `done ${s.stages.retire.at}: ${s.stages.retire.detail ?? ''}`;
    if (o.deleteOldIssuer) detail += `; ${await deleteOldIssuerOrExplain(o, s)}`;
    reports.push({ stage: 'retire', status: 'already', detail });
  } else if (!pendingAtStart) {
    toRun = [];
    notes.push(`the rotation started ${s.startedAt} is complete; pass --new-rotation to start another`);
  } else if (want === 'all') {
    toRun = ROTATION_STAGES.slice(ROTATION_STAGES.indexOf(pendingAtStart));
    // A dry run can only plan the next stage: the later ones depend on its real effects.
    if (o.dryRun) toRun = toRun.slice(0, 1);
  } else if (s.stages[want].status === 'done') {
    toRun = [];
    reports.push({ stage: want, status: 'already', detail: `done ${s.stages[want].at}: ${s.stages[want].detail ?? ''}` });
  } else if (want !== pendingAtStart) {
    throw new UsageError(`stage ${want} needs stage ${pendingAtStart} first`, { hint: `run fleetvault ca rotate --stage ${pendingAtStart} (or --stage all)` });
  } else {
    toRun = [want];
  }

  for (const stage of toRun) {
    let r: StageReport;
    try {
      r = await RUNNERS[stage](o, s);
    } catch (e) {
      // A Vault or local error mid-stage: record it so the report and the journal say where it stopped.
      if (!o.dryRun && stage !== 'prepare') {
        s.stages[stage] = { status: 'failed', at: now(o).toISOString(), detail: (e as Error).message };
        writeRotation(o.journalPath, s);
      }
      throw e;
    }
    reports.push(r);
    if (o.dryRun) break;
    s.stages[stage] = { status: r.status === 'done' ? 'done' : 'failed', at: now(o).toISOString(), detail: r.detail };
    if (stage === ROTATION_STAGES[ROTATION_STAGES.length - 1] && r.status === 'done') s.completedAt = now(o).toISOString();
    writeRotation(o.journalPath, s);
    if (r.status !== 'done') break;
  }

  const pending = nextStage(s);
  const switched = s.stages.switch.status === 'done';
  const signingMount = switched ? s.next.mount : s.old.mount;
  if (s.strategy === 'mount' && switched && !o.dryRun) {
    notes.push(`engineers and operators now sign with the new mount: export FLEETVAULT_SSH_MOUNT=${s.next.mount}`);
    notes.push(`persona policies still name ${s.old.mount}: run fleetvault init --ssh-mount ${s.next.mount} (admin) to point them at the new mount`);
  }
  if (pending && !o.dryRun && reports.some((r) => r.status === 'failed')) notes.push(`re-run fleetvault ca rotate to resume at stage ${pending}`);
  if (s.completedAt && s.strategy === 'issuer' && !o.deleteOldIssuer && s.old.issuerId && !s.oldIssuerDeletedAt && toRun.includes('retire')) {
    notes.push(`the old issuer ${s.old.issuerId} still exists (it signs nothing); delete it with --stage retire --delete-old-issuer or bao delete ${s.mount}/issuer/${s.old.issuerId}`);
  }
  return {
    journal: o.journalPath, strategy: s.strategy, signingMount, old: s.old, next: s.next, stages: reports, pending,
    complete: !!s.completedAt, dryRun: !!o.dryRun, scoped: !!s.scoped, notes,
  };
}

/** The human report: one line per stage run, then where things stand. */
export function renderRotateReport(r: RotateReport): string {
  const lines = r.stages.map((st) => `${st.stage.padEnd(10)} ${st.status.padEnd(7)} ${st.detail}`);
  if (!lines.length) lines.push('nothing to do');
  lines.push('', `old CA ${r.old.fingerprint}${r.old.issuerId ? ` (issuer ${r.old.issuerId})` : ''} on ${r.old.mount}`);
  if (r.next.fingerprint) lines.push(`new CA ${r.next.fingerprint}${r.next.issuerId ? ` (issuer ${r.next.issuerName})` : ''} on ${r.next.mount}${r.scoped ? '; scoped lines (device-, fleet-, break-glass)' : ''}`);
  lines.push(r.complete ? 'rotation complete' : r.dryRun ? 'dry run: nothing written' : `next stage: ${r.pending}`, `journal ${r.journal}`);
  return [...lines, ...r.notes.map((n) => `note: ${n}`)].join('\n');
}
