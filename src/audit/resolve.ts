// `fleetvault audit resolve <value>`: find the records that carry a known value Vault only logged
// as an HMAC (a ciphertext, a public key, a token accessor). sys/audit-hash/<device> computes the
// HMAC with that device's own key — every device has its own, so the value is hashed with the
// device that wrote the log (matched by file_path), or with every device when none matches.
// Certificate serials are logged in clear by the fleetvault layout; they match directly too.
import { realpathSync } from 'node:fs';
import { VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import type { AuditEvent } from './events.js';

export interface AuditDevice { path: string; type: string; filePath?: string }

export interface AuditHash { device: string; hash: string }

export async function listAuditDevices(client: VaultClient): Promise<AuditDevice[]> {
  let body: Record<string, unknown>;
  try {
    body = (await client.read('sys/audit')) as unknown as Record<string, unknown>;
  } catch (e) {
    throw failedTo('list the audit devices', e);
  }
  // Vault answers with the devices both at the top level and under "data".
  const table = (body.data && typeof body.data === 'object' ? body.data : body) as Record<string, unknown>;
  const devices: AuditDevice[] = [];
  for (const [key, v] of Object.entries(table)) {
    if (!v || typeof v !== 'object' || !('type' in v)) continue;
    const d = v as { type: string; path?: string; options?: { file_path?: string } | null };
    devices.push({ path: (d.path ?? key).replace(/\/+$/, ''), type: d.type, filePath: d.options?.file_path });
  }
  return devices;
}

function samePath(a: string, b: string): boolean {
  try { return realpathSync(a) === realpathSync(b); } catch { return a === b; }
}

/** HMACs of value under the audit device(s) that wrote logFiles. */
export async function hashForAudit(o: { client: VaultClient; value: string; logFiles: string[]; device?: string }): Promise<AuditHash[]> {
  let paths: string[];
  if (o.device) paths = [o.device.replace(/\/+$/, '')];
  else {
    const devices = await listAuditDevices(o.client);
    if (devices.length === 0) {
      throw new VaultError('no audit devices are enabled', { path: 'sys/audit', hint: 'declare a file audit device in the server configuration' });
    }
    const mine = devices.filter((d) => d.filePath && o.logFiles.some((f) => samePath(f, d.filePath!)));
    paths = (mine.length ? mine : devices).map((d) => d.path);
  }
  const out: AuditHash[] = [];
  for (const device of paths) {
    try {
      const r = await o.client.write<{ hash: string }>(`sys/audit-hash/${device}`, { input: o.value });
      if (r.data?.hash) out.push({ device, hash: r.data.hash });
    } catch (e) {
      throw failedTo(`hash the value with audit device ${device}`, e);
    }
  }
  return out;
}

/** Strings whose presence in a raw record means it carries the value (HMAC'd or, for serials, in clear). */
export function matchStringsFor(value: string, hashes: AuditHash[]): string[] {
  const m = hashes.map((h) => h.hash);
  const v = value.trim();
  let hex: string | undefined;
  if (/^\d+$/.test(v) && v.length <= 40) hex = BigInt(v).toString(16);
  else if (/^(0x)?[0-9a-f]+$/i.test(v) && v.length <= 42) hex = v.replace(/^0x/i, '').toLowerCase().replace(/^0+(?=.)/, '');
  if (hex) {
    m.push(`"serial_number":"${hex}"`);
    if (hex.length < 16) m.push(`"serial_number":"${hex.padStart(16, '0')}"`);
  }
  return m;
}

/**
 * `audit resolve` asks sys/audit-hash/<device> to hash the value, and Vault logs that request with
 * the value HMAC'd by the very same key: every lookup (this one and earlier ones) matches itself.
 * Those are hash lookups, not uses of the value; the command counts them apart.
 */
export function isAuditHashLookup(e: AuditEvent): boolean {
  return /(^|\/)sys\/audit-hash(\/|$)/.test(e.path);
}
