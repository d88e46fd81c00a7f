// The one config resolver. Precedence, for every setting:
//   flag > FLEETVAULT_* env > VAULT_* env > BAO_* env > ~/.vault-token (token only) > default.
// The token never comes from a flag: argv is readable by every local user through /proc.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './errors.js';

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
}

/** Flags as the CLI parsed them (camelCase); every field optional. */
export interface ConfigFlags {
  address?: string;
  namespace?: string;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  tlsSkipVerify?: boolean;
  timeout?: string | number;
  sshMount?: string;
  sshRole?: string;
  transitMount?: string;
  transitKey?: string;
  approleMount?: string;
  approleRole?: string;
  kvMount?: string;
  policyPrefix?: string;
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

export function resolveConfig(flags: ConfigFlags = {}, env: Env = process.env): FleetvaultConfig {
  const address = firstSet(flags.address, env.FLEETVAULT_ADDRESS, env.VAULT_ADDR, env.BAO_ADDR) ?? DEFAULT_ADDRESS;
  try {
    const u = new URL(address);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new UsageError(`invalid Vault address "${address}"`, { hint: 'expected http(s)://host:port' });
  }

  const tokenFile = tokenFilePath(env);
  let token: string | undefined;
  let tokenSource: string | undefined;
  for (const name of ['FLEETVAULT_TOKEN', 'VAULT_TOKEN', 'BAO_TOKEN']) {
    if (env[name]) { token = env[name]; tokenSource = name; break; }
  }
  if (!token) {
    token = readTokenFile(tokenFile);
    if (token) tokenSource = tokenFile;
  }

  const skipFlag = flags.tlsSkipVerify;
  let tlsSkipVerify: boolean;
  if (skipFlag !== undefined) tlsSkipVerify = skipFlag;
  else {
    const name = ['FLEETVAULT_TLS_SKIP_VERIFY', 'VAULT_SKIP_VERIFY', 'BAO_SKIP_VERIFY'].find((n) => env[n] !== undefined && env[n] !== '');
    tlsSkipVerify = name ? parseSkipVerify(env[name], name) : false;
  }

  const timeoutRaw = firstSet(flags.timeout === undefined ? undefined : String(flags.timeout), env.FLEETVAULT_TIMEOUT, env.VAULT_CLIENT_TIMEOUT);
  const timeoutMs = timeoutRaw === undefined ? 60_000 : durationToSeconds(timeoutRaw, 'timeout') * 1000;

  const layout = (flag: string | undefined, envName: string, def: string) => {
    const v = firstSet(flag, env[envName]) ?? def;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/.test(v) || v.includes('..')) {
      throw new UsageError(`invalid ${envName.replace('FLEETVAULT_', '').toLowerCase().replace(/_/g, '-')} "${v}"`);
    }
    return v.replace(/\/+$/, '');
  };

  return {
    address: address.replace(/\/+$/, ''),
    token,
    tokenSource,
    tokenFile,
    namespace: firstSet(flags.namespace, env.FLEETVAULT_NAMESPACE, env.VAULT_NAMESPACE, env.BAO_NAMESPACE),
    caCert: firstSet(flags.caCert, env.FLEETVAULT_CA_CERT, env.VAULT_CACERT, env.BAO_CACERT),
    clientCert: firstSet(flags.clientCert, env.FLEETVAULT_CLIENT_CERT, env.VAULT_CLIENT_CERT, env.BAO_CLIENT_CERT),
    clientKey: firstSet(flags.clientKey, env.FLEETVAULT_CLIENT_KEY, env.VAULT_CLIENT_KEY, env.BAO_CLIENT_KEY),
    tlsSkipVerify,
    timeoutMs,
    roleId: firstSet(env.FLEETVAULT_ROLE_ID),
    secretId: firstSet(env.FLEETVAULT_SECRET_ID),
    sshMount: layout(flags.sshMount, 'FLEETVAULT_SSH_MOUNT', DEFAULT_LAYOUT.sshMount),
    sshRole: layout(flags.sshRole, 'FLEETVAULT_SSH_ROLE', DEFAULT_LAYOUT.sshRole),
    transitMount: layout(flags.transitMount, 'FLEETVAULT_TRANSIT_MOUNT', DEFAULT_LAYOUT.transitMount),
    transitKey: layout(flags.transitKey, 'FLEETVAULT_TRANSIT_KEY', DEFAULT_LAYOUT.transitKey),
    approleMount: layout(flags.approleMount, 'FLEETVAULT_APPROLE_MOUNT', DEFAULT_LAYOUT.approleMount),
    approleRole: layout(flags.approleRole, 'FLEETVAULT_APPROLE_ROLE', DEFAULT_LAYOUT.approleRole),
    kvMount: layout(flags.kvMount, 'FLEETVAULT_KV_MOUNT', DEFAULT_LAYOUT.kvMount),
    policyPrefix: layout(flags.policyPrefix, 'FLEETVAULT_POLICY_PREFIX', DEFAULT_LAYOUT.policyPrefix),
  };
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
