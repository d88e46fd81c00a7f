// Which balena environment and whose login: read the way balena-cli (balena-settings-client,
// balena-sdk) reads them, so an operator who uses balena-cli needs no extra setup.
//   - BALENARC_BALENA_URL is a domain ("balena-cloud.com"); the API is https://api.<domain> and the
//     tunnel tunnel.<domain>:443. BALENARC_API_URL overrides the API URL, as in balena-settings-client.
//   - The login: BALENA_TOKEN (fleetvault's own convention, also BALENA_API_KEY), else the token
//     balena-cli stores in <dataDirectory>/token (dataDirectory = BALENARC_DATA_DIRECTORY or ~/.balena).
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

export const DEFAULT_BALENA_DOMAIN = 'balena-cloud.com';

/** An API root: https://api.<domain>, or an explicit http(s) URL (private instances, tests). */
export function balenaApiUrl(o: { flag?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = o.env ?? process.env;
  const raw = (o.flag ?? env.BALENARC_API_URL ?? env.BALENARC_BALENA_URL ?? DEFAULT_BALENA_DOMAIN).trim();
  // A bare domain (what BALENARC_BALENA_URL holds) names the environment; a URL names the API itself.
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

/** tunnel.<domain> for an API at api.<domain>; undefined when the API URL names no such domain. */
export function tunnelHostFor(apiUrl: string): string | undefined {
  const host = new URL(apiUrl).hostname;
  const m = /^api\.(.+)$/.exec(host);
  return m ? `tunnel.${m[1]}` : undefined;
}

export function balenaDataDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env.BALENARC_DATA_DIRECTORY || join(env.HOME || homedir(), '.balena');
}

export interface BalenaToken { token: string; source: 'BALENA_TOKEN' | 'balena login' }

/** The operator's balena credential, never from argv. Undefined when there is none. */
export function findBalenaToken(env: NodeJS.ProcessEnv = process.env): BalenaToken | undefined {
  const fromEnv = (env.BALENA_TOKEN ?? env.BALENA_API_KEY)?.trim();
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
