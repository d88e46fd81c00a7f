// ssh-agent through the system ssh-add: sshpk-agent cannot add ed25519 certificates, and
// ssh-add is what users already trust. Certificates are added with a lifetime equal to their
// remaining validity, so the agent forgets them when they stop working.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';
import { describeCertificate, parseCertificate, type CertificateInfo } from './certificate.js';

const run = promisify(execFile);

export function requireAgent(env: NodeJS.ProcessEnv = process.env): string {
  const sock = env.SSH_AUTH_SOCK;
  if (!sock) throw new UsageError('--agent needs a running ssh-agent, but SSH_AUTH_SOCK is not set', { hint: 'run eval "$(ssh-agent)" first' });
  return sock;
}

/** Certificates currently held by the agent (its other keys are ignored). */
export async function agentCertificates(env: NodeJS.ProcessEnv = process.env): Promise<CertificateInfo[]> {
  let out = '';
  try {
    out = (await run('ssh-add', ['-L'], { env })).stdout;
  } catch (e) {
    // Exit 1 with "The agent has no identities." is an empty agent, not a failure.
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (err.code === 1) return [];
    throw new UsageError(`failed to list ssh-agent identities: ${(err.stderr ?? String(e)).trim().split('\n')[0]}`);
  }
  const certs: CertificateInfo[] = [];
  for (const line of out.split('\n')) {
    if (!/-cert-v01@openssh\.com /.test(line)) continue;
    try { certs.push(describeCertificate(parseCertificate(line))); } catch { /* not ours to judge */ }
  }
  return certs;
}

/**
 * A certificate in the agent that will still be valid for `minValidSeconds`, for `user`, signed
 * by the CA with this fingerprint. Reusing it avoids a new sign request (and a new audit entry).
 */
export async function findReusableCertificate(o: { user: string; caFingerprint?: string; minValidSeconds?: number; env?: NodeJS.ProcessEnv }): Promise<CertificateInfo | undefined> {
  const now = Date.now();
  const certs = await agentCertificates(o.env);
  return certs.find((c) => c.type === 'user' && c.principals.includes(o.user) &&
    (!o.caFingerprint || c.signingKeyFingerprint === o.caFingerprint) &&
    Date.parse(c.validAfter) <= now + 30_000 &&
    Date.parse(c.validBefore) - now >= (o.minValidSeconds ?? 60) * 1000);
}

/** Add a private key (and the <key>-cert.pub beside it) for `lifetimeSeconds`. */
export async function addToAgent(keyPath: string, lifetimeSeconds: number, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    await run('ssh-add', ['-q', '-t', String(Math.max(1, Math.floor(lifetimeSeconds))), keyPath], { env });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new UsageError(`failed to add the certificate to ssh-agent: ${(err.stderr ?? String(e)).trim().split('\n')[0]}`);
  }
}
