// ssh-agent through the system ssh-add: sshpk-agent cannot add ed25519 certificates, and
// ssh-add is what users already trust. Certificates are added with a lifetime equal to their
// remaining validity, so the agent forgets them when they stop working.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';
import { BREAK_GLASS_PRINCIPAL, DEVICE_PREFIX, FLEET_PREFIX } from '../access/principals.js';
import type { VaultClient } from '../vault/client.js';
import { describeCertificate, type CertificateInfo } from './certificate.js';
import { parseCertificateLine } from './openssh-wire.js';
import { certificatesInFlight } from './agent-in-flight.js';

const run = promisify(execFile);

export function requireAgent(env: NodeJS.ProcessEnv = process.env): string {
  const sock = env.SSH_AUTH_SOCK;
  if (!sock) throw new UsageError('--agent needs a running ssh-agent, but SSH_AUTH_SOCK is not set', { hint: 'run eval "$(ssh-agent)" first' });
  return sock;
}

/** A certificate as the agent lists it: parsed, plus its line and comment (to remove it again). */
export interface AgentCertificate { info: CertificateInfo; line: string; comment: string; subjectKeyLine: string }

/** Certificates currently held by the agent (its other keys are ignored). */
export async function agentCertificates(env: NodeJS.ProcessEnv = process.env): Promise<CertificateInfo[]> {
  return (await listAgentCertificates(env)).map((c) => c.info);
}

async function listAgentCertificates(env: NodeJS.ProcessEnv): Promise<AgentCertificate[]> {
  let out = '';
  try {
    out = (await run('ssh-add', ['-L'], { env })).stdout;
  } catch (e) {
    // Exit 1 with "The agent has no identities." is an empty agent, not a failure.
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (err.code === 1) return [];
    throw new UsageError(`failed to list ssh-agent identities: ${(err.stderr ?? String(e)).trim().split('\n')[0]}`);
  }
  const certs: AgentCertificate[] = [];
  for (const line of out.split('\n')) {
    if (!/-cert-v01@openssh\.com /.test(line)) continue;
    try {
      // The wire parser, not sshpk: this is the reuse path, which must stay cheaper than a fresh login.
      const cert = parseCertificateLine(line);
      const subjectKeyLine = `${cert.certType.replace('-cert-v01@openssh.com', '')} ${cert.subjectBlob.toString('base64')}`;
      certs.push({ info: describeCertificate(cert), line: line.trim(), comment: line.trim().split(' ').slice(2).join(' '), subjectKeyLine });
    } catch { /* not ours to judge */ }
  }
  return certs;
}

/** `SHA256:…` of an OpenSSH public key line, as ssh-keygen -l prints it (no sshpk needed). */
export function sshKeyFingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The CA the mount signs with now. `<mount>/public_key` is unauthenticated in Vault and OpenBao
 * (it is what devices are told to trust) and answers with the key as plain text; it follows the
 * default issuer on OpenBao, so it changes at a rotation's switch.
 */
export async function currentCaFingerprint(client: VaultClient, mount: string): Promise<string | undefined> {
  const body = await client.read(`${mount}/public_key`, { anonymous: true }) as unknown;
  return typeof body === 'string' && /^ssh-/.test(body.trim()) ? sshKeyFingerprint(body) : undefined;
}

/** fleetvault names every key pair it puts into the agent fleetvault-<user>[@host][~<server tag>]. */
const OURS = /^fleetvault-/;

/**
 * Which server and mount signed an agent entry, as a comment suffix: `~` + 8 hex digits of
 * sha256(address, mount). Only the signing server's own entries are its to call stale — another
 * server's certificate (`--context staging` beside prod) is from "another CA" too, but not a
 * rotation's leftover.
 */
export function agentKeyTag(client: VaultClient, mount: string): string {
  return '~' + createHash('sha256').update(`${client.address.replace(/\/+$/, '')}\0${mount}`).digest('hex').slice(0, 8);
}
const tagOf = (comment: string) => /(~[0-9a-f]{8})$/.exec(comment)?.[1];

/**
 * The agent's certificate for `user` if the server still signs with its CA, else undefined after
 * removing fleetvault's stale certificates for `user` (a rotation's old CA: devices refuse them, and
 * ssh would offer them first). Cheap on purpose: one `ssh-add -L` and one unauthenticated read,
 * side by side; no Vault write, no key generation, no temp file. When the current CA cannot be
 * read nothing is reused: the caller signs, and that request reports the real problem.
 */
export async function reusableAgentCertificate(o: { client: VaultClient; mount: string; user: string; minValidSeconds?: number; extensions?: string[]; noCriticalOptions?: boolean; env?: NodeJS.ProcessEnv }): Promise<CertificateInfo | undefined> {
  const env = o.env ?? process.env;
  const [certs, ca] = await Promise.all([listAgentCertificates(env), currentCaFingerprint(o.client, o.mount).catch(() => undefined)]);
  if (!ca) return undefined;
  const reusable = pickReusable(certs.map((c) => c.info), { user: o.user, caFingerprint: ca, minValidSeconds: o.minValidSeconds, extensions: o.extensions, noCriticalOptions: o.noCriticalOptions });
  if (reusable) return reusable;
  // Also fleetvault's certificates for `user` that lack an extension this login needs: ssh offers
  // them before the new one, sshd accepts the first that authenticates, and its limits then apply.
  const lacks = (c: AgentCertificate) => !(o.extensions ?? []).every((e) => c.info.extensions.includes(e));
  // Untagged entries (older fleetvault) count as this server's, as before.
  const tag = agentKeyTag(o.client, o.mount);
  const thisServer = (c: AgentCertificate) => { const t = tagOf(c.comment); return t === undefined || t === tag; };
  // Never one a concurrent login is presenting right now (agent-in-flight.ts).
  const inFlight = certificatesInFlight(env);
  const stale = certs.filter((c) => OURS.test(c.comment) && thisServer(c) && c.info.principals.includes(o.user) && (c.info.signingKeyFingerprint !== ca || lacks(c)) && !inFlight.has(c.info.publicKeyFingerprint));
  if (stale.length) await removeFromAgent(stale.flatMap((c) => [c.line, c.subjectKeyLine]), env);
  return undefined;
}

/**
 * Best effort: a key the agent already dropped (its lifetime ran out) is no reason to fail a login.
 * `ssh-add -d <file>` with one public key line per file, in a fresh 0700 temp dir that is removed
 * on every path (the 'exit' backstop covers a caller's signal handler exiting mid-way): only paths
 * in argv, never key material, and no reliance on `ssh-add -d -` reading stdin.
 */
async function removeFromAgent(keyLines: string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (!keyLines.length) return;
  const dir = mkdtempSync(join(tmpdir(), 'fleetvault-agent-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  try {
    const files = keyLines.map((line, i) => {
      const f = join(dir, `${i}.pub`);
      writeFileSync(f, line.trim() + '\n', { mode: 0o600 });
      return f;
    });
    await new Promise<void>((resolve) => { execFile('ssh-add', ['-q', '-d', ...files], { env }, () => resolve()); });
  } finally {
    cleanup();
    process.removeListener('exit', cleanup);
  }
}

/**
 * Scoped certificates fleetvault keeps in the agent besides the one it has just added. ssh offers
 * every agent identity in turn, each fleetvault entry is one (the certificate: addToAgent drops the
 * plain key) and ssh-agent appends new keys at the end; sshd disconnects at its MaxAuthTries'th
 * failure (default 6). With up to four of the user's own keys ahead of them, 4 (user) + 1 (the other
 * kept certificate) = 5 failures, and the new certificate is the 6th offer: accepted. Keeping one
 * other lets an engineer go back and forth between two devices without a new signature each time.
 */
export const KEEP_OTHER_SCOPED_CERTIFICATES = 1;

/** Every principal is a scoped one (device-…, fleet-…, break-glass): never a user's own login. */
function isScoped(principals: string[]): boolean {
  return principals.length > 0 && principals.every((p) => p.startsWith(DEVICE_PREFIX) || p.startsWith(FLEET_PREFIX) || p === BREAK_GLASS_PRINCIPAL);
}

const keyBlob = (line: string) => line.trim().split(/\s+/)[1] ?? '';

/**
 * Which of the agent's certificates (in the agent's order, oldest first) to remove after adding
 * the scoped key `addedPublicKey`: fleetvault's (comment fleetvault-…) scoped certificates other
 * than the new one that are expired or from the current CA — all expired ones, and all but the
 * `keep` most recently added current ones. A certificate of another CA that has not expired
 * (mid-rotation), one a concurrent login is presenting (`inFlight`) and anything not fleetvault's —
 * the user's own keys and certificates — stay.
 */
export function scopedCertificatesToPrune(certs: AgentCertificate[], o: { addedPublicKey: string; caFingerprint: string; keep?: number; now?: number; inFlight?: Set<string> }): AgentCertificate[] {
  const now = o.now ?? Date.now();
  const added = keyBlob(o.addedPublicKey);
  // What concurrent logins are presenting right now stays (agent-in-flight.ts); it counts
  // towards nothing, so the bound is back once they have authenticated.
  const ours = certs.filter((c) => OURS.test(c.comment) && isScoped(c.info.principals) && keyBlob(c.subjectKeyLine) !== added && !o.inFlight?.has(c.info.publicKeyFingerprint));
  const expired = ours.filter((c) => Date.parse(c.info.validBefore) <= now);
  const current = ours.filter((c) => Date.parse(c.info.validBefore) > now && c.info.signingKeyFingerprint === o.caFingerprint);
  const keep = Math.max(0, o.keep ?? KEEP_OTHER_SCOPED_CERTIFICATES);
  return [...expired, ...current.slice(0, Math.max(0, current.length - keep))];
}

/**
 * After adding a scoped certificate: remove the other fleetvault scoped certificates (and their
 * keys) beyond the bound, so the next device still sees its certificate within MaxAuthTries. On
 * the signing path only — one `ssh-add -L`, and one `ssh-add -d` when there is something to remove;
 * the reuse path never gets here. ssh-add cannot put the new key first (the agent appends), so the
 * bound is what keeps it early. Best effort: any failure leaves the agent as it is.
 */
export async function pruneScopedAgentCertificates(o: { addedPublicKey: string; caFingerprint: string; keep?: number; env?: NodeJS.ProcessEnv }): Promise<number> {
  const env = o.env ?? process.env;
  try {
    const prune = scopedCertificatesToPrune(await listAgentCertificates(env), { ...o, inFlight: certificatesInFlight(env) });
    await removeFromAgent(prune.flatMap((c) => [c.line, c.subjectKeyLine]), env);
    return prune.length;
  } catch {
    return 0; // the certificate is in the agent: housekeeping failing is no reason to fail the login
  }
}

/**
 * Valid for `minValidSeconds` more, for exactly `user` (its only principal: a certificate that also
 * names a fleet or break-glass opens more than was asked for), signed by exactly this CA, and
 * carrying every extension in `extensions` (an interactive login needs permit-pty: a certificate
 * signed for a command has none, and the device would refuse the terminal).
 */
export function pickReusable(certs: CertificateInfo[], o: { user: string; caFingerprint: string; minValidSeconds?: number; extensions?: string[]; noCriticalOptions?: boolean }): CertificateInfo | undefined {
  const now = Date.now();
  return certs.find((c) => c.type === 'user' && c.principals.length === 1 && c.principals[0] === o.user &&
    c.signingKeyFingerprint === o.caFingerprint &&
    // A login without --from never reuses one bound to source addresses (`ssh --agent --from` left
    // it there): from anywhere else the device refuses it and nothing new would be signed.
    (!o.noCriticalOptions || Object.keys(c.criticalOptions).length === 0) &&
    (o.extensions ?? []).every((e) => c.extensions.includes(e)) &&
    Date.parse(c.validAfter) <= now + 30_000 &&
    Date.parse(c.validBefore) - now >= (o.minValidSeconds ?? 60) * 1000);
}

/**
 * Add a private key (and the <key>-cert.pub beside it) for `lifetimeSeconds`. With
 * `certificateOnly` (fleetvault's own throwaway keys) the plain key is removed again right after
 * (`ssh-add -k -d`: plain key only; the agent keeps the certificate with its own copy of the
 * private key). ssh offers agent identities one by one and the plain key of a certificate-only
 * device is always refused: each one cost a failed offer on every login (a round trip and one
 * AuthorizedKeysCommand run on the device) and one of sshd's MaxAuthTries. ssh-add 9.2 has no
 * "certificates only" flag for adding (-C came later), hence two calls.
 */
export async function addToAgent(keyPath: string, lifetimeSeconds: number, env: NodeJS.ProcessEnv = process.env, o: { certificateOnly?: boolean } = {}): Promise<void> {
  try {
    await run('ssh-add', ['-q', '-t', String(Math.max(1, Math.floor(lifetimeSeconds))), keyPath], { env });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new UsageError(`failed to add the certificate to ssh-agent: ${(err.stderr ?? String(e)).trim().split('\n')[0]}`);
  }
  // Best effort: an agent that keeps the plain key (one that refuses removal) costs an offer, not the login.
  if (o.certificateOnly) await run('ssh-add', ['-q', '-k', '-d', keyPath], { env }).catch(() => undefined);
}
