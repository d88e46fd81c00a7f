// The ProxyCommand behind `fleetvault ssh-config`: make sure ssh-agent holds a valid certificate
// for the user (sign one if not), then relay stdin/stdout to the device's SSH port. ssh itself
// then authenticates with the agent's certificate — plain `ssh root@<uuid>.balena` just works.
import { connect } from 'node:net';
import { DeviceError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { addToAgent, requireAgent, reusableAgentCertificate } from './agent.js';
import { generateEd25519KeyPair } from './keys.js';
import { signUserKey } from './sign.js';
import { validatePrincipal } from './principals.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EnsureAgentCertificateOptions {
  client: VaultClient;
  mount: string;
  role: string;
  user: string;
  ttlSeconds?: number;
  reason?: string;
}

/** Returns true when a new certificate was signed, false when the agent already had one. */
export async function ensureAgentCertificate(o: EnsureAgentCertificateOptions): Promise<boolean> {
  requireAgent();
  const user = validatePrincipal(o.user);
  if (await reusableAgentCertificate({ client: o.client, mount: o.mount, user })) return false;
  const pair = generateEd25519KeyPair(`fleetvault-${user}`);
  // ssh-config logins may be interactive: ask for permit-pty (the role's only allowed extension).
  const signed = await signUserKey({ client: o.client, mount: o.mount, role: o.role, publicKey: pair.publicKey, principals: [user], ttlSeconds: o.ttlSeconds, permitPty: true, reason: o.reason });
  const dir = mkdtempSync(join(tmpdir(), 'fleetvault-ssh-'));
  try {
    writeFileSync(join(dir, 'id_ed25519'), pair.privateKey, { mode: 0o600 });
    writeFileSync(join(dir, 'id_ed25519-cert.pub'), signed.certificate, { mode: 0o600 });
    await addToAgent(join(dir, 'id_ed25519'), (Date.parse(signed.info.validBefore) - Date.now()) / 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return true;
}

/** Pipe stdin/stdout to host:port until either side closes. */
export function relay(host: string, port: number, stdin: NodeJS.ReadableStream = process.stdin, stdout: NodeJS.WritableStream = process.stdout): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    sock.once('connect', () => {
      stdin.pipe(sock);
      sock.pipe(stdout);
    });
    sock.once('error', (e) => reject(new DeviceError(`cannot reach ${host}:${port} (${(e as NodeJS.ErrnoException).code ?? e.message})`, { device: host })));
    sock.once('close', () => resolve());
  });
}
