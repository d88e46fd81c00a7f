// `fleetvault ca rotate status`: where a rotation stands, from its journals and two reads Vault
// answers without a token (sys/health for the server's identity, <mount>/public_key for the CA it
// signs with now). Read-only by construction: it writes no journal, sends no write to Vault and
// does not contact devices — a look before deciding to go on or abort can never move anything.
import { existsSync, readFileSync } from 'node:fs';
import type { VaultClient } from '../vault/client.js';
import type { DeviceTarget } from './devices-file.js';
import {
  nextStage, ROTATION_STAGES, rolloutJournalFor, type RotationCa, type RotationServer, type RotationStage, type StageRecord, type RotationStrategy,
} from './rotate-journal.js';
import { openRotation } from './rotate.js';
import { otherRotationIssuers, signingCaFingerprint, type OtherRotationIssuer } from './rotate-vault.js';
import { knownRotationIssuers } from './rotate-journal.js';
import { VaultError } from '../errors.js';

export interface FleetStageProgress {
  /** Devices finished (changed or already right) according to the stage's per-device journal. */
  done: string[];
  /** Devices whose last attempt failed, with why. */
  failed: { name: string; reason?: string }[];
  /** Devices of --devices/--fleet not finished yet (only when a device list was given). */
  remaining?: string[];
}

export interface RotationStatusReport {
  journal: string;
  server: RotationServer;
  /** False when there is no journal for this server and mount: no rotation started (or it was aborted). */
  found: boolean;
  mount: string;
  /** The CA the rotation's signing mount signs with now, as Vault says. */
  signing?: { mount: string; fingerprint?: string; is: 'old' | 'new' | 'other' | 'none' };
  strategy?: RotationStrategy;
  startedAt?: string;
  completedAt?: string;
  old?: RotationCa;
  next?: RotationCa;
  stages?: Record<RotationStage, StageRecord>;
  /** The next stage to run, undefined when complete (or nothing started). */
  pending?: RotationStage;
  devices?: { covered?: string[]; distribute: FleetStageProgress; retire: FleetStageProgress };
  oldIssuerDeletedAt?: string;
  /**
   * Pending rotation issuers in Vault that no local journal knows (a rotation started from another
   * HOME, or abandoned). asked is false without a token: LIST issuers needs one.
   */
  elsewhere: { asked: boolean; issuers: OtherRotationIssuer[]; why?: string };
  /** What to do next, one line each. */
  notes: string[];
}

/**
 * The last outcome per device in a rollout journal for this CA (read only; a torn line is skipped).
 * In a scoped rotation an unscoped run's entry is not done: the --scoped run redoes that device.
 */
function fleetProgress(path: string, caFingerprint: string, devices?: DeviceTarget[], scoped?: boolean): FleetStageProgress {
  const last = new Map<string, { status: string; reason?: string; scoped?: boolean }>();
  if (existsSync(path)) {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      try {
        const e = JSON.parse(line) as { device: string; status: string; reason?: string; caFingerprint: string; scoped?: boolean };
        if (e.caFingerprint === caFingerprint && e.status !== 'skipped') last.set(e.device, e);
      } catch { /* blank or torn line */ }
    }
  }
  const done = [...last].filter(([, e]) => (e.status === 'changed' || e.status === 'already') && (!scoped || e.scoped)).map(([n]) => n).sort();
  const failed = [...last].filter(([, e]) => e.status === 'failed').map(([name, e]) => ({ name, reason: e.reason }));
  const finished = new Set(done);
  return { done, failed, ...(devices ? { remaining: devices.map((d) => d.name).filter((n) => !finished.has(n)) } : {}) };
}

async function rotationsElsewhere(client: VaultClient, mount: string, journalPath: string): Promise<RotationStatusReport['elsewhere']> {
  if (!client.hasToken()) return { asked: false, issuers: [], why: 'no token: listing issuers needs one' };
  try {
    return { asked: true, issuers: await otherRotationIssuers(client, mount, knownRotationIssuers(journalPath)) };
  } catch (e) {
    // Status must still answer: say Vault could not be asked instead of failing.
    if (e instanceof VaultError && e.status === 403) return { asked: false, issuers: [], why: 'this token may not list issuers (403)' };
    throw e;
  }
}

function elsewhereNotes(mount: string, e: RotationStatusReport['elsewhere']): string[] {
  if (!e.asked) return [`Vault was not asked about rotations started from another HOME (${e.why}); run with a token to check`];
  return e.issuers.map((i) => `${mount} has a pending rotation issuer ${i.issuerName} (${i.issuerId}) no local journal knows: a rotation started from another HOME or machine, or abandoned; go on with it there (or copy its ~/.local/state/fleetvault/rotate-* files here), or delete it: bao delete ${mount}/issuer/${i.issuerId}`);
}

export async function rotationStatus(o: { client: VaultClient; mount: string; journalPath: string; server?: RotationServer; devices?: DeviceTarget[] }): Promise<RotationStatusReport> {
  const { state: s, server } = await openRotation({ client: o.client, mount: o.mount, journalPath: o.journalPath, server: o.server });
  const elsewhere = await rotationsElsewhere(o.client, o.mount, o.journalPath);
  if (!s) {
    const fingerprint = await signingCaFingerprint(o.client, o.mount);
    const notes = [`no rotation of ${o.mount} on ${server.address} in a local journal (none at ${o.journalPath})`, ...elsewhereNotes(o.mount, elsewhere)];
    if (!elsewhere.issuers.length) notes.push(`start one with fleetvault ca rotate --stage prepare${elsewhere.asked ? '' : ' (it checks Vault for a rotation started elsewhere first)'}`);
    return {
      journal: o.journalPath, server, found: false, mount: o.mount, signing: { mount: o.mount, fingerprint, is: fingerprint ? 'other' : 'none' },
      elsewhere, notes,
    };
  }
  const switched = s.stages.switch.status === 'done';
  const signingMount = switched ? s.next.mount : s.mount;
  const fingerprint = await signingCaFingerprint(o.client, signingMount);
  const is = !fingerprint ? 'none' : fingerprint === s.old.fingerprint ? 'old' : fingerprint === s.next.fingerprint ? 'new' : 'other';
  const pending = nextStage(s);
  const notes: string[] = [];
  if (!pending) notes.push(s.strategy === 'issuer' && s.old.issuerId && !s.oldIssuerDeletedAt
    ? `complete; the old issuer ${s.old.issuerId} still exists: fleetvault ca rotate --stage retire --delete-old-issuer`
    : 'complete');
  else if (!switched) notes.push(`next: fleetvault ca rotate --stage ${pending}; or undo what is done so far with fleetvault ca rotate abort`);
  else notes.push(`next: fleetvault ca rotate --stage ${pending}; signing already uses the new CA, so abort can no longer undo this rotation`);
  return {
    journal: o.journalPath, server, found: true, mount: s.mount, signing: { mount: signingMount, fingerprint, is },
    strategy: s.strategy, startedAt: s.startedAt, completedAt: s.completedAt, old: s.old, next: s.next, stages: s.stages, pending,
    devices: {
      covered: s.covered,
      distribute: fleetProgress(rolloutJournalFor(o.journalPath, 'distribute'), s.next.fingerprint, o.devices, s.scoped),
      retire: fleetProgress(rolloutJournalFor(o.journalPath, 'retire'), s.next.fingerprint, o.devices, s.scoped),
    },
    oldIssuerDeletedAt: s.oldIssuerDeletedAt, elsewhere, notes: [...notes, ...(elsewhere.asked ? elsewhereNotes(s.mount, elsewhere) : [])],
  };
}

export function renderRotationStatus(r: RotationStatusReport): string {
  const lines = [`server  ${r.server.address} (cluster ${r.server.clusterId})`, `journal ${r.journal}`];
  if (!r.found) return [...lines, ...r.notes].join('\n');
  lines.push(
    `rotation of ${r.mount} (${r.strategy} strategy) started ${r.startedAt}${r.completedAt ? `, completed ${r.completedAt}` : ''}`,
    `old CA ${r.old!.fingerprint}${r.old!.issuerId ? ` (issuer ${r.old!.issuerId}${r.oldIssuerDeletedAt ? ', deleted' : ''})` : ''} on ${r.old!.mount}`,
    `new CA ${r.next!.fingerprint || '(not created yet)'}${r.next!.issuerName ? ` (issuer ${r.next!.issuerName})` : ''} on ${r.next!.mount}`,
    `signing ${r.signing!.mount} signs with ${r.signing!.fingerprint ?? 'no CA'} (${r.signing!.is === 'other' ? 'neither CA of this rotation' : `the ${r.signing!.is} CA`})`,
    '',
  );
  for (const st of ROTATION_STAGES) {
    const rec = r.stages![st];
    let devices = '';
    const p = st === 'distribute' || st === 'retire' ? r.devices![st] : undefined;
    // A fleet stage that has not started has no per-device progress worth a line.
    if (p && (rec.status !== 'pending' || p.done.length || p.failed.length)) {
      devices = ` [${p.done.length} device(s) done${p.failed.length ? `, failed: ${p.failed.map((f) => f.name).join(', ')}` : ''}${p.remaining?.length ? `, remaining: ${p.remaining.join(', ')}` : ''}]`;
    }
    lines.push(`${st.padEnd(10)} ${rec.status.padEnd(7)} ${rec.at ?? ''}${devices}${rec.detail && rec.status === 'failed' ? ` ${rec.detail}` : ''}`.trimEnd());
  }
  return [...lines, '', ...r.notes].join('\n');
}
