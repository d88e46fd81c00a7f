// A real OpenID Provider on 127.0.0.1 for OIDC login tests: the `oidc-provider` package (v9) with
// its development interactions (a login form that accepts any login name as the subject, then a
// consent form). Not a stand-in: OpenBao's OIDC auth backend discovers it, exchanges codes with it
// and verifies its RS256-signed id_tokens exactly as it would with a hosted provider.
// Also a tiny browser (fetch with manual redirects and a cookie jar) that completes its forms.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OidcProviderHandle {
  /** The issuer URL, also the discovery base (…/.well-known/openid-configuration). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  stop(): Promise<void>;
}

export interface OidcProviderOptions {
  /** redirect_uris the client may use (the CLI's loopback callback). */
  redirectUris: string[];
  /** Extra claims per subject, e.g. groups. */
  claims?: (sub: string) => Record<string, unknown>;
}

type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => {
  callback(): (req: unknown, res: unknown) => void;
  on(event: string, fn: (...args: unknown[]) => void): void;
};

export async function startOidcProvider(o: OidcProviderOptions): Promise<OidcProviderHandle> {
  // oidc-provider ships no type declarations; a non-literal specifier keeps tsc from demanding them.
  const specifier: string = 'oidc-provider';
  const { default: Provider } = (await import(specifier)) as { default: ProviderCtor };

  // Bind first: the issuer must carry the real port, and the provider is built with its issuer.
  let handler: ((req: unknown, res: unknown) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (!handler) { res.statusCode = 503; res.end(); return; }
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test-' + randomBytes(4).toString('hex') };
  const clientId = 'fleetvault-' + randomBytes(4).toString('hex');
  const clientSecret = randomBytes(24).toString('hex');

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: o.redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    features: { devInteractions: { enabled: true } },
    // Explicit lifetimes (seconds) keep the provider from printing a notice for each default.
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    // Claims go into the id_token too: OpenBao reads user_claim / groups_claim from it.
    conformIdTokenClaims: false,
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@example.test`, email_verified: true, ...o.claims?.(sub) }),
    }),
    // Short-lived test server: keep the console quiet about dev-only defaults.
    renderError: async (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = 'html';
      ctx.body = `<p>${Object.entries(out).map(([k, v]) => `${k}: ${String(v).replace(/[<&]/g, '')}`).join('<br>')}</p>`;
    },
  });
  handler = provider.callback();

  return {
    issuer,
    clientId,
    clientSecret,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A minimal cookie-carrying browser: follows redirects by hand so each hop can be inspected. */
export class TestBrowser {
  private readonly jar = new Map<string, { value: string; path: string; origin: string }>();
  /** Every URL visited, in order (redirect hops included). */
  readonly visited: string[] = [];

  private cookieHeader(url: URL): string {
    const out: string[] = [];
    for (const [key, c] of this.jar) {
      if (c.origin === url.origin && url.pathname.startsWith(c.path)) out.push(`${key.split('\u0000')[0]}=${c.value}`);
    }
    return out.join('; ');
  }

  private keepCookies(url: URL, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const a of attrs) {
        const [k, v] = a.split('=').map((s) => s.trim());
        if (k!.toLowerCase() === 'path' && v) path = v;
        if (k!.toLowerCase() === 'expires' && v && Date.parse(v) <= Date.now()) expired = true;
        if (k!.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      const key = `${name}\u0000${path}`;
      if (expired || value === '') this.jar.delete(key);
      else this.jar.set(key, { value, path, origin: url.origin });
    }
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const u = new URL(url);
    this.visited.push(u.href);
    const headers: Record<string, string> = {};
    const cookie = this.cookieHeader(u);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(u, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.keepCookies(u, res);
    return res;
  }

  /**
   * Follow redirects from url until a page that is not a redirect, or until the next hop would
   * leave for stopAt's origin (returned unvisited so the caller decides what to do with it).
   */
  async follow(url: string, o: { method?: string; form?: Record<string, string>; stopAtOrigin?: string } = {}): Promise<{ res?: Response; url: string }> {
    let current = url;
    let res = await this.request(current, { method: o.method, form: o.form });
    for (let hops = 0; hops < 20; hops++) {
      if (res.status < 300 || res.status >= 400) return { res, url: current };
      const loc = res.headers.get('location');
      if (!loc) throw new Error(`redirect without Location from ${current}`);
      await res.arrayBuffer();
      current = new URL(loc, current).href;
      if (o.stopAtOrigin && new URL(current).origin === o.stopAtOrigin) return { url: current };
      res = await this.request(current);
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

/** The first <form> of a page: its absolute action URL and its hidden/preset inputs. */
export function parseForm(html: string, pageUrl: string): { action: string; fields: Record<string, string> } {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form on ${pageUrl}: ${html.slice(0, 300)}`);
  const action = /action="([^"]*)"/i.exec(form[0])?.[1] ?? pageUrl;
  const fields: Record<string, string> = {};
  for (const input of form[1]!.matchAll(/<input\b[^>]*>/gi)) {
    const name = /name="([^"]*)"/i.exec(input[0])?.[1];
    const value = /value="([^"]*)"/i.exec(input[0])?.[1] ?? '';
    if (name) fields[name] = value.replace(/&amp;/g, '&');
  }
  return { action: new URL(action.replace(/&amp;/g, '&'), pageUrl).href, fields };
}

/**
 * Act as the user in the browser: open authUrl, sign in as `subject` on the provider's login form,
 * approve the consent form, and stop at the redirect to the CLI's callback (callbackOrigin).
 * Returns the callback URL (with code and state) without visiting it.
 */
export async function signInAtProvider(browser: TestBrowser, authUrl: string, subject: string, callbackOrigin: string): Promise<string> {
  let step = await browser.follow(authUrl, { stopAtOrigin: callbackOrigin });
  for (let i = 0; i < 4 && step.res; i++) {
    const html = await step.res.text();
    if (step.res.status !== 200) throw new Error(`provider answered ${step.res.status} at ${step.url}: ${html.slice(0, 300)}`);
    const { action, fields } = parseForm(html, step.url);
    const form = fields.prompt === 'login' ? { ...fields, login: subject, password: 'any' } : fields;
    step = await browser.follow(action, { method: 'POST', form, stopAtOrigin: callbackOrigin });
  }
  if (step.res) throw new Error(`sign-in did not reach the callback; stuck at ${step.url}`);
  return step.url;
}
