// The ssh options `fleetvault ssh` hands to OpenSSH unchanged: -o, -J, -v, -L, -R. Each value is
// one argv element after its flag, so nothing here is ever read by a shell; values that ssh would
// parse as another option (a leading '-') or that carry control characters are refused.
import { UsageError } from '../errors.js';
import { validatePrincipal } from './principals.js';

export interface SshPassThrough {
  /** -o values in order ("Key=Value" or "Key Value"). */
  options?: string[];
  /** -J: jump hosts as ssh takes them ([user@]host[:port][,…]). */
  jump?: string;
  /** -v count (1–3). */
  verbose?: number;
  /** -L specs ([bind:]port:host:hostport, or sockets). */
  localForwards?: string[];
  /** -R specs. */
  remoteForwards?: string[];
}

/** -L, -R and -J (ssh -W through the jump host) need a certificate with permit-port-forwarding. */
export function needsForwarding(p: SshPassThrough | undefined): boolean {
  return Boolean(p && (p.jump || p.localForwards?.length || p.remoteForwards?.length));
}

function checkValue(flag: string, v: string): string {
  if (!v || v.startsWith('-') || /[\u0000-\u001f\u007f]/.test(v)) {
    throw new UsageError(`invalid ssh option value for ${flag}: ${JSON.stringify(v)}`, { hint: 'see fleetvault ssh --help' });
  }
  return v;
}

/** The argv ssh gets for the user's options, in the order the user gave them per flag. */
export function passThroughArgs(p: SshPassThrough | undefined): string[] {
  if (!p) return [];
  const args: string[] = [];
  for (const o of p.options ?? []) {
    // "Key=Value" or "Key Value": the key is a word; ssh itself rejects unknown keys with its own message.
    if (!/^[A-Za-z][A-Za-z0-9]*(=|\s)/.test(o)) throw new UsageError(`invalid ssh option -o ${JSON.stringify(o)}: expected Key=Value`, { hint: 'e.g. -o ConnectTimeout=5' });
    // -o User= picks the device user: the same principal policy as --user, or a look-alike such
    // as r\u043eot would reach sshd unchecked (it is another user there).
    const user = /^user\s*(?:=|\s)\s*(.*)$/i.exec(o);
    if (user) validatePrincipal(user[1]!.trim());
    args.push('-o', checkValue('-o', o));
  }
  if (p.jump) args.push('-J', checkValue('-J', p.jump));
  for (const l of p.localForwards ?? []) args.push('-L', checkValue('-L', l));
  for (const r of p.remoteForwards ?? []) args.push('-R', checkValue('-R', r));
  const v = p.verbose ?? 0;
  if (v > 0) args.push('-' + 'v'.repeat(Math.min(v, 3)));
  return args;
}

/**
 * The config file for a session with -J. ssh runs `ssh -W` for each jump host and passes it -F
 * (and nothing else of ours), so the certificate and host-key settings must be in that file. The
 * user's own ~/.ssh/config is included last: its Host blocks still apply, but values set here win.
 */
export function jumpConfig(o: { user: string; keyPath?: string; strictHostKeyChecking?: string; userKnownHostsFile?: string }): string {
  const q = (s: string) => `"${s}"`;
  return [
    `User ${o.user}`,
    ...(o.keyPath ? [`IdentityFile ${q(o.keyPath)}`, `CertificateFile ${q(o.keyPath + '-cert.pub')}`, 'IdentitiesOnly yes', 'IdentityAgent none'] : []),
    ...(o.strictHostKeyChecking ? [`StrictHostKeyChecking ${o.strictHostKeyChecking}`] : []),
    ...(o.userKnownHostsFile ? [`UserKnownHostsFile ${q(o.userKnownHostsFile)}`] : []),
    'Include ~/.ssh/config',
    '',
  ].join('\n');
}

/**
 * ssh users write `-oKey=Value`, `-Jhost`, `-L8080:h:80`; yargs would read those as groups of
 * one-letter flags. For `fleetvault ssh`, split them into flag + value before parsing (only up to
 * `--`: the remote command is never touched).
 */
/** Long options of `fleetvault ssh` that take no value: what follows them is a new argument. */
const FLAGS_WITHOUT_VALUE = new Set(['--agent', '--json', '--help', '--version', '--break-glass']);

function takesValue(prev: string | undefined): boolean {
  return prev !== undefined && /^--[a-z][a-z0-9-]*$/.test(prev) && !prev.startsWith('--no-') && !FLAGS_WITHOUT_VALUE.has(prev);
}

export function splitAttachedSshFlags(args: string[]): string[] {
  if (args.find((a) => !a.startsWith('-')) !== 'ssh') return args;
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { out.push(...args.slice(i)); break; }
    const m = /^-([oJLR])(.+)$/.exec(a);
    // `--host -oProxyCommand=…` is a (hostile) value of --host, not an ssh option: leave it whole so
    // the host check refuses it.
    if (m && !m[2]!.startsWith('=') && !takesValue(args[i - 1])) out.push(`-${m[1]}`, m[2]!); else out.push(a);
  }
  return out;
}
