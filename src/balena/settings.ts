// Which balena environment and whose login: read the way balena-cli (balena-settings-client,
// balena-sdk) reads them, so an operator who uses balena-cli needs no extra setup.
//   - Settings, lowest to highest: defaults, ~/.resinrc.yml, ~/.balenarc.yml, ./resinrc.yml,
//     ./balenarc.yml (in the working directory), then BALENARC_* / RESINRC_* environment
//     variables (non-empty ones), as balena-settings-client merges them; a command-line flag wins
//     over all of them. An openBalena user's balenarc.yml therefore decides where the token goes.
//   - balenaUrl is a domain ("balena-cloud.com"); apiUrl defaults to https://api.<balenaUrl> and
//     tunnelUrl to tunnel.<balenaUrl>; an explicit apiUrl / tunnelUrl (any level) wins over the
//     derived one, exactly as in balena-settings-client.
//   - The login: BALENA_TOKEN (fleetvault's own convention), else BALENA_API_KEY (balena-cli's),
//     else the token balena-cli stores in <dataDirectory>/token (default ~/.balena).
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

export const DEFAULT_BALENA_DOMAIN = 'balena-cloud.com';

/** The settings fleetvault uses; each is undefined unless set in a file or the environment. */
export interface BalenaSettings { balenaUrl?: string; apiUrl?: string; tunnelUrl?: string; dataDirectory?: string }
const KEYS: readonly (keyof BalenaSettings)[] = ['balenaUrl', 'apiUrl', 'tunnelUrl', 'dataDirectory'];

export interface SettingsSource { env?: NodeJS.ProcessEnv; cwd?: string }

function settingsHome(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}

/** balena-settings-client's YAML reader is js-yaml (installed with it, under balena-sdk). */
function parseYaml(text: string): unknown {
  const req = createRequire(createRequire(import.meta.url).resolve('balena-settings-client'));
  const yaml = req('js-yaml') as { safeLoad(s: string): unknown };
  return yaml.safeLoad(text);
}

function readSettingsFile(file: string, legacy: boolean): BalenaSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return {};
    throw new UsageError(`cannot read balena settings ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { hint: 'fix its permissions or remove it' });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch {
    parsed = undefined;
  }
  // balena-settings-client refuses an empty file or a bare string too.
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`cannot read balena settings ${file}: not a YAML mapping`, { hint: 'fix it (e.g. `balenaUrl: my-openbalena.example`) or remove it; balena-cli refuses it too' });
  }
  const out: BalenaSettings = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    const key = (legacy ? k.replace('resin', 'balena') : k) as keyof BalenaSettings;
    if (!KEYS.includes(key) || v == null) continue;
    if (typeof v !== 'string') throw new UsageError(`cannot read balena settings ${file}: ${key} is not a string`, { hint: `fix ${key} in ${file}` });
    out[key] = v;
  }
  return out;
}

/** BALENARC_API_URL -> apiUrl, RESINRC_RESIN_URL -> balenaUrl (balena-settings-client's naming). */
function settingsFromEnv(env: NodeJS.ProcessEnv): BalenaSettings {
  const out: BalenaSettings = {};
  // RESINRC_* first so that BALENARC_* wins when both are set.
  const names = Object.keys(env).filter((k) => /^(BALENARC|RESINRC)_./i.test(k)).sort((a, b) => Number(/^BALENARC/i.test(a)) - Number(/^BALENARC/i.test(b)));
  for (const k of names) {
    const v = env[k];
    if (!v) continue;
    const rest = k.replace(/^(BALENARC|RESINRC)_/i, '').replace(/(^|_)RESIN(_|$)/, '$1BALENA$2');
    const key = rest.toLowerCase().split('_').filter(Boolean).map((w, i) => (i ? w[0]!.toUpperCase() + w.slice(1) : w)).join('') as keyof BalenaSettings;
    if (KEYS.includes(key)) out[key] = v;
  }
  return out;
}

/** The merged settings (files, then environment), as balena-cli sees them. */
export function balenaSettings(o: SettingsSource = {}): BalenaSettings {
  const env = o.env ?? process.env;
  const cwd = o.cwd ?? process.cwd();
  const hidden = (name: string) => (process.platform === 'win32' ? `_${name}` : `.${name}`);
  const home = settingsHome(env);
  return Object.assign({},
    readSettingsFile(join(home, hidden('resinrc.yml')), true),
    readSettingsFile(join(home, hidden('balenarc.yml')), false),
    readSettingsFile(join(cwd, 'resinrc.yml'), true),
    readSettingsFile(join(cwd, 'balenarc.yml'), false),
    settingsFromEnv(env));
}

/** An API root: https://api.<domain>, or an explicit http(s) URL (private instances, tests). */
export function balenaApiUrl(o: { flag?: string } & SettingsSource = {}): string {
  const s = o.flag === undefined ? balenaSettings(o) : {};
  const raw = (o.flag ?? s.apiUrl ?? s.balenaUrl ?? DEFAULT_BALENA_DOMAIN).trim();
  // A bare domain (what balenaUrl holds) names the environment; a URL names the API itself.
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://api.${raw}`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`invalid balena URL ${JSON.stringify(raw)}`, { hint: 'expected a domain (balena-cloud.com) or an API URL (https://api.balena-cloud.com)' });
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || /[\s"'\\`$]/.test(raw)) {
    throw new UsageError(`invalid balena URL ${JSON.stringify(raw)}`, { hint: 'expected a domain (balena-cloud.com) or an API URL (https://api.balena-cloud.com)' });
  }
  return url.replace(/\/+$/, '');
}

/**
 * The tunnel host[:port] the settings name, as balena-cli derives it: an explicit tunnelUrl
 * (BALENARC_TUNNEL_URL, a balenarc.yml), else tunnel.<balenaUrl> when balenaUrl is set.
 * Undefined when neither is set (the caller derives it from the API URL).
 */
export function settingsTunnel(o: SettingsSource = {}): { value: string; where: string } | undefined {
  const s = balenaSettings(o);
  if (s.tunnelUrl) return { value: s.tunnelUrl.trim(), where: 'tunnelUrl (BALENARC_TUNNEL_URL or balenarc.yml)' };
  if (s.balenaUrl && !/^[a-z][a-z0-9+.-]*:\/\//i.test(s.balenaUrl.trim())) return { value: `tunnel.${s.balenaUrl.trim()}`, where: 'balenaUrl (BALENARC_BALENA_URL or balenarc.yml)' };
  return undefined;
}

/** tunnel.<domain> for an API at api.<domain>; undefined when the API URL names no such domain. */
export function tunnelHostFor(apiUrl: string): string | undefined {
  const host = new URL(apiUrl).hostname;
  const m = /^api\.(.+)$/.exec(host);
  return m ? `tunnel.${m[1]}` : undefined;
}

export function balenaDataDirectory(env: NodeJS.ProcessEnv = process.env, cwd?: string): string {
  return balenaSettings({ env, cwd }).dataDirectory || join(settingsHome(env), '.balena');
}

export interface BalenaToken { token: string; source: 'BALENA_TOKEN' | 'balena login' }

/** The operator's balena credential, never from argv. Undefined when there is none. */
export function findBalenaToken(env: NodeJS.ProcessEnv = process.env): BalenaToken | undefined {
  // The first non-empty one: an exported-but-empty BALENA_TOKEN must not hide BALENA_API_KEY.
  const fromEnv = [env.BALENA_TOKEN, env.BALENA_API_KEY].map((v) => v?.trim()).find(Boolean);
  if (fromEnv) return { token: fromEnv, source: 'BALENA_TOKEN' };
  const file = join(balenaDataDirectory(env), 'token');
  try {
    // balena-sdk's node storage: one file per key, the token as plain text.
    if (!statSync(file).isFile()) return undefined;
    const token = readFileSync(file, 'utf8').trim();
    return token ? { token, source: 'balena login' } : undefined;
  } catch {
    return undefined;
  }
}

export function requireBalenaToken(what: string, env: NodeJS.ProcessEnv = process.env): BalenaToken {
  const t = findBalenaToken(env);
  if (!t) {
    throw new UsageError(`${what} needs a balena login: none in BALENA_TOKEN or ${join(balenaDataDirectory(env), 'token')}`, {
      hint: 'export BALENA_TOKEN=<api key> or run `balena login`; for an offline device pass --host <address>',
    });
  }
  return t;
}
