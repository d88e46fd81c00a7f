// Factory batches. A batch is its own AppRole role `<flasher>-<name>` with one secret_id: num_uses =
// the batch size and the flasher token has token_num_uses 1, so a batch of N allows exactly N
// decrypts. The secret_id is bound to the factory CIDRs for login (cidr_list) AND for every use of
// the tokens it yields (token_bound_cidrs): secret_id_bound_cidrs alone only gates the login.
//
// Fleets are enforced by Vault, not by this client: the batch role's only policy,
// `<prefix>-batch-<name>`, allows transit decrypt with the derived key's context (base64 of the
// fleet slug) limited to the batch's fleets, so a batch made for acme/a gets 403 on an acme/b
// envelope. Writing that policy is what makes batch creation fleetvault-admin's (whoever writes a
// policy can grant anything); operators list, reconcile and revoke batches.
//
// fleetvault stays stateless: the batch name lives in the secret_id's metadata, and revoke finds
// it again by listing the batch roles' secret_id accessors and looking each one up.
import { UsageError, VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { cidrsOutside, validateCidrs } from './cidr.js';
import { fleetContext, validateFleetSlug } from './envelope.js';
import { flasherRoleSettings } from '../vault/layout.js';

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
  /** The fleets whose envelopes this batch may decrypt (enforced by the batch policy). */
  fleets: string[];
  /** Where the envelopes' key lives, and the policy name prefix (`<prefix>-batch-<name>`). */
  transitMount: string;
  transitKey: string;
  policyPrefix: string;
  /** secret_id lifetime in seconds. */
  ttlSeconds: number;
  /** Response-wrapping TTL, Vault duration syntax ("24h"). */
  wrapTtl: string;
  now?: Date;
}

export interface CreatedBatch {
  name: string;
  /** The batch's own AppRole role and policy. */
  role: string;
  policy: string;
  fleets: string[];
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
  /** The AppRole role holding the batch's secret_id (`<flasher>-<name>`; older batches: the flasher role). */
  role: string;
  accessor: string;
  /** From the batch metadata: the fleets it may decrypt. */
  fleets?: string[];
  count?: number;
  usesLeft?: number;
  cidrs: string[];
  expiresAt?: string;
  /** From the batch metadata: who created it and when (reconcile counts registrations since). */
  createdAt?: string;
  createdBy?: string;
}

const validateCidrsOrEmpty = (l: string[]) => (l.length ? validateCidrs(l) : []);
const base = (o: BatchLocation) => `auth/${o.mount}/role/${o.role}`;
const roleBase = (o: BatchLocation, role: string) => `auth/${o.mount}/role/${role}`;

/** The AppRole role of batch `name`: `<flasher>-<name>`. */
export function batchRoleName(flasherRole: string, name: string): string {
  return `${flasherRole}-${name}`;
}

/** The Vault policy of batch `name`: `<prefix>-batch-<name>`. */
export function batchPolicyName(policyPrefix: string, name: string): string {
  return `${policyPrefix}-batch-${name}`;
}

/**
 * The batch's only right: decrypt with the provisioning key, for its fleets only. allowed_parameters
 * lists every parameter it may send — no batch_input (whose items carry their own contexts) and no
 * other context than the fleets'.
 */
export function batchPolicyText(o: { transitMount: string; transitKey: string; fleets: string[] }): string {
  const contexts = o.fleets.map((f) => JSON.stringify(fleetContext(f))).join(', ');
  return [
    `# fleetvault factory batch: decrypt provisioning envelopes of ${o.fleets.join(', ')} only.`,
    `path "${o.transitMount}/decrypt/${o.transitKey}" {`,
    '  capabilities = ["update"]',
    '  required_parameters = ["ciphertext", "context"]',
    '  allowed_parameters = {',
    '    "ciphertext" = []',
    `    "context" = [${contexts}]`,
    '  }',
    '}',
    '',
  ].join('\n');
}

async function whoAmI(client: VaultClient): Promise<string> {
  try {
    const r = await client.read<{ display_name?: string; entity_id?: string }>('auth/token/lookup-self');
    return r.data?.display_name || r.data?.entity_id || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The flasher role and every batch role `<flasher>-*` on the mount. */
async function batchRoles(o: BatchLocation): Promise<string[]> {
  let roles: string[];
  try {
    roles = await o.client.list(`auth/${o.mount}/role`);
  } catch (e) {
    throw failedTo(`list the AppRole roles of auth/${o.mount}`, e);
  }
  return roles.filter((r) => r === o.role || r.startsWith(`${o.role}-`));
}

/** Every secret_id of the flasher and batch roles that carries fleetvault batch metadata. */
export async function listBatches(o: BatchLocation): Promise<BatchInfo[]> {
  const out: BatchInfo[] = [];
  for (const role of await batchRoles(o)) {
    let accessors: string[];
    try {
      accessors = await o.client.list(`${roleBase(o, role)}/secret-id`);
    } catch (e) {
      throw failedTo(`list the secret_ids of ${roleBase(o, role)}`, e);
    }
    for (const accessor of accessors) {
      let d: Record<string, unknown> | undefined;
      try {
        d = (await o.client.write(`${roleBase(o, role)}/secret-id-accessor/lookup`, { secret_id_accessor: accessor }, { idempotent: true })).data;
      } catch (e) {
        // Expired between list and lookup: nothing to report or revoke.
        if (e instanceof VaultError && (e.status === 404 || e.status === 400)) continue;
        throw failedTo(`look up secret_id accessor of ${roleBase(o, role)}`, e);
      }
      const meta = (d?.metadata ?? {}) as Record<string, string>;
      if (!meta.batch) continue;
      out.push({
        name: meta.batch,
        role,
        accessor,
        fleets: meta.fleets ? meta.fleets.split(',').filter(Boolean) : undefined,
        count: meta.count === undefined ? undefined : Number(meta.count),
        usesLeft: typeof d?.secret_id_num_uses === 'number' ? d.secret_id_num_uses : undefined,
        cidrs: (d?.cidr_list as string[] | undefined) ?? [],
        expiresAt: typeof d?.expiration_time === 'string' && !d.expiration_time.startsWith('0001') ? d.expiration_time : undefined,
        createdAt: meta.created_at,
        createdBy: meta.created_by,
      });
    }
  }
  return out;
}

export async function createBatch(o: CreateBatchOptions): Promise<CreatedBatch> {
  const name = validateBatchName(o.name);
  if (!Number.isInteger(o.count) || o.count < 1) throw new UsageError(`invalid --count "${o.count}"`, { hint: 'a positive whole number of devices' });
  const cidrs = validateCidrs(o.cidrs);
  if (!(o.ttlSeconds >= 1)) throw new UsageError('invalid --ttl: must be positive');
  if (!o.fleets?.length) throw new UsageError(`failed to create batch ${name}: no --fleet given`, { hint: 'name the fleet(s) whose envelopes the batch may decrypt, e.g. --fleet myorg/myfleet' });
  const fleets = [...new Set(o.fleets.map(validateFleetSlug))];
  if ((await listBatches(o)).some((b) => b.name === name)) {
    throw new UsageError(`failed to create batch ${name}: a batch with that name exists`, { hint: `choose another --name, or fleetvault factory batch revoke ${name}` });
  }
  // The flasher role carries the factory ranges `init --factory-cidr` set: a batch gets a subset.
  // Vault checked this for secret_ids on the flasher role; a batch role is new, so check here.
  let factory: string[] = [];
  try {
    // Vault stores a single host without its suffix ("127.0.0.1"): validateCidrs makes it a /32 again.
    factory = validateCidrsOrEmpty((await o.client.read<{ secret_id_bound_cidrs?: string[] }>(base(o))).data?.secret_id_bound_cidrs ?? []);
  } catch (e) {
    if (e instanceof VaultError && e.status === 404) {
      throw new VaultError(`failed to create batch ${name}: ${base(o)} does not exist`, { path: base(o), status: 404, hint: 'run fleetvault init (it creates the flasher role with the factory ranges)' });
    }
    throw failedTo(`read the factory ranges of ${base(o)}`, e);
  }
  const outside = cidrsOutside(cidrs, factory);
  if (outside.length) {
    throw new UsageError(`failed to create batch ${name}: --cidr ${outside.join(', ')} is outside the factory ranges ${factory.join(', ')} of ${base(o)}`, {
      hint: 'pick a range inside them, or widen them with fleetvault init --factory-cidr',
    });
  }
  const role = batchRoleName(o.role, name);
  const policy = batchPolicyName(o.policyPrefix, name);
  const rolePath = roleBase(o, role);
  const now = o.now ?? new Date();
  const denied = (e: unknown) => e instanceof VaultError && e.status === 403
    ? new VaultError(`failed to create batch ${name}: permission denied on ${e.path}`, {
      path: e.path, status: 403, errors: e.errors,
      hint: 'creating a batch writes its own policy and AppRole role: use a token with the fleetvault-admin policy',
    })
    : failedTo(`create batch ${name}`, e);
  let roleId: string | undefined;
  let wrap;
  try {
    await o.client.write(`sys/policies/acl/${policy}`, { policy: batchPolicyText({ transitMount: o.transitMount, transitKey: o.transitKey, fleets }) });
    await o.client.write(rolePath, {
      ...flasherRoleSettings(cidrs, policy),
      // The role caps its own secret_ids, so even a token that may mint more on it cannot exceed
      // the batch: no unlimited (0) or longer-lived secret_id than the batch's.
      secret_id_num_uses: o.count,
      secret_id_ttl: o.ttlSeconds,
    });
    roleId = (await o.client.read<{ role_id?: string }>(`${rolePath}/role-id`)).data?.role_id;
    if (!roleId) throw new VaultError(`failed to read the role id of ${rolePath}: empty answer`, { path: `${rolePath}/role-id` });
    const r = await o.client.write(`${rolePath}/secret-id`, {
      // Copied onto every token this secret_id yields and logged in clear (audit_non_hmac): the
      // audit log can then tie each decrypt to its batch.
      metadata: JSON.stringify({ batch: name, count: String(o.count), fleets: fleets.join(','), created_by: await whoAmI(o.client), created_at: now.toISOString() }),
      cidr_list: cidrs,
      token_bound_cidrs: cidrs,
      num_uses: o.count,
      ttl: o.ttlSeconds,
    }, { wrapTtl: o.wrapTtl });
    wrap = r.wrap_info;
  } catch (e) {
    // Leave nothing half-made behind: a role without its secret_id, or a policy without its role.
    await o.client.delete(rolePath).catch(() => {});
    await o.client.delete(`sys/policies/acl/${policy}`).catch(() => {});
    throw denied(e);
  }
  if (!wrap?.token) throw new VaultError(`failed to create batch ${name}: Vault did not wrap the secret_id`, { path: `${rolePath}/secret-id` });
  return {
    name,
    role,
    policy,
    fleets,
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
    // The flasher role or one of its batch roles `<flasher>-<name>`.
    const want = o.mount && o.role ? `auth/${o.mount}/role/${o.role}[-<batch>]/secret-id` : undefined;
    const ok = o.mount && o.role
      ? path === `auth/${o.mount}/role/${o.role}/secret-id` || (path.startsWith(`auth/${o.mount}/role/${o.role}-`) && /^[^/]+\/secret-id$/.test(path.slice(`auth/${o.mount}/role/`.length)))
      : /^auth\/.+\/role\/.+\/secret-id$/.test(path);
    if (!ok) {
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
export async function revokeBatch(o: BatchLocation & { name: string; policyPrefix?: string }): Promise<RevokedBatch> {
  const name = validateBatchName(o.name);
  const matches = (await listBatches(o)).filter((b) => b.name === name);
  if (!matches.length) {
    throw new UsageError(`failed to revoke batch ${name}: no such batch on auth/${o.mount}`, { hint: 'it may have expired, been used up or already been revoked' });
  }
  for (const m of matches) {
    try {
      await o.client.write(`${roleBase(o, m.role)}/secret-id-accessor/destroy`, { secret_id_accessor: m.accessor }, { idempotent: true });
    } catch (e) {
      throw failedTo(`revoke batch ${name}`, e);
    }
  }
  let tokensRevoked: number | null = 0;
  for (const role of new Set(matches.map((m) => m.role))) {
    const n = await revokeBatchTokens(o.client, o.mount, role, name);
    tokensRevoked = n === null || tokensRevoked === null ? null : tokensRevoked + n;
  }
  // The batch role and policy are harmless without a secret_id; removing them needs
  // fleetvault-admin, so an operator's revoke leaves them (the kill switch is the destroy above).
  for (const role of new Set(matches.map((m) => m.role).filter((r) => r !== o.role))) {
    await o.client.delete(roleBase(o, role)).catch(() => {});
    if (o.policyPrefix) await o.client.delete(`sys/policies/acl/${batchPolicyName(o.policyPrefix, name)}`).catch(() => {});
  }
  return { name, destroyed: matches.length, tokensRevoked };
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
