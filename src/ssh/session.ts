// `fleetvault ssh`: a fresh key pair, a certificate for exactly this user and this long, and the
// system ssh — key material only ever in a private temp dir that is gone when we return, also
// after Ctrl-C or SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, fstatSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThroughExit, UsageError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { generateEd25519KeyPair } from './keys.js';
import { signUserKey } from './sign.js';
import { validatePrincipal } from './principals.js';
import { addToAgent, agentKeyTag, pruneScopedAgentCertificates, requireAgent, reusableAgentCertificate, sshKeyFingerprint } from './agent.js';
import { markInFlight } from './agent-in-flight.js';
import { diagnoseLogin } from './diagnose.js';
import { scopePrincipal, type Scope } from '../access/principals.js';
import { signScoped } from '../access/sign.js';
import { passThroughArgs, jumpConfig, needsForwarding, type SshPassThrough } from './pass-through.js';

export type StrictHostKeyChecking = 'yes' | 'no' | 'ask' | 'accept-new';

export interface SshSessionOptions {
  client: VaultClient;
  mount: string;
  role: string;
  host: string;
  port?: number;
  user?: string;
  ttlSeconds?: number;
  reason?: string;
  strictHostKeyChecking?: StrictHostKeyChecking;
  userKnownHostsFile?: string;
  agent?: boolean;
  /** Ask for a scoped certificate (device, fleet or break-glass principal, via the scope's role) instead of `user` via `role`. */
  scope?: Scope;
  /** --from: the certificate's source-address critical option (narrows; Vault decides). */
  sourceAddress?: string;
  /** Remote command; empty = interactive login (gets permit-pty). */
  command?: string[];
  /** Called with the temp dir once it exists (tests check it is gone afterwards). */
  onTempDir?: (dir: string) => void;
  /** Extra ssh options before the destination, e.g. ['-o', 'ConnectTimeout=5']. */
  sshOptions?: string[];
  /** The user's own ssh options (`fleetvault ssh -o … -J … -v -L … -R …`). */
  passThrough?: SshPassThrough;
  /** The device's sshd log, when fleetvault runs the device: read to explain a refusal. */
  deviceLog?: string;
  /** The one account that device logs in (an unprivileged `fleetvault dev` device). */
  deviceLoginUser?: string;
  env?: NodeJS.ProcessEnv;
  /** ssh's ProxyCommand (balena's tunnel, src/device/route.ts) and the known_hosts name that goes with it. */
  proxyCommand?: string;
  hostKeyAlias?: string;
  /** Awaited just before ssh starts (the tunnel's preflight, run while Vault signs). */
  ready?: Promise<unknown>;
}

export interface SshSessionResult {
  exitCode: number;
  /** Why ssh failed, when we can tell (the device refused our certificate). */
  diagnosis?: string;
  reusedAgentCertificate: boolean;
  serial?: string;
  signal?: NodeJS.Signals;
}

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export function validateHost(host: string): string {
  // A host that starts with '-' would be read by ssh as an option; whitespace and control
  // characters have no place in an address.
  if (!host || host.startsWith('-') || /[\s\u0000-\u001f\u007f@]/.test(host)) {
    throw new UsageError(`invalid host ${JSON.stringify(host)}`);
  }
  return host;
}

export async function runSshSession(o: SshSessionOptions): Promise<SshSessionResult> {
  const user = validatePrincipal(o.user ?? 'root');
  const host = validateHost(o.host);
  const port = o.port ?? 22222;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`invalid port ${o.port}`);
  const env = o.env ?? process.env;
  const interactive = !o.command || o.command.length === 0;
  if (o.agent) requireAgent(env);

  // ssh keeps the first value it sees for an option: our key selection goes first (the user's
  // -o cannot turn IdentitiesOnly off), then the user's options (their -o User=… or Port=… wins
  // over our -l/-p), then ours.
  const keyArgs: string[] = [];
  const userArgs = passThroughArgs(o.passThrough);
  const sshArgs: string[] = ['-p', String(port), '-l', user];
  if (o.strictHostKeyChecking) sshArgs.push('-o', `StrictHostKeyChecking=${o.strictHostKeyChecking}`);
  if (o.userKnownHostsFile) sshArgs.push('-o', `UserKnownHostsFile=${o.userKnownHostsFile}`);
  if (o.proxyCommand) sshArgs.push('-o', `ProxyCommand=${o.proxyCommand}`);
  if (o.hostKeyAlias) sshArgs.push('-o', `HostKeyAlias=${o.hostKeyAlias}`);
  sshArgs.push(...(o.sshOptions ?? []));
  const forwarding = needsForwarding(o.passThrough);

  let dir: string | undefined;
  const cleanup = () => { if (dir) { rmSync(dir, { recursive: true, force: true }); dir = undefined; } };
  // Backstop: whatever path leaves the process, the key material goes with it.
  process.once('exit', cleanup);
  // A signal before ssh runs (while signing) must not kill us with the key dir on disk: remove it
  // and abandon the session; while ssh runs, spawnSsh forwards signals instead.
  let abandon: (e: Error) => void = () => {};
  const abandoned = new Promise<never>((_, reject) => { abandon = reject; });
  abandoned.catch(() => {});
  let sshRunning = false;
  const onSignal = (sig: NodeJS.Signals) => () => {
    if (sshRunning) return;
    cleanup();
    abandon(new PassThroughExit(SIGNAL_EXIT[sig] ?? 1));
  };
  const guards = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, onSignal(s)] as const);
  for (const [s, h] of guards) process.on(s, h);
  const guarded = <T>(p: Promise<T>) => Promise.race([p, abandoned]);
  let serial: string | undefined;
  let validFrom: string | undefined;
  let validUntil: string | undefined;
  let reused = false;
  let releaseInFlight = () => {};
  try {
    // Only a certificate from the CA the server signs with now: after a rotation the agent's old-CA
    // certificate is refused by every device that retired that CA. An agent certificate may also
    // lack permit-port-forwarding: -L/-R/-J always get a fresh one.
    // The certificate must carry exactly the principal asked for: a break-glass or fleet certificate
    // in the agent is never reused for a device-scoped login (and the reverse). Break-glass and --from
    // always sign afresh: each break-glass use is audited with its reason, and a reused certificate
    // could carry another source address.
    const principal = o.scope ? scopePrincipal(o.scope) : user;
    const mayReuse = o.agent && !forwarding && o.scope?.kind !== 'break-glass' && !o.sourceAddress;
    const reusable = mayReuse ? await guarded(reusableAgentCertificate({ client: o.client, mount: o.mount, user: principal, extensions: interactive ? ['permit-pty'] : [], noCriticalOptions: !o.scope, env })) : undefined;
    // The agent certificate ssh will present is marked in flight until ssh is done (this process
    // exits): a concurrent login's agent cleanup leaves it alone (agent-in-flight.ts).
    if (reusable) {
      releaseInFlight = markInFlight(reusable.publicKeyFingerprint, env);
      reused = true;
      validFrom = reusable.validAfter;
      validUntil = reusable.validBefore;
    } else {
      dir = mkdtempSync(join(tmpdir(), 'fleetvault-ssh-'));
      o.onTempDir?.(dir);
      const pair = generateEd25519KeyPair(`fleetvault-${principal}@${host}${o.agent ? agentKeyTag(o.client, o.mount) : ''}`);
      if (o.agent) releaseInFlight = markInFlight(sshKeyFingerprint(pair.publicKey), env);
      const request = { client: o.client, mount: o.mount, publicKey: pair.publicKey, ttlSeconds: o.ttlSeconds, permitPty: interactive, permitPortForwarding: forwarding, reason: o.reason, sourceAddress: o.sourceAddress };
      const signed = await guarded(o.scope
        ? signScoped({ ...request, scope: o.scope })
        : signUserKey({ ...request, role: o.role, principals: [user] }));
      serial = signed.serial;
      validFrom = signed.info.validAfter;
      validUntil = signed.info.validBefore;
      const keyPath = join(dir, 'id_ed25519');
      writeFileSync(keyPath, pair.privateKey, { mode: 0o600 });
      writeFileSync(`${keyPath}-cert.pub`, signed.certificate, { mode: 0o600 });
      if (o.agent) {
        await guarded(addToAgent(keyPath, (Date.parse(signed.info.validBefore) - Date.now()) / 1000, env, { certificateOnly: true }));
        cleanup(); // the agent holds it now
        // As the ssh-config ProxyCommand does: bound fleetvault's scoped certificates in the agent
        // (this one plus the most recent other) so later devices stay within sshd's MaxAuthTries.
        if (o.scope) await guarded(pruneScopedAgentCertificates({ addedPublicKey: pair.publicKey, caFingerprint: signed.info.signingKeyFingerprint, env }));
      } else {
        // Only this key: never let ssh fall back to the agent's or ~/.ssh's identities.
        keyArgs.push('-i', keyPath, '-o', `CertificateFile=${keyPath}-cert.pub`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none');
      }
    }
    if (o.passThrough?.jump) {
      // ssh authenticates each jump host with a child `ssh -W` that sees only -F's config, not our
      // -i/-o: the same certificate reaches it through a generated config file.
      if (!dir) { dir = mkdtempSync(join(tmpdir(), 'fleetvault-ssh-')); o.onTempDir?.(dir); }
      const cfg = join(dir, 'ssh_config');
      writeFileSync(cfg, jumpConfig({
        user, keyPath: o.agent ? undefined : join(dir, 'id_ed25519'),
        strictHostKeyChecking: o.strictHostKeyChecking, userKnownHostsFile: o.userKnownHostsFile,
      }), { mode: 0o600 });
      keyArgs.unshift('-F', cfg);
    }
    // '--' ends ssh's options: the host can never be read as one.
    const args = [...keyArgs, ...userArgs, ...sshArgs, '--', host, ...(o.command ?? [])];
    const logStart = o.deviceLog ? fileSize(o.deviceLog) : 0;
    if (o.ready) await guarded(o.ready);
    sshRunning = true;
    const r = await spawnSsh(args, env);
    const diagnosis = diagnoseLogin({
      exitCode: r.exitCode, sshStderr: r.stderrTail, host, port, user, principal: principal === user ? undefined : principal, validAfter: validFrom, validBefore: validUntil,
      deviceLog: o.deviceLog ? { path: o.deviceLog, text: readFrom(o.deviceLog, logStart) } : undefined, deviceLoginUser: o.deviceLoginUser,
    });
    return { exitCode: r.signal ? (SIGNAL_EXIT[r.signal] ?? 1) : r.exitCode, diagnosis, reusedAgentCertificate: reused, serial, signal: r.signal };
  } finally {
    releaseInFlight();
    cleanup();
    process.removeListener('exit', cleanup);
    for (const [s, h] of guards) process.removeListener(s, h);
  }
}

function fileSize(path: string): number {
  try { const fd = openSync(path, 'r'); try { return fstatSync(fd).size; } finally { closeSync(fd); } } catch { return 0; }
}

/** What a log gained since `offset` (at most 64 KiB): this attempt's lines only. */
function readFrom(path: string, offset: number): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(offset, size - 65536);
      const buf = Buffer.alloc(Math.max(0, size - start));
      readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally { closeSync(fd); }
  } catch { return ''; }
}

interface SpawnResult { exitCode: number; stderrTail: string; signal?: NodeJS.Signals }

/**
 * Run ssh with the terminal attached. stderr is teed so we can diagnose a refusal; signals that
 * reach us (SIGTERM, SIGHUP) are forwarded, and SIGINT — which the terminal already sends to ssh
 * too — no longer kills us before the temp dir is removed.
 */
function spawnSsh(args: string[], env: NodeJS.ProcessEnv): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['inherit', 'inherit', 'pipe'], env });
    let tail = '';
    child.stderr!.on('data', (d: Buffer) => {
      process.stderr.write(d);
      tail = (tail + d.toString('utf8')).slice(-8192);
    });
    let received: NodeJS.Signals | undefined;
    const forward = (sig: NodeJS.Signals) => () => {
      received = sig;
      if (child.exitCode === null) child.kill(sig);
    };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    child.once('error', (e) => {
      for (const [s, h] of handlers) process.removeListener(s, h);
      reject(new UsageError(`failed to run ssh: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { hint: 'install the OpenSSH client' }));
    });
    child.once('close', (code, signal) => {
      for (const [s, h] of handlers) process.removeListener(s, h);
      const sig = (signal ?? (received && code !== 0 ? received : undefined)) as NodeJS.Signals | undefined;
      resolve({ exitCode: code ?? 255, stderrTail: tail, signal: sig ?? undefined });
    });
  });
}
