// Changes to the config file's named contexts (add, use, remove, and what `login` remembers).
// Reading and precedence live in config.ts; this file only writes, always whole (temp + rename),
// mode 0600 in a 0700 directory: the file names servers and token files, never a token.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  configFilePath, contextTokenFile, readConfigFile, validateContextName,
  type ConfigFile, type ContextSettings, type FleetvaultConfig,
} from './config.js';
import { UsageError } from './errors.js';
import { writeFileAtomic } from './fs/atomic.js';
import { forgetTokenServer } from './token-servers.js';

type Env = Record<string, string | undefined>;

export interface ContextEntry extends ContextSettings { name: string; current: boolean }

function save(path: string, file: ConfigFile): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileAtomic(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`failed to write the config file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      hint: 'check that the directory is writable, or set XDG_CONFIG_HOME / FLEETVAULT_CONFIG_DIR',
    });
  }
}

export function listContexts(env: Env = process.env): { configFile: string; contexts: ContextEntry[] } {
  const configFile = configFilePath(env);
  const file = readConfigFile(configFile);
  const contexts = Object.entries(file.contexts).sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => ({ name, current: name === file.currentContext, ...c }));
  return { configFile, contexts };
}

/** Add a context, or update the fields given of an existing one. */
export function addContext(o: { name: string; settings: Partial<ContextSettings>; use?: boolean; env?: Env }): { configFile: string; context: ContextEntry; created: boolean; tokenDropped?: string } {
  const env = o.env ?? process.env;
  const name = validateContextName(o.name);
  const configFile = configFilePath(env);
  const file = readConfigFile(configFile);
  const existing = file.contexts[name];
  const given = Object.fromEntries(Object.entries(o.settings).filter(([, v]) => v !== undefined)) as Partial<ContextSettings>;
  const merged = { ...existing, ...given } as ContextSettings;
  if (!merged.address) throw new UsageError(`context "${name}" needs an address`, { hint: 'pass --address https://vault.example.com:8200' });
  try {
    const u = new URL(merged.address);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new UsageError(`invalid Vault address "${merged.address}"`, { hint: 'expected http(s)://host:port' });
  }
  merged.address = merged.address.replace(/\/+$/, '');
  // A new address is a new server: the token kept for the old one must never be sent to it. The
  // context's own token file is removed; a shared one (~/.vault-token) is left alone but no longer
  // used by this context.
  let tokenDropped: string | undefined;
  if (existing && existing.address.replace(/\/+$/, '') !== merged.address) {
    const old = contextTokenFile(name, existing, env);
    if (existing.tokenFile === undefined) {
      if (existsSync(old)) tokenDropped = old;
      rmSync(old, { force: true });
      forgetTokenServer({ path: old, env });
    } else if (given.tokenFile === undefined) {
      delete merged.tokenFile;
      tokenDropped = old;
    }
  }
  file.contexts[name] = merged;
  if (o.use || file.currentContext === undefined) file.currentContext = name;
  save(configFile, file);
  return { configFile, context: { name, current: file.currentContext === name, ...merged }, created: !existing, tokenDropped };
}

export function useContext(o: { name: string; env?: Env }): { configFile: string; context: ContextEntry } {
  const env = o.env ?? process.env;
  const configFile = configFilePath(env);
  const file = readConfigFile(configFile);
  const ctx = file.contexts[o.name];
  if (!ctx) {
    const names = Object.keys(file.contexts);
    throw new UsageError(`no context named "${o.name}" in ${configFile}`, {
      hint: names.length ? `known: ${names.join(', ')}` : 'add one with fleetvault context add <name> --address URL',
    });
  }
  file.currentContext = o.name;
  save(configFile, file);
  return { configFile, context: { name: o.name, current: true, ...ctx } };
}

/** Remove a context and the token file fleetvault keeps for it (never ~/.vault-token). */
export function removeContext(o: { name: string; env?: Env }): { configFile: string; removed: string; tokenFileRemoved?: string } {
  const env = o.env ?? process.env;
  const configFile = configFilePath(env);
  const file = readConfigFile(configFile);
  const ctx = file.contexts[o.name];
  if (!ctx) throw new UsageError(`no context named "${o.name}" in ${configFile}`, { hint: 'see fleetvault context list' });
  delete file.contexts[o.name];
  if (file.currentContext === o.name) delete file.currentContext;
  save(configFile, file);
  let tokenFileRemoved: string | undefined;
  if (ctx.tokenFile === undefined) {
    const f = contextTokenFile(o.name, ctx, env);
    rmSync(f, { force: true });
    forgetTokenServer({ path: f, env });
    tokenFileRemoved = f;
  }
  return { configFile, removed: o.name, tokenFileRemoved };
}

/**
 * After a login: remember the server, so a new shell talks to it rather than silently to the
 * default address. With a context in use, its auth method is updated; without one, a context
 * named "default" is created (its token stays in ~/.vault-token, shared with `vault`/`bao`) and
 * made current. Returns the token file the new token belongs in.
 */
export function rememberLogin(o: { config: FleetvaultConfig; method: 'token' | 'userpass' | 'oidc'; authPath?: string; env?: Env }): { context: string; created: boolean; tokenFile: string } {
  const { config } = o;
  const file = readConfigFile(config.configFile);
  let name = config.context;
  let created = false;
  if (name === undefined || file.contexts[name]?.address !== config.address) {
    // Logged in somewhere else than the context says (VAULT_ADDR, --address): a context for that
    // server — an existing one with the same address, else a new one — becomes current.
    name = Object.keys(file.contexts).find((n) => file.contexts[n]!.address === config.address) ?? uniqueName(file, 'default');
    created = !file.contexts[name];
    if (created) {
      // ~/.vault-token is shared with one server only: when another context already keeps its token
      // there, this one gets its own file, so neither login overwrites (or is sent as) the other's.
      const env = o.env ?? process.env;
      const shared = Object.entries(file.contexts).some(([n, c]) => contextTokenFile(n, c, env) === config.tokenFile);
      file.contexts[name] = {
        address: config.address, ...(shared ? {} : { tokenFile: config.tokenFile }),
        ...(config.namespace ? { namespace: config.namespace } : {}), ...(config.caCert ? { caCert: config.caCert } : {}),
      };
    }
  }
  const ctx = file.contexts[name]!;
  ctx.authMethod = o.method;
  if (o.authPath) ctx.authPath = o.authPath; else delete ctx.authPath;
  // `--context staging login` is a one-off, like every --context: it does not change the current one.
  if (!config.contextExplicit || file.currentContext === undefined) file.currentContext = name;
  save(config.configFile, file);
  const tokenFile = contextTokenFile(name, ctx, o.env ?? process.env);
  mkdirSync(dirname(tokenFile), { recursive: true, mode: 0o700 });
  return { context: name, created, tokenFile };
}

function uniqueName(file: ConfigFile, base: string): string {
  if (!file.contexts[base]) return base;
  for (let i = 2; ; i++) if (!file.contexts[`${base}-${i}`]) return `${base}-${i}`;
}
