// `fleetvault ca rotate abort`: undo a rotation that has not switched signing yet. Until the switch
// nobody holds a certificate from the new CA, so taking it back is safe: the new CA line comes off
// every device (the old line stays: nobody loses access), then the new issuer — or the new mount —
// is deleted in Vault, and the journal is archived so the next `ca rotate` starts from scratch.
// After the switch engineers hold new-CA certificates and devices rely on them; abort refuses and
// says how to finish instead.
import { existsSync, readFileSync } from 'node:fs';
import { UsageError, VaultError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import type { DeviceTarget } from './devices-file.js';
import type { SshAccess } from '../device/remote-config.js';
import { rolloutCa, type RolloutProgress, type RolloutReport } from './rollout.js';
import { archiveAbortedRotation, rolloutJournalFor, writeRotation, type RotationCa, type RotationServer } from './rotate-journal.js';
import { openRotation } from './rotate.js';
import { deleteIssuer, deleteRotationMount, findIssuerByName, signingCaFingerprint } from './rotate-vault.js';

export interface AbortOptions {
  client: VaultClient;
  mount: string;
  journalPath: string;
  server?: RotationServer;
  /** Needed once distribute has started: the new CA line may be on them. */
  devices: DeviceTarget[];
  access: SshAccess;
  concurrency?: number;
  /** Delete the new CA from Vault even when some devices could not be cleaned (their line is then inert). */
  force?: boolean;
  now?: Date;
  onProgress?: (p: RolloutProgress) => void;
}

export interface AbortReport {
  journal: string;
  server: RotationServer;
  old: RotationCa;
  next: RotationCa;
  /** Devices the new CA line was removed from (undefined when distribute never ran). */
  rollout?: RolloutReport;
  /** Devices passed in that distribute never wrote to (per its journal): nothing to undo there. */
  untouched?: string[];
  /** --force: devices that could not be cleaned and keep the (deleted) new CA's line. */
  leftWithLine?: string[];
  /** What happened in Vault: the new issuer or mount deleted, already gone, or why it stays. */
  vault: { removed: 'issuer' | 'mount' | 'nothing'; detail: string };
  /** Where the journal was moved once the abort completed. */
  archivedJournal?: string;
  complete: boolean;
  notes: string[];
}

export async function abortRotation(o: AbortOptions): Promise<AbortReport> {
  const { state: s, server } = await openRotation({ client: o.client, mount: o.mount, journalPath: o.journalPath, server: o.server });
  if (!s) throw new UsageError(`no rotation of ${o.mount} to abort on ${server.address} (no journal at ${o.journalPath})`, { hint: 'see fleetvault ca rotate status' });
  if (s.completedAt) {
    throw new UsageError(`the rotation of ${s.mount} completed ${s.completedAt}; there is nothing to abort`, { hint: 'to move to another CA, start a new rotation: fleetvault ca rotate --new-rotation' });
  }
  if (s.stages.switch.status === 'done') {
    // Switching back would strand every new-CA certificate issued since, and retire may already
    // have removed the old CA from devices: only going forward is safe.
    throw new UsageError(`cannot abort: signing switched to the new CA ${s.next.fingerprint} at ${s.stages.switch.at}; certificates from it are in use and devices trust it, so the switch cannot be undone safely`, {
      hint: 'finish the rotation instead: fleetvault ca rotate --stage retire (re-run to resume); see fleetvault ca rotate status',
    });
  }
  if (s.next.fingerprint && (await signingCaFingerprint(o.client, s.mount)) === s.next.fingerprint) {
    // A switch interrupted after Vault changed and before the journal did: new-CA certificates may
    // be out already, and removing the line now would lock their holders out.
    throw new UsageError(`cannot abort: ${s.mount} already signs with the new CA ${s.next.fingerprint} (an interrupted switch)`, {
      hint: 'finish the switch with fleetvault ca rotate --stage switch, then go on with --stage retire',
    });
  }
  const notes: string[] = [];
  let rollout: RolloutReport | undefined;
  let untouched: string[] | undefined;
  let leftWithLine: string[] | undefined;
  // A distribute killed mid-run leaves its stage pending but its per-device journal behind.
  const distributeStarted = s.stages.distribute.status !== 'pending' || !!s.covered || existsSync(rolloutJournalFor(o.journalPath, 'distribute'));
  if (distributeStarted && s.next.fingerprint) {
    const written = devicesDistributeMayHaveWritten(rolloutJournalFor(o.journalPath, 'distribute'), s.next.fingerprint, s.covered);
    const toClean = written === 'all' ? o.devices : o.devices.filter((d) => written.has(d.name));
    untouched = o.devices.filter((d) => !toClean.includes(d)).map((d) => d.name);
    if (untouched.length) notes.push(`skipped ${untouched.length} device(s) distribute never wrote to: ${untouched.join(', ')}`);
    // Devices distribute wrote to that this abort was not given would keep the line silently.
    const notGiven = written === 'all' ? (o.devices.length ? [] : ['(the fleet)']) : [...written].filter((n) => !o.devices.some((d) => d.name === n));
    if (notGiven.length && !o.force) {
      throw new UsageError(`abort needs the devices: distribute wrote (or may have written) the new CA line on ${written === 'all' ? 'them' : notGiven.join(', ')}, not in the devices given`, { hint: 'pass the same --devices FILE or --fleet SLUG as the rotation (or --force to delete the new CA and leave its inert line there)' });
    }
    if (toClean.length) {
      // Remove only: the old line, and with it everyone's access, stays. Nothing new is trusted, so
      // there is nothing to verify by logging in; a failure leaves the device as it was.
      rollout = await rolloutCa({
        client: o.client, mount: s.mount, role: s.role, devices: toClean, access: o.access, concurrency: o.concurrency,
        edit: { removeFingerprints: [s.next.fingerprint] }, caFingerprint: s.next.fingerprint, verify: false,
        journalPath: rolloutJournalFor(o.journalPath, 'abort'), onProgress: o.onProgress,
      });
    }
    const bad = rollout?.devices.filter((d) => d.status === 'failed' || d.status === 'skipped') ?? [];
    if (bad.length && !o.force) {
      s.stages.distribute = { status: 'failed', at: (o.now ?? new Date()).toISOString(), detail: 'abort: the new CA line could not be removed everywhere' };
      writeRotation(o.journalPath, s);
      notes.push(`the new CA line is still on ${bad.map((d) => `${d.name} (${d.reason})`).join(', ')}; re-run fleetvault ca rotate abort once they are reachable (done devices are skipped), or pass --force to delete the new CA anyway (its line on them then trusts a CA nobody can sign with)`);
      return { journal: o.journalPath, server, old: s.old, next: s.next, rollout, untouched, vault: { removed: 'nothing', detail: 'kept until every device is clean (or --force)' }, complete: false, notes };
    }
    if (bad.length || notGiven.length) leftWithLine = [...bad.map((d) => d.name), ...notGiven];
  }
  let vault: AbortReport['vault'];
  try {
    vault = await removeNewCa(o.client, s.strategy, s.mount, s.next);
  } catch (e) {
    if (e instanceof VaultError && e.status === 403) {
      const what = s.strategy === 'issuer' ? `bao delete ${s.mount}/issuer/${s.next.issuerId ?? s.next.issuerName}` : `bao secrets disable ${s.next.mount}`;
      notes.push(`Vault refused to delete the new CA (403): no device trusts it any more, so it is harmless; an admin removes it with \`${what}\`, then re-run fleetvault ca rotate abort`);
      return { journal: o.journalPath, server, old: s.old, next: s.next, rollout, untouched, vault: { removed: 'nothing', detail: e.message }, complete: false, notes };
    }
    throw e;
  }
  if (leftWithLine) {
    notes.push(`--force: ${leftWithLine.join(', ')} keep${leftWithLine.length === 1 ? 's' : ''} the line of the new CA ${s.next.fingerprint}; harmless: that CA is deleted from Vault, nobody can sign with it (remove the line from config.json os.sshKeys when the device is reachable, if you want it gone)`);
  }
  const archivedJournal = archiveAbortedRotation(o.journalPath, o.now ?? new Date());
  notes.push(`aborted: signing still uses the old CA ${s.old.fingerprint}; the journal is kept at ${archivedJournal}`);
  return { journal: o.journalPath, server, old: s.old, next: s.next, rollout, untouched, leftWithLine, vault, archivedJournal, complete: true, notes };
}

/**
 * Which devices distribute may have put the new CA line on, from its per-device journal: a device
 * with a 'writing', changed or already line, or a failure that does not say it happened before the
 * write. A device whose every attempt failed before writing (unreachable, auth refused) or that was
 * never attempted is as it was. Journals from before fleetvault recorded writes ('writing' lines,
 * wrote:false) cannot tell: 'all'.
 */
export function devicesDistributeMayHaveWritten(path: string, caFingerprint: string, covered: string[] | undefined): Set<string> | 'all' {
  const may = new Set<string>(covered ?? []);
  let tellsWrites = false;
  let entries = 0;
  if (existsSync(path)) {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      let e: { device?: string; status?: string; wrote?: boolean; caFingerprint?: string };
      try { e = JSON.parse(line); } catch { continue; /* blank or torn line */ }
      if (e.caFingerprint !== caFingerprint || !e.device) continue;
      entries++;
      if (e.status === 'writing' || e.wrote === false) tellsWrites = true;
      if (e.status === 'writing' || e.status === 'changed' || e.status === 'already' || (e.status === 'failed' && e.wrote !== false)) may.add(e.device);
    }
  }
  return entries && !tellsWrites ? 'all' : may;
}

async function removeNewCa(client: VaultClient, strategy: 'issuer' | 'mount', mount: string, next: RotationCa): Promise<AbortReport['vault']> {
  if (strategy === 'issuer') {
    // A prepare interrupted after the create but before the journal write knows only the name.
    const id = next.issuerId ?? (next.issuerName ? (await findIssuerByName(client, mount, next.issuerName))?.issuerId : undefined);
    if (!id) return { removed: 'nothing', detail: `no issuer ${next.issuerName} was created` };
    return (await deleteIssuer(client, mount, id, 'new'))
      ? { removed: 'issuer', detail: `deleted the new issuer ${next.issuerName ?? ''} (${id})`.replace(' ()', '') }
      : { removed: 'nothing', detail: `the new issuer ${id} was already gone` };
  }
  return (await deleteRotationMount(client, next.mount, next.fingerprint))
    ? { removed: 'mount', detail: `removed the new mount ${next.mount}` }
    : { removed: 'nothing', detail: `the new mount ${next.mount} was already gone` };
}

export function renderAbortReport(r: AbortReport): string {
  const lines: string[] = [];
  if (r.rollout) lines.push(`devices    new CA line removed from ${r.rollout.changed}, already without it ${r.rollout.already}, failed ${r.rollout.failed + r.rollout.skipped}`);
  if (r.untouched?.length) lines.push(`devices    never written by distribute, skipped: ${r.untouched.join(', ')}`);
  lines.push(`vault      ${r.vault.detail}`, `old CA ${r.old.fingerprint} (still signing)`, `new CA ${r.next.fingerprint || '(never created)'} on ${r.next.mount}`);
  lines.push(r.complete ? `rotation aborted; journal archived at ${r.archivedJournal}` : `abort incomplete; journal ${r.journal}`);
  return [...lines, ...r.notes.map((n) => `note: ${n}`)].join('\n');
}
