// Bring any Vault/OpenBao the token can administer to the default layout (DESIGN.md), changing
// only what differs. Used by `fleetvault init`, `fleetvault dev` and the test harness, so the
// embedded default, a real deployment and the tests run against the same shape.
import type { LayoutSettings } from '../config.js';
import { VaultError, failedTo } from '../errors.js';
import type { VaultClient } from './client.js';
import {
  APPROLE_AUDIT_NON_HMAC_REQUEST, APPROLE_AUDIT_NON_HMAC_RESPONSE, APPROLE_USER_LOCKOUT, SSH_AUDIT_NON_HMAC_REQUEST, SSH_AUDIT_NON_HMAC_RESPONSE,
  TRANSIT_AUDIT_NON_HMAC_REQUEST, TRANSIT_AUDIT_NON_HMAC_RESPONSE, flasherRoleSettings, policyName, sshRoleSettings, transitKeySettings,
} from './layout.js';
import { allPolicies } from './policies.js';

export interface BootstrapChange {
  /** What kind of thing: mount, auth, tune, ssh-ca, ssh-role, transit-key, approle-role, policy. */
  kind: string;
  /** Its Vault path. */
  path: string;
  /** drift: found and NOT changed — a human must decide (e.g. an issuer fleetvault did not make). */
  action: 'created' | 'updated' | 'drift';
  /** For updates: the fields that differed. */
  fields?: string[];
  /** For drift: what is wrong and what to do, one line. */
  detail?: string;
}

export interface BootstrapOptions {
  client: VaultClient;
  layout: LayoutSettings;
  /** Factory source ranges for the flasher role; default: keep the role's, or loopback only. */
  factoryCidrs?: string[];
  /** Report what would change and change nothing. */
  dryRun?: boolean;
}

export interface BootstrapResult {
  changes: BootstrapChange[];
  /** CA public key (OpenSSH format) after the run. */
  caPublicKey?: string;
}

/** Vault stores a single-host CIDR without its suffix ("127.0.0.1/32" reads back as "127.0.0.1"). */
function normCidr(s: string): string {
  return s.replace(/\/32$/, '').replace(/\/128$/, '');
}

function norm(v: unknown): string {
  if (Array.isArray(v)) return JSON.stringify([...v].map((x) => normCidr(String(x))).sort());
  if (v && typeof v === 'object') {
    return JSON.stringify(Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))));
  }
  if (v === undefined || v === null) return '';
  return String(v);
}

/** Fields of `want` whose value differs in `have` (which may carry more fields). */
export function differingFields(want: Record<string, unknown>, have: Record<string, unknown> | undefined): string[] {
  if (!have) return Object.keys(want);
  return Object.keys(want).filter((k) => {
    // Empty list and empty string mean the same to Vault (e.g. allowed_critical_options).
    const w = norm(want[k]);
    const h = norm(have[k]);
    return w !== h && !(isEmpty(want[k]) && isEmpty(have[k]));
  });
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);
}

export async function bootstrapVault(opts: BootstrapOptions): Promise<BootstrapResult> {
  const { client, layout: l, dryRun } = opts;
  const changes: BootstrapChange[] = [];
  const apply = async (change: BootstrapChange, fn: () => Promise<unknown>) => {
    changes.push(change);
    if (!dryRun) {
      try { await fn(); } catch (e) { throw failedTo(`${change.action === 'created' ? 'create' : 'update'} ${change.path}`, e); }
    }
  };

  // --- secret engine and auth mounts -------------------------------------------------------
  const mounts = (await client.read<Record<string, { type: string; options?: Record<string, string> | null }>>('sys/mounts')).data;
  const wantMounts: [string, string, Record<string, unknown>][] = [
    [l.sshMount, 'ssh', { description: 'fleetvault SSH user CA for balenaOS devices' }],
    [l.transitMount, 'transit', { description: 'fleetvault provisioning envelopes' }],
    [l.kvMount, 'kv', { description: 'fleetvault settings (balena API key)', options: { version: '2' } }],
  ];
  for (const [path, type, extra] of wantMounts) {
    const have = mounts[`${path}/`];
    if (!have) {
      await apply({ kind: 'mount', path: `sys/mounts/${path}`, action: 'created' }, () => client.write(`sys/mounts/${path}`, { type, ...extra }));
    } else if (have.type !== type && !(type === 'kv' && have.type === 'kv-v2')) {
      throw new VaultError(`mount ${path}/ exists with type ${have.type}, expected ${type}`, {
        path: `sys/mounts/${path}`, hint: `choose another mount with --${type === 'kv' ? 'kv' : type}-mount`,
      });
    } else if (type === 'kv' && have.type === 'kv' && have.options?.version !== '2') {
      throw new VaultError(`mount ${path}/ is KV version 1; fleetvault needs KV version 2`, { path: `sys/mounts/${path}` });
    }
  }
  const auths = (await client.read<Record<string, { type: string }>>('sys/auth')).data;
  if (!auths[`${l.approleMount}/`]) {
    await apply({ kind: 'auth', path: `sys/auth/${l.approleMount}`, action: 'created' }, () =>
      client.write(`sys/auth/${l.approleMount}`, { type: 'approle', description: 'fleetvault factory flashers' }));
  } else if (auths[`${l.approleMount}/`]!.type !== 'approle') {
    throw new VaultError(`auth mount ${l.approleMount}/ is not approle`, { path: `sys/auth/${l.approleMount}` });
  }

  // --- audit visibility tuning ----------------------------------------------------------------
  const tunes: [string, Record<string, string[]>][] = [
    [`sys/mounts/${l.sshMount}/tune`, { audit_non_hmac_request_keys: SSH_AUDIT_NON_HMAC_REQUEST, audit_non_hmac_response_keys: SSH_AUDIT_NON_HMAC_RESPONSE }],
    [`sys/mounts/${l.transitMount}/tune`, { audit_non_hmac_request_keys: TRANSIT_AUDIT_NON_HMAC_REQUEST, audit_non_hmac_response_keys: TRANSIT_AUDIT_NON_HMAC_RESPONSE }],
    [`sys/auth/${l.approleMount}/tune`, { audit_non_hmac_request_keys: APPROLE_AUDIT_NON_HMAC_REQUEST, audit_non_hmac_response_keys: APPROLE_AUDIT_NON_HMAC_RESPONSE }],
  ];
  for (const [path, want] of tunes) {
    const have = dryRun && changes.some((c) => path.startsWith(c.path)) ? undefined : (await client.readOptional(path))?.data;
    const diff = differingFields(want, have);
    if (diff.length) await apply({ kind: 'tune', path, action: 'updated', fields: diff }, () => client.write(path, want));
  }

  // AppRole user lockout (see APPROLE_USER_LOCKOUT). Tune reads it back flat
  // (user_lockout_disable), and only once it has been set on the mount.
  const lockoutPath = `sys/auth/${l.approleMount}/tune`;
  const haveLockout = dryRun && changes.some((c) => c.path === `sys/auth/${l.approleMount}`) ? undefined : (await client.readOptional(lockoutPath))?.data;
  if (haveLockout?.user_lockout_disable !== APPROLE_USER_LOCKOUT.lockout_disable) {
    await apply({ kind: 'tune', path: lockoutPath, action: 'updated', fields: ['user_lockout_config'] }, () =>
      client.write(lockoutPath, { user_lockout_config: APPROLE_USER_LOCKOUT }));
  }

  // --- SSH CA and role ---------------------------------------------------------------------------
  let caPublicKey = await readCaPublicKey(client, l.sshMount);
  if (!caPublicKey) {
    await apply({ kind: 'ssh-ca', path: `${l.sshMount}/config/ca`, action: 'created' }, async () => {
      // Generated inside Vault: the private key never leaves it.
      const r = await client.write<{ public_key: string }>(`${l.sshMount}/config/ca`, { generate_signing_key: true, key_type: 'ed25519' });
      caPublicKey = r.data?.public_key?.trim() || (await readCaPublicKey(client, l.sshMount));
      await nameInitialIssuer(client, l.sshMount);
    });
  }
  // Issuers: report (never repair) one fleetvault did not generate, above all a default one.
  if (caPublicKey) {
    const { findIssuerDrift } = await import('./issuer-drift.js');
    for (const d of await findIssuerDrift(client, l.sshMount)) {
      changes.push({ kind: 'ssh-issuer', path: `${l.sshMount}/issuer/${d.issuerId}`, action: 'drift', detail: d.message });
    }
  }
  const rolePath = `${l.sshMount}/roles/${l.sshRole}`;
  const wantRole = sshRoleSettings();
  const haveRole = (await client.readOptional(rolePath))?.data;
  // A role read returns every field the server knows. One it leaves out is a field it does not
  // know (HashiCorp Vault 1.14 has no allow_empty_principals: it ignores the field on write, with
  // a warning), so writing it again would never converge and `init` would report a change on
  // every run. Such a field is not drift.
  const roleDiff = differingFields(wantRole, haveRole).filter((k) => !haveRole || k in haveRole);
  if (roleDiff.length) {
    await apply({ kind: 'ssh-role', path: rolePath, action: haveRole ? 'updated' : 'created', fields: haveRole ? roleDiff : undefined }, () => client.write(rolePath, wantRole));
  }

  // --- transit key -----------------------------------------------------------------------------
  const keyPath = `${l.transitMount}/keys/${l.transitKey}`;
  const wantKey = transitKeySettings();
  const haveKey = (await client.readOptional<Record<string, unknown>>(keyPath))?.data;
  if (!haveKey) {
    await apply({ kind: 'transit-key', path: keyPath, action: 'created' }, () => client.write(keyPath, { type: wantKey.type, derived: true, exportable: false }));
  } else {
    if (haveKey.derived !== true || haveKey.type !== wantKey.type) {
      throw new VaultError(`transit key ${keyPath} exists but is not a derived ${wantKey.type} key`, {
        path: keyPath, hint: 'choose another key name with --transit-key',
      });
    }
    if (haveKey.deletion_allowed !== false) {
      await apply({ kind: 'transit-key', path: `${keyPath}/config`, action: 'updated', fields: ['deletion_allowed'] }, () =>
        client.write(`${keyPath}/config`, { deletion_allowed: false }));
    }
    // Vault cannot take these back: once exportable or backup-able, the key may already be outside
    // Vault. Drift that needs a new key, never "updated".
    const leaky = (['exportable', 'allow_plaintext_backup'] as const).filter((f) => haveKey[f] !== false);
    if (leaky.length) {
      changes.push({
        kind: 'transit-key', path: keyPath, action: 'drift', fields: [...leaky],
        detail: `transit key ${keyPath} has ${leaky.map((f) => `${f}=true`).join(' and ')}, which Vault cannot undo: its key material may be outside Vault; create a new key (fleetvault init --transit-key <new name>), reseal the provisioning configs with it and delete this one`,
      });
    }
  }

  // --- policies ----------------------------------------------------------------------------------
  const policies = allPolicies(l);
  for (const [name, text] of Object.entries(policies)) {
    const path = `sys/policies/acl/${name}`;
    const have = (await client.readOptional<{ policy: string }>(path))?.data?.policy;
    if (have?.trim() !== text.trim()) {
      await apply({ kind: 'policy', path, action: have === undefined ? 'created' : 'updated' }, () => client.write(path, { policy: text }));
    }
  }

  // --- AppRole flasher -----------------------------------------------------------------------------
  const approlePath = `auth/${l.approleMount}/role/${l.approleRole}`;
  const haveApprole = dryRun && changes.some((c) => c.path === `sys/auth/${l.approleMount}`) ? undefined : (await client.readOptional(approlePath))?.data;
  const cidrs = opts.factoryCidrs ?? (haveApprole?.secret_id_bound_cidrs as string[] | undefined) ?? ['127.0.0.0/8'];
  const wantApprole = flasherRoleSettings(cidrs, policyName(l, 'flasher'));
  const approleDiff = differingFields(wantApprole, haveApprole);
  if (approleDiff.length) {
    await apply({ kind: 'approle-role', path: approlePath, action: haveApprole ? 'updated' : 'created', fields: haveApprole ? approleDiff : undefined }, () =>
      client.write(approlePath, wantApprole));
  }

  return { changes, caPublicKey };
}

/**
 * On OpenBao, config/ca makes an unnamed issuer — which is also what an import without a name
 * makes. Naming the one init just generated is what lets issuer-drift.ts tell them apart later.
 * HashiCorp Vault has no issuers (404/405): nothing to name.
 */
async function nameInitialIssuer(client: VaultClient, mount: string): Promise<void> {
  const { INITIAL_ISSUER_NAME } = await import('./issuer-drift.js');
  let def: string | undefined;
  try {
    def = (await client.readOptional<{ default?: string }>(`${mount}/config/issuers`))?.data?.default;
  } catch (e) {
    if (e instanceof VaultError && (e.status === 404 || e.status === 405)) return;
    throw e;
  }
  if (!def) return;
  await client.write(`${mount}/issuer/${def}`, { issuer_name: INITIAL_ISSUER_NAME });
}

/** The CA public key of an SSH mount, or undefined when the mount has no CA yet. */
export async function readCaPublicKey(client: VaultClient, mount: string): Promise<string | undefined> {
  try {
    const r = await client.read<{ public_key?: string }>(`${mount}/config/ca`);
    return r.data?.public_key?.trim() || undefined;
  } catch (e) {
    // "keys haven't been configured yet" is a 400 on Vault and OpenBao alike.
    if (e instanceof VaultError && (e.status === 400 || e.status === 404)) return undefined;
    throw e;
  }
}
