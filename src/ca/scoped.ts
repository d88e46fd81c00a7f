// Scoped CA lines on devices (`--scoped` on ca rollout, rotate, add-to-config, and ca status):
// each device trusts the CA for its own principals only — device-<uuid>,fleet-<org>.<fleet>,
// break-glass — instead of principals="root", so a certificate for one fleet opens that fleet.
// What a device's uuid and fleet are comes from balena (--fleet) or the devices file (fleet=, uuid=).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, VaultError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { generateEd25519KeyPair } from '../ssh/keys.js';
import { signScoped } from '../access/sign.js';
import { BREAK_GLASS_PRINCIPAL, DEVICE_PREFIX, FLEET_PREFIX, devicePrincipals, fleetPrincipal } from '../access/principals.js';
import { isScopedPrincipalList } from './config-json.js';
import type { DeviceTarget } from './devices-file.js';

/** The principals a device's scoped line names, or undefined when its fleet or uuid is unknown. */
export function scopedPrincipalsFor(t: Pick<DeviceTarget, 'fleet' | 'uuid'>): string[] | undefined {
  return t.fleet && t.uuid ? devicePrincipals({ uuid: t.uuid, fleet: t.fleet }) : undefined;
}

/**
 * --scoped needs every device's fleet and uuid: refuse before any device is touched, with how many
 * lack them (a fleet-wide run should not write half the fleet and then stop).
 */
export function requireScopedTargets(devices: DeviceTarget[], command: string): void {
  const lacking = devices.filter((t) => !scopedPrincipalsFor(t));
  if (!lacking.length) return;
  throw new UsageError(`${command} --scoped: ${lacking.length} of ${devices.length} device(s) have no known fleet and uuid (first: ${lacking[0]!.name}); no device was touched`, {
    hint: 'add fleet=<org>/<fleet> and uuid=<uuid> to their lines in the devices file, or name the devices with --fleet SLUG',
  });
}

/** A verification key and, per fleet, its certificate signed through that fleet's scope role. */
export interface ScopedVerifier { key: string; certs: Map<string, string>; signingKeyFingerprint?: string }

/**
 * One key pair, one short certificate per fleet of the run, signed before the first device is
 * written: a fleet without a grant stops the run while every device is still as it was. Vault
 * decides (the fleet's role exists only once granted, and only its grantees may use it); this only
 * words the refusal.
 */
export async function signFleetVerifiers(o: { client: VaultClient; mount: string; fleets: string[]; dir: string; command: string; reason: string }): Promise<ScopedVerifier> {
  const pair = generateEd25519KeyPair(`fleetvault-${o.command.replace(/\s+/g, '-')}-verify`);
  const key = join(o.dir, 'id_ed25519');
  writeFileSync(key, pair.privateKey, { mode: 0o600 });
  const certs = new Map<string, string>();
  let signingKeyFingerprint: string | undefined;
  for (const [i, slug] of [...new Set(o.fleets)].sort().entries()) {
    let cert: string;
    try {
      const signed = await signScoped({ client: o.client, mount: o.mount, scope: { kind: 'fleet', slug }, publicKey: pair.publicKey, ttlSeconds: 900, reason: o.reason });
      cert = signed.certificate;
      signingKeyFingerprint ??= signed.info.signingKeyFingerprint;
    } catch (e) {
      if (e instanceof VaultError && (e.status === 403 || e.status === 404)) {
        throw new VaultError(`${o.command} --scoped: Vault refused a verification certificate for fleet ${slug}: your identity has no grant for principal ${fleetPrincipal(slug)} on ${o.mount}; no device was touched`, {
          path: e.path, status: e.status, errors: e.errors, hint: `an administrator grants it: fleetvault access grant --fleet ${slug} --entity <your entity> | --group <your group>`,
        });
      }
      throw e;
    }
    const file = join(o.dir, `fleet-${i}-cert.pub`);
    writeFileSync(file, cert, { mode: 0o600 });
    certs.set(slug, file);
  }
  return { key, certs, signingKeyFingerprint };
}

export type LineScope = 'scoped' | 'unscoped';

/**
 * How a device trusts this CA: scoped when every line of the CA names scoped principals — exactly
 * the device's own set when its fleet and uuid are known, else device-/fleet- principals — and
 * unscoped when any line of it names anything else (`root`: any root certificate opens the
 * device). Undefined when the device does not trust the CA at all. A device mid-migration (both
 * lines) is unscoped: a root certificate still opens it.
 */
export function classifyCaScope(cas: { fingerprint: string; principals?: string }[], caFingerprint: string, t: Pick<DeviceTarget, 'fleet' | 'uuid'>): LineScope | undefined {
  const lines = cas.filter((c) => c.fingerprint === caFingerprint);
  if (!lines.length) return undefined;
  const want = scopedPrincipalsFor(t);
  const scoped = (p: string | undefined) => {
    if (!want) return isScopedPrincipalList(p);
    const names = (p ?? '').split(',').filter(Boolean);
    return names.length === want.length && want.every((w) => names.includes(w));
  };
  return lines.every((c) => scoped(c.principals)) ? 'scoped' : 'unscoped';
}

/**
 * How the device as a whole is trusted: scoped only when it trusts the current CA scoped and no
 * CA at all — an old or foreign one included — with an unscoped line (a root certificate of that
 * CA still opens it). `why` says what makes it unscoped.
 */
export function classifyDeviceScope(cas: { fingerprint: string; principals?: string }[], caFingerprint: string, t: Pick<DeviceTarget, 'fleet' | 'uuid'>): { scope?: LineScope; why?: string } {
  const current = classifyCaScope(cas, caFingerprint, t);
  if (!current) return {};
  if (current === 'unscoped') return { scope: 'unscoped', why: 'the current CA is trusted for other principals than this device\'s scoped set' };
  const other = [...new Set(cas.map((c) => c.fingerprint))].find((fp) => fp !== caFingerprint && classifyCaScope(cas, fp, t) === 'unscoped');
  return other ? { scope: 'unscoped', why: `also trusts CA ${other} for unscoped principals` } : { scope: 'scoped' };
}

/**
 * --principals never names scoped principals (device-…, fleet-…, break-glass): such a line would
 * skip what --scoped guarantees — the uuid check against each config.json and the refusal to turn
 * a scoped line into root trust — and could write another device's or fleet's principals.
 */
export function refuseScopedPrincipals(principals: string[], command: string): void {
  const bad = principals.find((p) => p.startsWith(DEVICE_PREFIX) || p.startsWith(FLEET_PREFIX) || p === BREAK_GLASS_PRINCIPAL);
  if (bad === undefined) return;
  throw new UsageError(`${command} --principals ${bad} refused: device-, fleet- and break-glass principals are written only by --scoped, which names each device's own set and checks its config.json uuid; nothing was changed`, {
    hint: 'use --scoped (with --device and --fleet for add-to-config) instead of --principals',
  });
}
