// Factory batches: one AppRole secret_id on the flasher role per batch of devices. num_uses = the
// batch size and the flasher token has token_num_uses 1, so a batch of N allows exactly N decrypts.
// The secret_id is bound to the factory CIDRs for login (cidr_list) AND for every use of the
// tokens it yields (token_bound_cidrs): secret_id_bound_cidrs alone only gates the login.
//
// fleetvault stays stateless: the batch name lives in the secret_id's metadata, and revoke finds
// it again by listing the role's secret_id accessors and looking each one up.
import { UsageError, VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { validateCidrs } from './cidr.js';

const BATCH_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;

export function validateBatchName(name: string): string {
  if (!BATCH_NAME.test(name)) {
    throw new UsageError(`invalid batch name "${name}"`, { hint: 'use 1-64 letters, digits, . _ - (e.g. 2025-06-line3)' });
  }
  return name;
}

export interface BatchLocation { client: VaultClient; mount: string; role: string }

export interface CreateBatchOptions extends BatchLocation {
  name: string;
  count: number;
  cidrs: string[];
  /** secret_id lifetime in seconds. */
  ttlSeconds: number;
  /** Response-wrapping TTL, Vault duration syntax ("24h"). */
  wrapTtl: string;
  now?: Date;
}

export interface CreatedBatch {
  name: string;
  roleId: string;
  wrappingToken: string;
  count: number;
  cidrs: string[];
  expiresAt: string;
  /** When the wrapping token itself stops working. */
  wrapExpiresAt: string;
}

export interface BatchInfo {
  name: string;
  accessor: string;
  count?: number;
  usesLeft?: number;
  cidrs: string[];
  expiresAt?: string;
  /** From the batch metadata: who created it and when (reconcile counts registrations since). */
  createdAt?: string;
  createdBy?: string;
}

const base = (o: BatchLocation) => `auth/${o.mount}/role/${o.role}`;

async function whoAmI(client: VaultClient): Promise<string> {
  try {
    const r = await client.read<{ display_name?: string; entity_id?: string }>('auth/token/lookup-self');
    return r.data?.display_name || r.data?.entity_id || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Every secret_id of the role that carries fleetvault batch metadata. */
export async function listBatches(o: BatchLocation): Promise<BatchInfo[]> {
  let accessors: string[];
  try {
    accessors = await o.client.list(`${base(o)}/secret-id`);
  } catch (e) {
    throw failedTo(`list the secret_ids of ${base(o)}`, e);
  }
  const out: BatchInfo[] = [];
  for (const accessor of accessors) {
    let d: Record<string, unknown> | undefined;
    try {
      d = (await o.client.write(`${base(o)}/secret-id-accessor/lookup`, { secret_id_accessor: accessor }, { idempotent: true })).data;
    } catch (e) {
      // Expired between list and lookup: nothing to report or revoke.
      if (e instanceof VaultError && (e.status === 404 || e.status === 400)) continue;
      throw failedTo(`look up secret_id accessor of ${base(o)}`, e);
    }
    const meta = (d?.metadata ?? {}) as Record<string, string>;
    if (!meta.batch) continue;
    out.push({
      name: meta.batch,
      accessor,
      count: meta.count === undefined ? undefined : Number(meta.count),
      usesLeft: typeof d?.secret_id_num_uses === 'number' ? d.secret_id_num_uses : undefined,
      cidrs: (d?.cidr_list as string[] | undefined) ?? [],
      expiresAt: typeof d?.expiration_time === 'string' && !d.expiration_time.startsWith('0001') ? d.expiration_time : undefined,
      createdAt: meta.created_at,
      createdBy: meta.created_by,
    });
  }
  return out;
}

export async function createBatch(o: CreateBatchOptions): Promise<CreatedBatch> {
  const name = validateBatchName(o.name);
  if (!Number.isInteger(o.count) || o.count < 1) throw new UsageError(`invalid --count "${o.count}"`, { hint: 'a positive whole number of devices' });
  const cidrs = validateCidrs(o.cidrs);
  if (o.ttlSeconds < 1) throw new UsageError('invalid --ttl: must be positive');
  if ((await listBatches(o)).some((b) => b.name === name)) {
    throw new UsageError(`failed to create batch ${name}: a batch with that name exists`, { hint: `choose another --name, or fleetvault factory batch revoke ${name}` });
  }
  let roleId: string | undefined;
  try {
    roleId = (await o.client.read<{ role_id?: string }>(`${base(o)}/role-id`)).data?.role_id;
  } catch (e) {
    throw failedTo(`read the role id of ${base(o)}`, e);
  }
  if (!roleId) throw new VaultError(`failed to read the role id of ${base(o)}: empty answer`, { path: `${base(o)}/role-id` });
  const now = o.now ?? new Date();
  let wrap;
  try {
    const r = await o.client.write(`${base(o)}/secret-id`, {
      // Copied onto every token this secret_id yields and logged in clear (audit_non_hmac): the
      // audit log can then tie each decrypt to its batch.
      metadata: JSON.stringify({ batch: name, count: String(o.count), created_by: await whoAmI(o.client), created_at: now.toISOString() }),
      cidr_list: cidrs,
      token_bound_cidrs: cidrs,
      num_uses: o.count,
      ttl: o.ttlSeconds,
    }, { wrapTtl: o.wrapTtl });
    wrap = r.wrap_info;
  } catch (e) {
    throw failedTo(`create batch ${name}`, e);
  }
  if (!wrap?.token) throw new VaultError(`failed to create batch ${name}: Vault did not wrap the secret_id`, { path: `${base(o)}/secret-id` });
  return {
    name,
    roleId,
    wrappingToken: wrap.token,
    count: o.count,
    cidrs,
    expiresAt: new Date(now.getTime() + o.ttlSeconds * 1000).toISOString(),
    wrapExpiresAt: new Date(Date.parse(wrap.creation_time) + wrap.ttl * 1000).toISOString(),
  };
}

/**
 * Unwrap a batch's wrapping token into its secret_id. Works once: Vault deletes the wrapping
 * token on unwrap. The token is looked up first (which does not consume it) so that a token
 * wrapping something other than a flasher secret_id is refused instead of opened.
 */
export async function unwrapSecretId(o: { client: VaultClient; wrappingToken: string; mount?: string; role?: string }): Promise<{ secretId: string; accessor?: string }> {
  const token = o.wrappingToken.trim();
  if (!token || /\s/.test(token)) throw new UsageError('failed to unwrap: the wrapping token is empty or malformed');
  try {
    const look = await o.client.write<{ creation_path?: string }>('sys/wrapping/lookup', { token }, { anonymous: true });
    const path = look.data?.creation_path ?? '';
    const want = o.mount && o.role ? `auth/${o.mount}/role/${o.role}/secret-id` : undefined;
    if (want ? path !== want : !/^auth\/.+\/role\/.+\/secret-id$/.test(path)) {
      throw new UsageError(`failed to unwrap: the token wraps ${path || 'something unknown'}, not ${want ?? 'an AppRole secret_id'}`, {
        hint: 'it was left unopened',
      });
    }
    const r = await o.client.write<{ secret_id?: string; secret_id_accessor?: string }>('sys/wrapping/unwrap', {}, { token });
    if (!r.data?.secret_id) throw new VaultError('failed to unwrap: no secret_id in the wrapped response', { path: 'sys/wrapping/unwrap' });
    return { secretId: r.data.secret_id, accessor: r.data.secret_id_accessor };
  } catch (e) {
    if (e instanceof VaultError && (e.status === 400 || e.status === 403)) {
      throw new VaultError(`failed to unwrap: ${e.errors.join('; ') || e.message}`, {
        path: e.path, status: e.status, errors: e.errors,
        hint: 'a wrapping token works once and expires after --wrap-ttl; if someone else unwrapped it, revoke the batch',
      });
    }
    throw failedTo('unwrap the batch token', e);
  }
}

export interface RevokedBatch {
  name: string;
  /** secret_ids destroyed (normally one). */
  destroyed: number;
  /** Outstanding login tokens revoked; null when the token lacks the rights to find them. */
  tokensRevoked: number | null;
}

/**
 * The kill switch: destroy the batch's secret_id (no further logins), then revoke tokens it
 * already yielded. Finding those needs `auth/token/accessors` (sudo); without it they still die
 * within token_ttl and after their single use, which is reported as tokensRevoked: null.
 */
export async function revokeBatch(o: BatchLocation & { name: string }): Promise<RevokedBatch> {
  const name = validateBatchName(o.name);
  const matches = (await listBatches(o)).filter((b) => b.name === name);
  if (!matches.length) {
    throw new UsageError(`failed to revoke batch ${name}: no such batch on ${base(o)}`, { hint: 'it may have expired, been used up or already been revoked' });
  }
  for (const m of matches) {
    try {
      await o.client.write(`${base(o)}/secret-id-accessor/destroy`, { secret_id_accessor: m.accessor }, { idempotent: true });
    } catch (e) {
      throw failedTo(`revoke batch ${name}`, e);
    }
  }
  return { name, destroyed: matches.length, tokensRevoked: await revokeBatchTokens(o.client, o.mount, o.role, name) };
}

async function revokeBatchTokens(client: VaultClient, mount: string, role: string, name: string): Promise<number | null> {
  let accessors: string[];
  try {
    accessors = await client.list('auth/token/accessors');
  } catch {
    return null;
  }
  let revoked = 0;
  for (const accessor of accessors) {
    try {
      const d = (await client.write<{ path?: string; meta?: Record<string, string> | null }>('auth/token/lookup-accessor', { accessor }, { idempotent: true })).data;
      if (d?.path !== `auth/${mount}/login` || d.meta?.batch !== name || d.meta?.role_name !== role) continue;
      await client.write('auth/token/revoke-accessor', { accessor }, { idempotent: true });
      revoked++;
    } catch {
      // A token that expired or was used up between list and lookup: already gone.
    }
  }
  return revoked;
}
