// The ProxyCommand behind `fleetvault ssh-config`: make sure ssh-agent holds a valid certificate
// for the principal this connection needs (sign one if not), then relay stdin/stdout to the
// device's SSH port. ssh itself then authenticates with the agent's certificate — plain
// `ssh root@<uuid>.balena` just works.
import { connect } from 'node:net';
import { DeviceError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { addToAgent, agentKeyTag, pruneScopedAgentCertificates, requireAgent, reusableAgentCertificate, sshKeyFingerprint } from './agent.js';
import { markInFlight } from './agent-in-flight.js';
import { generateEd25519KeyPair } from './keys.js';
import { signUserKey } from './sign.js';
import { validatePrincipal } from './principals.js';
import { scopePrincipal, type Scope } from '../access/principals.js';
import { signScoped } from '../access/sign.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EnsureAgentCertificateOptions {
  client: VaultClient;
  mount: string;
  role: string;
  user: string;
  /** A scoped certificate (device or fleet principal, via the scope's role) instead of `user` via `role`. */
  scope?: Scope;
  ttlSeconds?: number;
  reason?: string;
}

/** Returns true when a new certificate was signed, false when the agent already had one. */
export async function ensureAgentCertificate(o: EnsureAgentCertificateOptions): Promise<boolean> {
  requireAgent();
  const user = validatePrincipal(o.user);
  // Reuse needs exactly this connection's principal from the CA that signs now: device A's
  // certificate never stands in for device B's, nor a fleet's for a device's (pickReusable).
  const principal = o.scope ? scopePrincipal(o.scope) : user;
  // The certificate this connection will present is marked in flight (agent-in-flight.ts) until
  // this process — the relay, which lives as long as the connection — exits: a login running in
  // parallel must not prune it before ssh has authenticated with it.
  const reusable = await reusableAgentCertificate({ client: o.client, mount: o.mount, user: principal, extensions: ['permit-pty'], noCriticalOptions: !o.scope });
  if (reusable) { markInFlight(reusable.publicKeyFingerprint); return false; }
  // The comment names the principal: the agent may hold several fleetvault certificates at once
  // (one per device or fleet), and `ssh-add -l` tells them apart.
  const pair = generateEd25519KeyPair(`fleetvault-${principal}${agentKeyTag(o.client, o.mount)}`);
  markInFlight(sshKeyFingerprint(pair.publicKey));
  // ssh-config logins may be interactive: ask for permit-pty (the role's only allowed extension).
  const request = { client: o.client, mount: o.mount, publicKey: pair.publicKey, ttlSeconds: o.ttlSeconds, permitPty: true, reason: o.reason };
  // Scoped: the same signing `fleetvault ssh --scope` uses, so a refusal names the missing grant.
  const signed = o.scope ? await signScoped({ ...request, scope: o.scope }) : await signUserKey({ ...request, role: o.role, principals: [user] });
  const dir = mkdtempSync(join(tmpdir(), 'fleetvault-ssh-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  // The private key is on disk only while ssh-add reads it; a signal in that window (Ctrl-C while
  // ssh waits, or ssh giving up) removes it before the process goes.
  const signals = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, () => { cleanup(); process.exit(128 + (s === 'SIGHUP' ? 1 : s === 'SIGINT' ? 2 : 15)); }] as const);
  for (const [s, h] of signals) process.once(s, h);
  try {
    writeFileSync(join(dir, 'id_ed25519'), pair.privateKey, { mode: 0o600 });
    writeFileSync(join(dir, 'id_ed25519-cert.pub'), signed.certificate, { mode: 0o600 });
    await addToAgent(join(dir, 'id_ed25519'), (Date.parse(signed.info.validBefore) - Date.now()) / 1000, process.env, { certificateOnly: true });
    cleanup(); // the agent holds it now
    // One certificate per device (or fleet) would pile up until sshd's MaxAuthTries refuses the
    // next device before its certificate is offered: keep this one and the most recent other.
    if (o.scope) await pruneScopedAgentCertificates({ addedPublicKey: pair.publicKey, caFingerprint: signed.info.signingKeyFingerprint });
  } finally {
    cleanup();
    for (const [s, h] of signals) process.removeListener(s, h);
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
