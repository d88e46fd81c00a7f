// `fleetvault factory reconcile`: does what the factory did match what was allowed? Decrypts of a
// batch (from Vault's audit log, attributed through the secret_id metadata AppRole copies onto
// every token) against the batch quota and its CIDRs, and — with a fleet — against the devices
// that actually registered since the batch was created. Surplus either way is a finding.
import { cidrSet } from './cidr.js';
import type { VaultClient } from '../vault/client.js';
import { listBatches, type BatchInfo } from './batch.js';
import { readAuditEvents } from '../audit/reader.js';
import { emptyStats, type AuditReadStats } from '../audit/reader.js';

export interface ReconcileOptions {
  client: VaultClient;
  approleMount: string;
  approleRole: string;
  transitMount: string;
  transitKey: string;
  batch: string;
  auditFiles: string[];
  /** Count devices registered in this fleet since the batch was created. */
  fleet?: string;
  balena?: { apiUrl?: string; token: string };
}

export interface ReconcileFinding { type: string; message: string }

export interface ReconcileReport {
  batch: string;
  /** What Vault still knows (absent once revoked or expired). */
  vault?: Omit<BatchInfo, 'accessor'>;
  quota?: number;
  logins: { ok: number; refused: number };
  decrypts: { ok: number; refused: number; outsideCidrs: number; sources: Record<string, number> };
  registered?: number;
  findings: ReconcileFinding[];
  log: Pick<AuditReadStats, 'lines' | 'malformed'>;
}

export async function reconcileBatch(o: ReconcileOptions): Promise<ReconcileReport> {
  const info = (await listBatches({ client: o.client, mount: o.approleMount, role: o.approleRole })).find((b) => b.name === o.batch);
  const stats = emptyStats();
  const logins = { ok: 0, refused: 0 };
  const decrypts = { ok: 0, refused: 0, outsideCidrs: 0, sources: {} as Record<string, number> };
  let quota = info?.count;
  const cidrs = info?.cidrs ?? [];
  const blocks = cidrSet(cidrs);
  let createdAt = info?.createdAt;
  const decryptPath = `${o.transitMount}/decrypt/${o.transitKey}`;
  const loginPath = `auth/${o.approleMount}/login`;
  // A login refused once the batch is used up (or revoked, or from outside its ranges) carries no
  // token and no metadata: only the role_id it sent ties it to the batch. Batch roles are one per
  // batch, so their role_id is the batch; collected from Vault and from the batch's own logins.
  const roleIds = new Set<string>();
  if (info && info.role !== o.approleRole) {
    const id = (await o.client.readOptional<{ role_id?: string }>(`auth/${o.approleMount}/role/${info.role}/role-id`).catch(() => undefined))?.data?.role_id;
    if (id) roleIds.add(id);
  }
  const anonymousRefusals = new Map<string, number>();
  for await (const e of readAuditEvents({ files: o.auditFiles, stats })) {
    if (e.path === loginPath && e.details.roleId && e.details.batch !== o.batch) {
      if (!e.ok && !e.details.batch) anonymousRefusals.set(e.details.roleId, (anonymousRefusals.get(e.details.roleId) ?? 0) + 1);
      continue;
    }
    if (e.details.batch !== o.batch) continue;
    if (e.path === loginPath && e.ok && e.details.roleId && e.details.metadata?.fleets !== undefined) roleIds.add(e.details.roleId);
    // Metadata from the log completes what Vault forgot (a revoked batch).
    quota ??= e.details.metadata?.count ? Number(e.details.metadata.count) : undefined;
    createdAt ??= e.details.metadata?.created_at;
    if (e.path === loginPath) (e.ok ? logins.ok++ : logins.refused++);
    else if (e.path === decryptPath) {
      if (!e.ok) { decrypts.refused++; continue; }
      decrypts.ok++;
      const r = e.remoteAddress;
      if (blocks && !blocks.contains(r)) decrypts.outsideCidrs++;
      const src = e.remoteAddress ?? 'unknown';
      decrypts.sources[src] = (decrypts.sources[src] ?? 0) + 1;
    }
  }
  for (const id of roleIds) logins.refused += anonymousRefusals.get(id) ?? 0;
  const findings: ReconcileFinding[] = [];
  if (logins.refused > 0) {
    findings.push({ type: 'refused-logins', message: `${logins.refused} refused login(s) with this batch's role_id: a used-up, revoked or copied credential is being tried` });
  }
  if (quota !== undefined && decrypts.ok > quota) {
    findings.push({ type: 'over-quota', message: `${decrypts.ok} decrypts for a batch of ${quota}` });
  }
  if (decrypts.outsideCidrs > 0) {
    findings.push({ type: 'outside-cidrs', message: `${decrypts.outsideCidrs} decrypts from outside ${cidrs.join(', ')}` });
  }
  let registered: number | undefined;
  if (o.fleet && o.balena) {
    const { listFleetDevices } = await import('../balena/sdk.js');
    const since = createdAt ? Date.parse(createdAt) : 0;
    const devices = await listFleetDevices({ ...o.balena, fleet: o.fleet });
    registered = devices.filter((d) => !d.createdAt || Date.parse(d.createdAt) >= since).length;
    if (registered > decrypts.ok) {
      findings.push({ type: 'surplus-registrations', message: `${registered} devices registered in ${o.fleet} since the batch began, but only ${decrypts.ok} decrypts: a provisioning key is being used outside the factory` });
    } else if (decrypts.ok > registered) {
      findings.push({ type: 'unregistered-decrypts', message: `${decrypts.ok - registered} decrypted configs have not registered a device (yet): lost, failed or copied blobs` });
    }
  }
  const { accessor: _accessor, ...vaultView } = info ?? ({} as BatchInfo);
  return {
    batch: o.batch, vault: info ? vaultView : undefined, quota, logins, decrypts, registered, findings,
    log: { lines: stats.lines, malformed: stats.malformed },
  };
}
