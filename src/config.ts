// The one config resolver. Precedence, for every setting:
//   flag > FLEETVAULT_* env > VAULT_* env > BAO_* env > the context (config file) > default.
// The context is chosen by --context > FLEETVAULT_CONTEXT > the file's currentContext.
// The token: FLEETVAULT_TOKEN > VAULT_TOKEN > BAO_TOKEN > the context's token file (only while the
// address is the context's own: a token must never travel to a server it was not issued by) >
// ~/.vault-token. It never comes from a flag: argv is readable by every local user through /proc.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import { tokenServerOf } from './token-servers.js';
import { xdgBaseDir } from './xdg.js';

/** One named Vault in the config file (staging, prod, …): where it is and how to log in. */
/** A context may pin any part of the Vault layout (mount names, role, policy prefix). */
export interface ContextSettings extends Partial<LayoutSettings> {
  address: string;
  namespace?: string;
  caCert?: string;
  tlsSkipVerify?: boolean;
  /** How `fleetvault login` authenticates here when --method is not given. */
  authMethod?: 'token' | 'userpass' | 'oidc';
  /** The auth mount for userpass / oidc when not the method's name. */
  authPath?: string;
  /** Where this context's token lives; default <config dir>/tokens/<name>. */
  tokenFile?: string;
}

/** $XDG_CONFIG_HOME/fleetvault/config.json (mode 0600): the contexts and which one is current. */
export interface ConfigFile {
  currentContext?: string;
  contexts: Record<string, ContextSettings>;
}

export function configDir(env: Env = process.env): string {
  if (env.FLEETVAULT_CONFIG_DIR) return env.FLEETVAULT_CONFIG_DIR;
  return join(xdgBaseDir('XDG_CONFIG_HOME', env), 'fleetvault');
}

export function configFilePath(env: Env = process.env): string {
  return join(configDir(env), 'config.json');
}

/** Context names end up in file names: keep them plain. */
export function validateContextName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new UsageError(`invalid context name "${name}"`, { hint: 'use letters, digits, - _ . (at most 64)' });
  }
  return name;
}

/** A missing file is an empty one; a broken one is an error that names the file, not its content. */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { contexts: {} };
    throw new UsageError(`failed to read the config file ${path}: ${code ?? String(e)}`);
  }
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch {
    throw new UsageError(`failed to read the config file ${path}: not valid JSON`, { hint: 'fix or remove it; fleetvault context add recreates it' });
  }
  const f = parsed as Partial<ConfigFile>;
  if (typeof f !== 'object' || f === null || (f.contexts !== undefined && (typeof f.contexts !== 'object' || f.contexts === null))) {
    throw new UsageError(`failed to read the config file ${path}: expected {"currentContext", "contexts": {…}}`, { hint: 'fix or remove it' });
  }
  return { currentContext: typeof f.currentContext === 'string' ? f.currentContext : undefined, contexts: f.contexts ?? {} };
}

/** The token file of a context: its own setting, else one file per context beside the config. */
export function contextTokenFile(name: string, ctx: ContextSettings, env: Env = process.env): string {
  return ctx.tokenFile ?? join(configDir(env), 'tokens', name);
}

export interface VaultSettings {
  address: string;
  token?: string;
  /** Where the token came from, for messages (never the token itself). */
  tokenSource?: string;
  namespace?: string;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  tlsSkipVerify: boolean;
  timeoutMs: number;
  /** AppRole credentials (the factory flasher); when roleId is set, commands log in with AppRole. */
  roleId?: string;
  secretId?: string;
}

export interface LayoutSettings {
  sshMount: string;
  sshRole: string;
  transitMount: string;
  transitKey: string;
  approleMount: string;
  approleRole: string;
  kvMount: string;
  /** Policies are named <prefix>-engineer, <prefix>-operator, <prefix>-flasher, <prefix>-auditor. */
  policyPrefix: string;
}

export interface FleetvaultConfig extends VaultSettings, LayoutSettings {
  tokenFile: string;
  /** The context in use, if any, and the file it came from. */
  context?: string;
  configFile: string;
  /** Where the address came from: a flag, an environment variable, the context, or the default. */
  addressSource: string;
  /** The context was named for this one command (--context, FLEETVAULT_CONTEXT), not the current one. */
  contextExplicit?: boolean;
  /** The token file holds a token fleetvault stored for this other server: it is not sent here. */
  tokenElsewhere?: string;
  /** login: how to authenticate when --method is not given (from the context). */
  authMethod?: 'token' | 'userpass' | 'oidc';
  authPath?: string;
}

/** Flags as the CLI parsed them (camelCase); every field optional. */
export interface ConfigFlags extends Partial<LayoutSettings> {
  context?: string;
  address?: string;
  namespace?: string;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  tlsSkipVerify?: boolean;
  timeout?: string | number;
}

export const DEFAULT_LAYOUT: LayoutSettings = {
  sshMount: 'ssh-client-signer',
  sshRole: 'engineer',
  transitMount: 'transit',
  transitKey: 'balena-provisioning',
  approleMount: 'approle',
  approleRole: 'flasher',
  kvMount: 'fleetvault',
  policyPrefix: 'fleetvault',
};

export const DEFAULT_ADDRESS = 'http://127.0.0.1:8200';

type Env = Record<string, string | undefined>;

function firstSet(...values: (string | undefined)[]): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}

/**
 * VAULT_SKIP_VERIFY is a boolean the way Vault's CLI parses it: only true/1 (and t/yes) turn TLS
 * verification off. node-vault on its own treats any non-empty value, even "false", as "skip" —
 * which is why the client always passes strictSSL explicitly from here.
 */
export function parseSkipVerify(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '') return false;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 't', 'yes', 'y'].includes(v)) return true;
  if (['0', 'false', 'f', 'no', 'n'].includes(v)) return false;
  throw new UsageError(`invalid ${name} value "${value}"`, { hint: 'use true or false' });
}

export function tokenFilePath(env: Env = process.env): string {
  return join(env.HOME || homedir(), '.vault-token');
}

function readTokenFile(path: string): string | undefined {
  try {
    const t = readFileSync(path, 'utf8').trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}

export function resolveConfig(flags: ConfigFlags = {}, env: Env = process.env, o: { file?: ConfigFile } = {}): FleetvaultConfig {
  const configFile = configFilePath(env);
  const file = o.file ?? readConfigFile(configFile);
  const contextName = firstSet(flags.context, env.FLEETVAULT_CONTEXT) ?? file.currentContext;
  let ctx: ContextSettings | undefined;
  if (contextName !== undefined) {
    ctx = file.contexts[contextName];
    if (!ctx) {
      const named = firstSet(flags.context, env.FLEETVAULT_CONTEXT) !== undefined;
      throw new UsageError(`no context named "${contextName}" in ${configFile}`, {
        hint: named ? 'see fleetvault context list' : 'fleetvault context use <name> picks another one',
      });
    }
  }

  const sources: [string, string | undefined][] = [
    ['--address', flags.address], ['FLEETVAULT_ADDRESS', env.FLEETVAULT_ADDRESS], ['VAULT_ADDR', env.VAULT_ADDR],
    ['BAO_ADDR', env.BAO_ADDR], [`context ${contextName}`, ctx?.address],
  ];
  const chosen = sources.find(([, v]) => v !== undefined && v !== '');
  const address = chosen?.[1] ?? DEFAULT_ADDRESS;
  const addressSource = chosen?.[0] ?? 'default';
  try {
    const u = new URL(address);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new UsageError(`invalid Vault address "${address}" (from ${addressSource})`, { hint: 'expected http(s)://host:port' });
  }
  const trimmed = address.replace(/\/+$/, '');

  // The context's token goes only to the context's own server: with VAULT_ADDR pointing elsewhere
  // it falls back to ~/.vault-token, as it would without contexts.
  const ownServer = ctx !== undefined && ctx.address.replace(/\/+$/, '') === trimmed;
  const tokenFile = ownServer ? contextTokenFile(contextName!, ctx!, env) : tokenFilePath(env);
  let token: string | undefined;
  let tokenSource: string | undefined;
  for (const name of ['FLEETVAULT_TOKEN', 'VAULT_TOKEN', 'BAO_TOKEN']) {
    if (env[name]) { token = env[name]; tokenSource = name; break; }
  }
  let tokenElsewhere: string | undefined;
  if (!token) {
    token = readTokenFile(tokenFile);
    if (token) tokenSource = tokenFile;
    // A token fleetvault stored for another server stays home: never sent where it was not issued.
    const issuer = token === undefined ? undefined : tokenServerOf({ path: tokenFile, token, env });
    if (issuer !== undefined && issuer !== trimmed) {
      tokenElsewhere = issuer;
    } else if (token !== undefined && issuer === undefined && ownServer) {
      // No record (a login from before records existed): a file shared with a context for
      // another server may hold that server's token. Not sent; one login here records it.
      const other = Object.entries(file.contexts).find(([n, c]) => n !== contextName && contextTokenFile(n, c, env) === tokenFile && c.address.replace(/\/+$/, '') !== trimmed);
      if (other) tokenElsewhere = `${other[1].address} (context ${other[0]} shares the file)`;
    }
    if (tokenElsewhere !== undefined) {
      token = undefined;
      tokenSource = undefined;
    }
  }

  const skipFlag = flags.tlsSkipVerify;
  let tlsSkipVerify: boolean;
  if (skipFlag !== undefined) tlsSkipVerify = skipFlag;
  else {
    const name = ['FLEETVAULT_TLS_SKIP_VERIFY', 'VAULT_SKIP_VERIFY', 'BAO_SKIP_VERIFY'].find((n) => env[n] !== undefined && env[n] !== '');
    tlsSkipVerify = name ? parseSkipVerify(env[name], name) : (ctx?.tlsSkipVerify ?? false);
  }

  const timeoutRaw = firstSet(flags.timeout === undefined ? undefined : String(flags.timeout), env.FLEETVAULT_TIMEOUT, env.VAULT_CLIENT_TIMEOUT);
  const timeoutMs = timeoutRaw === undefined ? 60_000 : durationToSeconds(timeoutRaw, 'timeout') * 1000;

  const layout = (flag: string | undefined, envName: string, fromContext: string | undefined, def: string) => {
    const v = firstSet(flag, env[envName], fromContext) ?? def;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/.test(v) || v.includes('..')) {
      throw new UsageError(`invalid ${envName.replace('FLEETVAULT_', '').toLowerCase().replace(/_/g, '-')} "${v}"`);
    }
    return v.replace(/\/+$/, '');
  };

  return {
    address: trimmed,
    addressSource,
    context: contextName,
    contextExplicit: firstSet(flags.context, env.FLEETVAULT_CONTEXT) !== undefined,
    tokenElsewhere,
    configFile,
    authMethod: ctx?.authMethod,
    authPath: ctx?.authPath,
    token,
    tokenSource,
    tokenFile,
    namespace: firstSet(flags.namespace, env.FLEETVAULT_NAMESPACE, env.VAULT_NAMESPACE, env.BAO_NAMESPACE, ctx?.namespace),
    caCert: firstSet(flags.caCert, env.FLEETVAULT_CA_CERT, env.VAULT_CACERT, env.BAO_CACERT, ctx?.caCert),
    clientCert: firstSet(flags.clientCert, env.FLEETVAULT_CLIENT_CERT, env.VAULT_CLIENT_CERT, env.BAO_CLIENT_CERT),
    clientKey: firstSet(flags.clientKey, env.FLEETVAULT_CLIENT_KEY, env.VAULT_CLIENT_KEY, env.BAO_CLIENT_KEY),
    tlsSkipVerify,
    timeoutMs,
    roleId: firstSet(env.FLEETVAULT_ROLE_ID),
    secretId: firstSet(env.FLEETVAULT_SECRET_ID),
    sshMount: layout(flags.sshMount, 'FLEETVAULT_SSH_MOUNT', ctx?.sshMount, DEFAULT_LAYOUT.sshMount),
    sshRole: layout(flags.sshRole, 'FLEETVAULT_SSH_ROLE', ctx?.sshRole, DEFAULT_LAYOUT.sshRole),
    transitMount: layout(flags.transitMount, 'FLEETVAULT_TRANSIT_MOUNT', ctx?.transitMount, DEFAULT_LAYOUT.transitMount),
    transitKey: layout(flags.transitKey, 'FLEETVAULT_TRANSIT_KEY', ctx?.transitKey, DEFAULT_LAYOUT.transitKey),
    approleMount: layout(flags.approleMount, 'FLEETVAULT_APPROLE_MOUNT', ctx?.approleMount, DEFAULT_LAYOUT.approleMount),
    approleRole: layout(flags.approleRole, 'FLEETVAULT_APPROLE_ROLE', ctx?.approleRole, DEFAULT_LAYOUT.approleRole),
    kvMount: layout(flags.kvMount, 'FLEETVAULT_KV_MOUNT', ctx?.kvMount, DEFAULT_LAYOUT.kvMount),
    policyPrefix: layout(flags.policyPrefix, 'FLEETVAULT_POLICY_PREFIX', ctx?.policyPrefix, DEFAULT_LAYOUT.policyPrefix),
  };
}

/** "(context prod)" when the context chose the server, else where the address came from instead. */
export function addressOrigin(config: Pick<FleetvaultConfig, 'context' | 'addressSource'>): string {
  if (config.context !== undefined && config.addressSource === `context ${config.context}`) return `(context ${config.context})`;
  return config.addressSource === 'default' ? '(the default address)' : `(address from ${config.addressSource})`;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "30m", "1h30m", "90s", "3600" (seconds) → seconds. Vault's own duration syntax, minus ms/us. */
export function durationToSeconds(input: string | number, what = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new UsageError(`invalid ${what} "${input}"`);
    return Math.floor(input);
  }
  const s = input.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+)([smhd])/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (s === '' || matched !== s.length) {
    throw new UsageError(`invalid ${what} "${input}"`, { hint: 'use a duration such as 30m, 1h or 90s' });
  }
  return total;
}

export function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0 && seconds >= 3600) return `${seconds / 3600}h`;
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60}m`;
  return `${seconds}s`;
}
