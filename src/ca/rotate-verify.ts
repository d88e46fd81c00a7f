// Proof that signing switched: a fresh certificate from the live role must be signed by the new
// CA, and must log into devices. Same shape as the rollout's verification, run on its own because
// after distribute there is nothing left to write (rollout only verifies devices it changed).
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

export interface SwitchVerification {
  signingKeyFingerprint: string;
  devices: { name: string; ok: boolean; reason?: string }[];
}

export async function verifySigningCa(o: {
  client: VaultClient; mount: string; role: string; devices: DeviceTarget[]; access: SshAccess;
  concurrency?: number; timeoutMs?: number;
}): Promise<SwitchVerification> {
  prepareKnownHosts(o.access.knownHostsFile);
  let dir: string | undefined = mkdtempSync(join(tmpdir(), 'fleetvault-rotate-'));
  const cleanup = () => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; };
  // Ctrl-C mid-verification: the key and its certificate go at once.
  const guard = guardInterrupts(cleanup, 'ca rotate');
  try {
    return await Promise.race([verifyWith(o, dir), guard.interrupted]);
  } finally {
    guard.dispose();
    cleanup();
  }
}

async function verifyWith(o: Parameters<typeof verifySigningCa>[0], dir: string): Promise<SwitchVerification> {
  const pair = generateEd25519KeyPair('fleetvault-rotate-verify');
  const signed = await signUserKey({ client: o.client, mount: o.mount, role: o.role, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 900, reason: 'fleetvault ca rotate verification' });
  const key = join(dir, 'id_ed25519');
  writeFileSync(key, pair.privateKey, { mode: 0o600 });
  writeFileSync(`${key}-cert.pub`, signed.certificate, { mode: 0o600 });
  const access: SshAccess = { ...o.access, identity: key, certificate: `${key}-cert.pub`, strictHostKeyChecking: 'yes' };
  const results: SwitchVerification['devices'] = new Array(o.devices.length);
  let next = 0;
  const worker = async () => {
    while (next < o.devices.length) {
      const i = next++;
      const t = o.devices[i]!;
      const deadline = Date.now() + (o.timeoutMs ?? 20_000);
      for (;;) {
        const r = await sshExec(t, access, 'true', undefined, { timeoutMs: 15_000 });
        if (r.code === 0) { results[i] = { name: t.name, ok: true }; break; }
        if (Date.now() > deadline) { results[i] = { name: t.name, ok: false, reason: describeSshFailure(r) }; break; }
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 16, o.devices.length) }, worker));
  return { signingKeyFingerprint: signed.info.signingKeyFingerprint, devices: results };
}
