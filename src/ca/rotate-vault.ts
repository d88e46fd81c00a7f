// The Vault side of a CA rotation: make a second CA without touching signing, switch signing to
// it, and retire the first. OpenBao ≥ 2.x keeps several SSH issuers per mount (issuers/import,
// config/issuers); HashiCorp Vault has one CA per mount, so there the new CA is a new mount.
import sshpk from 'sshpk';
import { VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { SSH_AUDIT_NON_HMAC_REQUEST, SSH_AUDIT_NON_HMAC_RESPONSE, sshRoleSettings } from '../vault/layout.js';
import { readCaPublicKey } from '../vault/bootstrap.js';
import { currentCaFingerprint } from '../ssh/agent.js';
import type { RotationCa, RotationServer, RotationStrategy } from './rotate-journal.js';

/**
 * Which server this is: sys/health's cluster_id. Needs no token and no policy (every persona can
 * read it), is the same on every node of an HA cluster, and differs between two servers even when
 * their mounts have the same names.
 */
export async function rotationServer(client: VaultClient): Promise<RotationServer> {
  let clusterId: string | undefined;
  try {
    clusterId = ((await client.health()) as { cluster_id?: string }).cluster_id;
  } catch (e) {
    throw failedTo(`identify the Vault server at ${client.address}`, e);
  }
  if (!clusterId) throw new VaultError(`failed to identify the Vault server at ${client.address}: sys/health reports no cluster_id (sealed or not initialised?)`, { path: 'sys/health', hint: 'unseal the server, then re-run' });
  return { clusterId, address: client.address };
}

/** The CA `mount` signs with now, from the unauthenticated `<mount>/public_key` (follows the default issuer). */
export async function signingCaFingerprint(client: VaultClient, mount: string): Promise<string | undefined> {
  try {
    return await currentCaFingerprint(client, mount);
  } catch (e) {
    if (e instanceof VaultError && (e.status === 400 || e.status === 404)) return undefined; // no such mount, or no CA
    throw failedTo(`read the CA public key of ${mount}`, e);
  }
}

function normaliseKey(key: string): { publicKey: string; fingerprint: string } {
  const parsed = sshpk.parseKey(key.trim(), 'ssh');
  return { publicKey: parsed.toString('ssh').split(' ').slice(0, 2).join(' '), fingerprint: parsed.fingerprint('sha256').toString() };
}

/**
 * OpenBao lists the mount's issuers (config/ca created one, "default"); Vault answers LIST on an
 * unknown path with 404, which the client turns into an empty list — so "no issuers" means Vault.
 */
export async function detectRotationStrategy(client: VaultClient, mount: string): Promise<RotationStrategy> {
  try {
    return (await client.list(`${mount}/issuers`)).length > 0 ? 'issuer' : 'mount';
  } catch (e) {
    throw failedTo(`detect whether ${mount} has SSH issuers`, e instanceof VaultError && e.status === 403
      ? new VaultError(e.message, { path: e.path, status: 403, hint: 'grant list on <mount>/issuers, or pass --strategy issuer|mount' })
      : e);
  }
}

export async function defaultIssuerId(client: VaultClient, mount: string): Promise<string> {
  try {
    const id = (await client.read<{ default?: string }>(`${mount}/config/issuers`)).data?.default;
    if (!id) throw new VaultError(`${mount} has no default issuer`, { path: `${mount}/config/issuers`, hint: 'run fleetvault init' });
    return id;
  } catch (e) {
    throw failedTo(`read the default issuer of ${mount}`, e);
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15); // 20260101-120000
}

export function plannedIssuerName(now: Date): string {
  return `fleetvault-${stamp(now)}`;
}

type IssuerData = { issuer_id: string; public_key: string };

/** OpenBao answers an unknown issuer reference with 400 "unable to find issuer", not 404. */
async function readIssuer(client: VaultClient, mount: string, ref: string): Promise<{ data: IssuerData } | null> {
  try {
    return await client.readOptional<IssuerData>(`${mount}/issuer/${ref}`);
  } catch (e) {
    if (e instanceof VaultError && e.status === 400 && /unable to find issuer/i.test(e.errors.join(' '))) return null;
    throw e;
  }
}

/**
 * A new issuer with its own ed25519 key generated inside OpenBao, not the default: signing is
 * untouched. Reuses an issuer of the planned name, so a prepare interrupted after the create resumes.
 */
export async function createIssuer(client: VaultClient, mount: string, name: string): Promise<RotationCa> {
  try {
    const have = await readIssuer(client, mount, name);
    const r = have ?? await client.write<IssuerData>(`${mount}/issuers/import/${name}`, {
      generate_signing_key: true, key_type: 'ed25519', set_default: false,
    });
    return { mount, issuerId: r.data.issuer_id, issuerName: name, ...normaliseKey(r.data.public_key) };
  } catch (e) {
    throw failedTo(`create a new SSH issuer on ${mount}`, e);
  }
}

/** `<mount>-<yyyymmdd>`, or with -2, -3 … when that is taken by something this rotation did not make. */
export async function plannedMountName(client: VaultClient, mount: string, now: Date): Promise<string> {
  const mounts = (await client.read<Record<string, unknown>>('sys/mounts')).data;
  const base = `${mount}-${now.toISOString().slice(0, 10).replace(/-/g, '')}`;
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    if (!mounts[`${name}/`]) return name;
  }
}

/** A new SSH mount with its own ed25519 CA and the same role settings as `fleetvault init` writes. */
export async function createMountCa(client: VaultClient, mount: string, role: string): Promise<RotationCa> {
  try {
    const mounts = (await client.read<Record<string, { type: string }>>('sys/mounts')).data;
    const have = mounts[`${mount}/`];
    if (have && have.type !== 'ssh') throw new VaultError(`mount ${mount}/ exists with type ${have.type}`, { path: `sys/mounts/${mount}` });
    if (!have) await client.write(`sys/mounts/${mount}`, { type: 'ssh', description: 'fleetvault SSH user CA for balenaOS devices (rotated)' });
    await client.write(`sys/mounts/${mount}/tune`, { audit_non_hmac_request_keys: SSH_AUDIT_NON_HMAC_REQUEST, audit_non_hmac_response_keys: SSH_AUDIT_NON_HMAC_RESPONSE });
    let key = await readCaPublicKey(client, mount);
    if (!key) {
      // Generated inside Vault: the private key never leaves it.
      const r = await client.write<{ public_key: string }>(`${mount}/config/ca`, { generate_signing_key: true, key_type: 'ed25519' });
      key = r.data?.public_key?.trim() || (await readCaPublicKey(client, mount));
    }
    if (!key) throw new VaultError(`${mount} returned no CA public key`, { path: `${mount}/config/ca` });
    await client.write(`${mount}/roles/${role}`, sshRoleSettings());
    return { mount, ...normaliseKey(key) };
  } catch (e) {
    throw failedTo(`create the new SSH mount ${mount}`, e);
  }
}

/**
 * Make `issuerId` the default issuer. A role pinned to a specific issuer would keep signing with
 * it, so such a role is re-pinned (read-modify-write: a role write replaces the whole role).
 * Returns the previous default so a failed verification can put it back.
 */
export async function switchDefaultIssuer(client: VaultClient, mount: string, role: string, issuerId: string): Promise<string> {
  const previous = await defaultIssuerId(client, mount);
  try {
    await client.write(`${mount}/config/issuers`, { default: issuerId });
    const r = (await client.readOptional<Record<string, unknown>>(`${mount}/roles/${role}`))?.data;
    if (r && r.issuer_ref && r.issuer_ref !== 'default' && r.issuer_ref !== issuerId) {
      await client.write(`${mount}/roles/${role}`, { ...r, issuer_ref: issuerId });
    }
  } catch (e) {
    throw failedTo(`switch the default issuer of ${mount}`, e);
  }
  return previous;
}

/**
 * Delete an issuer of this rotation (its private key is gone for good). Never the default one:
 * that would stop signing. Returns false when it was already gone.
 */
export async function deleteIssuer(client: VaultClient, mount: string, issuerId: string, what: string): Promise<boolean> {
  try {
    if (!(await readIssuer(client, mount, issuerId))) return false;
    if ((await defaultIssuerId(client, mount)) === issuerId) {
      throw new VaultError(`issuer ${issuerId} is the default issuer of ${mount}: deleting it would stop signing`, { path: `${mount}/config/issuers`, hint: 'check which CA the fleet trusts (fleetvault ca status) before changing issuers' });
    }
    await client.delete(`${mount}/issuer/${issuerId}`);
    return true;
  } catch (e) {
    throw failedTo(`delete the ${what} issuer ${issuerId} of ${mount}`, e);
  }
}

/** The issuer a prepare interrupted before it recorded the id may still have made, by its planned name. */
export async function findIssuerByName(client: VaultClient, mount: string, name: string): Promise<RotationCa | undefined> {
  try {
    const r = await readIssuer(client, mount, name);
    return r ? { mount, issuerId: r.data.issuer_id, issuerName: name, ...normaliseKey(r.data.public_key) } : undefined;
  } catch (e) {
    throw failedTo(`look up issuer ${name} of ${mount}`, e);
  }
}

/**
 * Unmount the SSH mount a mount-strategy prepare made — only when its CA is the one this rotation
 * recorded (or, when prepare stopped before recording one, when it has none): never someone
 * else's mount of the same name. Returns false when it was already gone.
 */
export async function deleteRotationMount(client: VaultClient, mount: string, expectFingerprint: string): Promise<boolean> {
  try {
    const mounts = (await client.read<Record<string, { type: string }>>('sys/mounts')).data;
    const have = mounts[`${mount}/`];
    if (!have) return false;
    const fp = have.type === 'ssh' ? await signingCaFingerprint(client, mount) : undefined;
    if (have.type !== 'ssh' || (fp ?? '') !== expectFingerprint) {
      throw new VaultError(`mount ${mount}/ is not the one this rotation made (type ${have.type}, CA ${fp ?? 'none'}); left in place`, { path: `sys/mounts/${mount}` });
    }
    await client.delete(`sys/mounts/${mount}`);
    return true;
  } catch (e) {
    throw failedTo(`remove the new SSH mount ${mount}`, e);
  }
}

export interface OtherRotationIssuer { issuerId: string; issuerName: string }

const ROTATION_ISSUER = /^fleetvault-(\d{8}-\d{6})$/;

/**
 * Issuers `ca rotate --stage prepare` made that no local journal knows: a rotation started from
 * another HOME (or machine), or one abandoned there. Only issuers NEWER than the default one count:
 * an older non-default fleetvault issuer is a previous rotation's retired CA, kept without
 * --delete-old-issuer, not a rotation in progress. Needs a token (LIST issuers); empty on
 * HashiCorp Vault, which has no issuers.
 */
export async function otherRotationIssuers(client: VaultClient, mount: string, known: Set<string>): Promise<OtherRotationIssuer[]> {
  try {
    const ids = await client.list(`${mount}/issuers`);
    if (!ids.length) return [];
    const def = (await client.readOptional<{ default?: string }>(`${mount}/config/issuers`))?.data?.default ?? '';
    const named: OtherRotationIssuer[] = [];
    for (const id of ids) {
      const name = (await readIssuer(client, mount, id) as { data: { issuer_name?: string } } | null)?.data?.issuer_name ?? '';
      named.push({ issuerId: id, issuerName: name });
    }
    const defStamp = ROTATION_ISSUER.exec(named.find((i) => i.issuerId === def)?.issuerName ?? '')?.[1] ?? '';
    return named.filter((i) => {
      const stamp = ROTATION_ISSUER.exec(i.issuerName)?.[1];
      // yyyymmdd-hhmmss sorts as text in time order.
      return stamp !== undefined && i.issuerId !== def && stamp > defStamp && !known.has(i.issuerId) && !known.has(i.issuerName);
    });
  } catch (e) {
    // HashiCorp Vault has no issuers API (404 is already an empty list; some versions answer 405).
    if (e instanceof VaultError && e.status === 405) return [];
    throw failedTo(`list the SSH issuers of ${mount}`, e);
  }
}
