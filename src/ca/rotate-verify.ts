// Proof that signing switched, and the eyes of the retire stage: a fresh certificate from the live
// role, signed by the CA the fleet must trust now, and nothing else. Never the operator's own
// access: after a switch that may be an old-CA certificate in ssh-agent, which retire makes
// useless — checking with it reported failures that had not happened. So the key is passed with
// IdentitiesOnly=yes and IdentityAgent=none (remote-config's sshExec does that for an identity).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VaultClient } from '../vault/client.js';
import { generateEd25519KeyPair } from '../ssh/keys.js';
import { signUserKey } from '../ssh/sign.js';
import type { DeviceTarget } from './devices-file.js';
import { describeSshFailure, sshExec, type SshAccess } from '../device/remote-config.js';
import { prepareKnownHosts } from '../device/known-hosts.js';
import { guardInterrupts } from '../device/interrupt.js';
import { signFleetVerifiers } from './scoped.js';

export interface SwitchVerification {
  signingKeyFingerprint: string;
  devices: { name: string; ok: boolean; reason?: string }[];
}

export interface FreshAccess {
  /** Device access with only the fresh certificate: no agent, no ~/.ssh keys. */
  access: SshAccess;
  /** The CA that signed it: what the role signs with right now. */
  signingKeyFingerprint: string;
  /** The access for one device: with `fleets`, the certificate of that device's fleet. */
  accessFor: (t: DeviceTarget) => SshAccess;
}

/**
 * Run `fn` with a fresh 15-minute certificate from `mount`'s role; the key pair lives in a 0700 temp
 * dir that is removed however `fn` ends.
 */
export async function withFreshCertificate<T>(o: { client: VaultClient; mount: string; role: string; base: SshAccess; reason: string; fleets?: string[] }, fn: (f: FreshAccess) => Promise<T>): Promise<T> {
  prepareKnownHosts(o.base.knownHostsFile);
  let dir: string | undefined;
  const cleanup = () => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; };
  // Ctrl-C while signing or verifying: the key and its certificate go at once, not at exit.
  const guard = guardInterrupts(cleanup, 'ca rotate');
  try {
    if (o.fleets) {
      // --scoped: the devices trust no root certificate; one certificate per fleet, each signed
      // through that fleet's scope role (a fleet without a grant is refused by Vault here).
      dir = mkdtempSync(join(tmpdir(), 'fleetvault-rotate-'));
      const v = await Promise.race([signFleetVerifiers({ client: o.client, mount: o.mount, fleets: o.fleets, dir, command: 'ca rotate', reason: o.reason }), guard.interrupted]);
      const accessFor = (t: DeviceTarget): SshAccess => ({ ...o.base, identity: v.key, certificate: v.certs.get(t.fleet!)!, strictHostKeyChecking: 'yes' });
      const first = [...v.certs.values()][0];
      const access: SshAccess = { ...o.base, identity: v.key, certificate: first, strictHostKeyChecking: 'yes' };
      return await Promise.race([fn({ access, signingKeyFingerprint: v.signingKeyFingerprint ?? '', accessFor }), guard.interrupted]);
    }
    const pair = generateEd25519KeyPair('fleetvault-rotate-verify');
    const signed = await Promise.race([signUserKey({ client: o.client, mount: o.mount, role: o.role, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 900, reason: o.reason }), guard.interrupted]);
    dir = mkdtempSync(join(tmpdir(), 'fleetvault-rotate-'));
    const key = join(dir, 'id_ed25519');
    writeFileSync(key, pair.privateKey, { mode: 0o600 });
    writeFileSync(`${key}-cert.pub`, signed.certificate, { mode: 0o600 });
    const access: SshAccess = { ...o.base, identity: key, certificate: `${key}-cert.pub`, strictHostKeyChecking: 'yes' };
    return await Promise.race([fn({ access, signingKeyFingerprint: signed.info.signingKeyFingerprint, accessFor: () => access }), guard.interrupted]);
  } finally {
    guard.dispose();
    cleanup();
  }
}

export async function verifySigningCa(o: {
  client: VaultClient; mount: string; role: string; devices: DeviceTarget[]; access: SshAccess;
  concurrency?: number; timeoutMs?: number;
  /** --scoped: verify with a certificate for each device's fleet. */
  scoped?: boolean;
}): Promise<SwitchVerification> {
  const fleets = o.scoped ? o.devices.map((t) => t.fleet!) : undefined;
  return withFreshCertificate({ ...o, base: o.access, reason: 'fleetvault ca rotate verification', fleets }, async ({ accessFor, signingKeyFingerprint }) => {
    const results: SwitchVerification['devices'] = new Array(o.devices.length);
    let next = 0;
    const worker = async () => {
      while (next < o.devices.length) {
        const i = next++;
        const t = o.devices[i]!;
        const deadline = Date.now() + (o.timeoutMs ?? 20_000);
        for (;;) {
          const r = await sshExec(t, accessFor(t), 'true', undefined, { timeoutMs: 15_000 });
          if (r.code === 0) { results[i] = { name: t.name, ok: true }; break; }
          if (Date.now() > deadline) { results[i] = { name: t.name, ok: false, reason: describeSshFailure(r, { credential: o.scoped ? `fleet ${t.fleet} certificate` : 'root certificate' }) }; break; }
          await new Promise((res) => setTimeout(res, 1000));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 16, o.devices.length) }, worker));
    return { signingKeyFingerprint, devices: results };
  });
}
