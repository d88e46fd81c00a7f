// `fleetvault ca status`: which CAs each device trusts — coverage of the current CA and drift.
import type { DeviceTarget } from './devices-file.js';
import { parseConfigJson, trustedCas } from './config-json.js';
import type { SshAccess } from '../device/remote-config.js';
import { connectDevice, readDeviceConfig } from '../device/config-transfer.js';
import { adoptAddressPins, prepareKnownHosts } from '../device/known-hosts.js';
import { classifyCaScope, classifyDeviceScope, type LineScope } from './scoped.js';

export interface DeviceTrust {
  name: string;
  host: string;
  port: number;
  reachable: boolean;
  error?: string;
  trustsCurrent: boolean;
  /**
   * How the device is trusted: scoped when the current CA's lines name scoped principals only and
   * no CA (old or foreign included) has an unscoped line; unscoped otherwise (`scopeWhy` says why).
   */
  scope?: LineScope;
  scopeWhy?: string;
  /** How its lines of the current CA alone read (rotate's coverage of a scoped new CA). */
  currentScope?: LineScope;
  cas: { fingerprint: string; principals?: string; fleetvault: boolean }[];
}

export interface CaStatusReport {
  caFingerprint: string;
  total: number;
  trustingCurrent: number;
  unreachable: number;
  /** Devices trusting the current CA for scoped principals only, and for anything else. */
  scoped: number;
  unscoped: number;
  /** Fingerprints of other CAs seen on devices, with how many devices trust each. */
  otherCas: Record<string, number>;
  devices: DeviceTrust[];
}

export async function caStatus(o: { devices: DeviceTarget[]; caFingerprint: string; access: SshAccess; concurrency?: number; accessFor?: (t: DeviceTarget) => SshAccess }): Promise<CaStatusReport> {
  prepareKnownHosts(o.access.knownHostsFile);
  adoptAddressPins(o.access.knownHostsFile, o.devices);
  const results: DeviceTrust[] = new Array(o.devices.length);
  let next = 0;
  const worker = async () => {
    while (next < o.devices.length) {
      const i = next++;
      const t = o.devices[i]!;
      const base = { name: t.name, host: t.host, port: t.port };
      // Read-only: one login, no master connection, the supervisor left alone.
      const conn = connectDevice(t, o.accessFor?.(t) ?? o.access);
      const r = await readDeviceConfig(conn, t);
      if (!r.ok) { results[i] = { ...base, reachable: false, error: r.reason, trustsCurrent: false, cas: [] }; continue; }
      try {
        const cas = trustedCas(parseConfigJson(r.bytes, `${t.name}:${t.configPath}`).sshKeys).map(({ fingerprint, principals, fleetvault }) => ({ fingerprint, principals, fleetvault }));
        const currentScope = classifyCaScope(cas, o.caFingerprint, t);
        const { scope, why } = classifyDeviceScope(cas, o.caFingerprint, t);
        results[i] = { ...base, reachable: true, trustsCurrent: cas.some((c) => c.fingerprint === o.caFingerprint), ...(scope ? { scope, currentScope } : {}), ...(why ? { scopeWhy: why } : {}), cas };
      } catch (e) {
        results[i] = { ...base, reachable: true, error: (e as Error).message, trustsCurrent: false, cas: [] };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 16, o.devices.length) }, worker));
  const otherCas: Record<string, number> = {};
  for (const d of results) for (const c of d.cas) if (c.fingerprint !== o.caFingerprint) otherCas[c.fingerprint] = (otherCas[c.fingerprint] ?? 0) + 1;
  return {
    caFingerprint: o.caFingerprint, total: results.length, trustingCurrent: results.filter((d) => d.trustsCurrent).length,
    unreachable: results.filter((d) => !d.reachable).length,
    scoped: results.filter((d) => d.scope === 'scoped').length, unscoped: results.filter((d) => d.scope === 'unscoped').length, otherCas, devices: results,
  };
}
