// `fleetvault login --method oidc`: the browser flow of `vault login -method=oidc`.
//   1. listen on a loopback callback (default 127.0.0.1:8250/oidc/callback);
//   2. ask Vault for auth/<mount>/oidc/auth_url with that redirect_uri, the role and a client_nonce;
//   3. the user signs in at the provider in a browser, which is redirected to our callback with
//      code + state;
//   4. hand state, code and client_nonce to auth/<mount>/oidc/callback, which returns the token.
// Traps: the callback is reachable by any local process, so the state is checked here (and again
// by Vault) and the client_nonce ties the code exchange to this process — a code stolen from the
// browser history cannot be redeemed without it. Only the first valid callback is used.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError, VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { describeToken, validateAuthMount, type LoginResult } from './login.js';

export const DEFAULT_OIDC_LISTEN = { host: '127.0.0.1', port: 8250 };
export const OIDC_CALLBACK_PATH = '/oidc/callback';
export const DEFAULT_OIDC_TIMEOUT_MS = 120_000;

/** "127.0.0.1:8250", "localhost:0", "[::1]:8250", ":8250" or "8250" → host and port. */
export function parseListenAddress(value: string): { host: string; port: number } {
  const v = value.trim();
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(v) ?? /^([^:[\]/]*):(\d{1,5})$/.exec(v) ?? /^()(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`invalid --listen "${value}"`, { hint: 'use host:port, e.g. 127.0.0.1:8250 (port 0 picks a free one)' });
  }
  return { host: m[1] || DEFAULT_OIDC_LISTEN.host, port };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Answer the browser; resolves once the page is handed to the kernel, so closing is safe. */
function page(res: ServerResponse, status: number, title: string, text: string): Promise<void> {
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>fleetvault: ${escapeHtml(title)}</title></head>` +
    `<body style="font-family:sans-serif;margin:3em"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>\n`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // The page shows nothing secret, but it must not be framed or leak the callback URL onwards.
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    connection: 'close',
  });
  return new Promise((resolve) => {
    res.once('close', resolve);
    res.end(body, () => resolve());
  });
}

export interface OidcLoginOptions {
  client: VaultClient;
  /** Auth mount, default "oidc". */
  mount?: string;
  /** Vault OIDC role; default: the mount's default_role. */
  role?: string;
  /** Where to listen for the browser's redirect. Default 127.0.0.1:8250; port 0 picks one. */
  listen?: { host: string; port: number };
  /** Port written into redirect_uri when it differs from the listening port (a forwarded port). */
  callbackPort?: number;
  /** How long to wait for the browser. Default 2 minutes. */
  timeoutMs?: number;
  /** Called once with the provider URL the user must open (print it, launch a browser). */
  onAuthUrl: (url: string, redirectUri: string) => void;
  /** Called for callbacks that were refused (wrong state, missing code), for diagnostics. */
  onNotice?: (message: string) => void;
}

interface Callback { code: string; state: string; res: ServerResponse }

export async function loginWithOidc(o: OidcLoginOptions): Promise<LoginResult> {
  const mount = validateAuthMount(o.mount ?? 'oidc');
  const listen = o.listen ?? DEFAULT_OIDC_LISTEN;
  const timeoutMs = o.timeoutMs ?? DEFAULT_OIDC_TIMEOUT_MS;
  const callbackVaultPath = `auth/${mount}/oidc/callback`;

  let onCallback: ((cb: Callback) => void) | undefined;
  let onProviderError: ((err: VaultError, res: ServerResponse) => void) | undefined;
  let expectedState: string | undefined;
  let taken = false;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://callback.invalid');
    if (url.pathname !== OIDC_CALLBACK_PATH || req.method !== 'GET') {
      void page(res, 404, 'Not found', 'This is the fleetvault login callback; nothing else lives here.');
      return;
    }
    if (taken) {
      void page(res, 409, 'Login already handled', 'fleetvault already received a login on this callback. You can close this window.');
      return;
    }
    const state = url.searchParams.get('state') ?? '';
    if (!expectedState || state !== expectedState) {
      // A stale tab or another local process: refuse without revealing or spending anything.
      o.onNotice?.('refused an OIDC callback with a wrong or missing state');
      void page(res, 400, 'Login refused', 'The login state does not match this fleetvault login. Start again with fleetvault login.');
      return;
    }
    const error = url.searchParams.get('error');
    if (error) {
      taken = true;
      const desc = url.searchParams.get('error_description');
      onProviderError?.(new VaultError(`the identity provider refused the login: ${error}${desc ? ` (${desc})` : ''}`, {
        path: callbackVaultPath, hint: 'check your account at the provider and the Vault role\'s bound claims',
      }), res);
      return;
    }
    const code = url.searchParams.get('code') ?? '';
    if (code === '') {
      o.onNotice?.('refused an OIDC callback without a code');
      void page(res, 400, 'Login refused', 'The callback carried no authorization code.');
      return;
    }
    taken = true;
    onCallback?.({ code, state, res });
  });
  server.on('clientError', (_e, socket) => socket.destroy());

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => { server.off('error', reject); resolve(); });
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new UsageError(`failed to listen on ${hostForUrl(listen.host)}:${listen.port} for the OIDC callback: ${code}`, {
      hint: code === 'EADDRINUSE' ? 'another login may be waiting; finish it or use --listen with another port (allowed in the role\'s allowed_redirect_uris)' : undefined,
    });
  }

  try {
    const port = (server.address() as AddressInfo).port;
    const redirectUri = `http://${hostForUrl(listen.host)}:${o.callbackPort ?? port}${OIDC_CALLBACK_PATH}`;
    const clientNonce = randomBytes(20).toString('hex');

    let authUrl: string;
    try {
      const r = await o.client.write<{ auth_url?: string }>(`auth/${mount}/oidc/auth_url`, {
        redirect_uri: redirectUri, client_nonce: clientNonce, ...(o.role ? { role: o.role } : {}),
      }, { anonymous: true });
      authUrl = r.data?.auth_url ?? '';
    } catch (e) {
      throw failedTo(`start the OIDC login at auth/${mount}`, e);
    }
    if (authUrl === '') {
      // Vault answers an empty auth_url (not an error) when the redirect_uri is not allowed.
      throw new VaultError(`failed to start the OIDC login at auth/${mount}: Vault returned no auth URL`, {
        path: `auth/${mount}/oidc/auth_url`,
        hint: `add ${redirectUri} to the role's allowed_redirect_uris (and check --role)`,
      });
    }
    expectedState = new URL(authUrl).searchParams.get('state') ?? undefined;
    if (!expectedState) {
      throw new VaultError(`failed to start the OIDC login at auth/${mount}: the auth URL has no state`, { path: `auth/${mount}/oidc/auth_url` });
    }

    const callback = new Promise<Callback>((resolve, reject) => {
      const timer = setTimeout(() => reject(new VaultError(
        `failed to log in with OIDC: no browser callback on ${redirectUri} within ${Math.round(timeoutMs / 1000)}s`,
        { path: callbackVaultPath, hint: 'finish the sign-in in the browser sooner or raise --callback-timeout; the provider must redirect to this URL' },
      )), timeoutMs);
      onCallback = (cb) => { clearTimeout(timer); resolve(cb); };
      onProviderError = (err, res) => {
        clearTimeout(timer);
        void page(res, 400, 'Login failed', `${err.message}. Return to the terminal.`).then(() => reject(err));
      };
    });
    o.onAuthUrl(authUrl, redirectUri);
    const cb = await callback;

    try {
      const q = new URLSearchParams({ state: cb.state, code: cb.code, client_nonce: clientNonce });
      // Not idempotent: an authorization code can be redeemed once.
      const r = await o.client.read(`${callbackVaultPath}?${q.toString()}`, { anonymous: true, idempotent: false });
      const token = r.auth?.client_token;
      if (!token) throw new VaultError('Vault returned no token', { path: callbackVaultPath });
      const result = await describeToken({ client: o.client, token, method: 'oidc' });
      await page(cb.res, 200, 'Signed in', 'fleetvault is logged in to Vault. You can close this window and return to the terminal.');
      return result;
    } catch (e) {
      const err = e instanceof VaultError
        ? new VaultError(`failed to complete the OIDC login at auth/${mount}: ${e.errors.join('; ') || e.message}`, {
          path: e.path, status: e.status, errors: e.errors, hint: 'check the role\'s bound claims and audiences, then log in again',
        })
        : failedTo(`complete the OIDC login at auth/${mount}`, e);
      await page(cb.res, 400, 'Login failed', `${err.message}. Return to the terminal.`);
      throw err;
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
