// The one Vault client: a typed wrapper over node-vault's generic read/write/list/delete.
// Deliberately not using node-vault's transit helpers or tokenRenew (known quirks: they drop
// fields and mis-handle renewals); every call goes through request() below, which turns every
// failure into a VaultError carrying status + path and never the token.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { VaultError, UsageError } from '../errors.js';
import { nodeHttpTransport } from './http-transport.js';
import type { HealthStatus, VaultResponse } from './types.js';

const require = createRequire(import.meta.url);

/**
 * node-vault, preferably the copy the build bundles into dist/vendor/node-vault.cjs (one file, with
 * axios and debug left out: see http-transport.ts); the package itself from source and tests.
 */
function loadNodeVault(): (c: object) => NodeVault {
  try {
    return require(fileURLToPath(new URL('../vendor/node-vault.cjs', import.meta.url))) as (c: object) => NodeVault;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    return require('node-vault') as (c: object) => NodeVault;
  }
}

/** axios honours HTTP(S)_PROXY / NO_PROXY; with any of them set node-vault keeps its own transport. */
function proxyConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'].some((k) => !!env[k]);
}

export interface VaultClientOptions {
  address: string;
  token?: string;
  namespace?: string;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  tlsSkipVerify?: boolean;
  timeoutMs?: number;
  /** Retries for idempotent requests (connection errors, 429, 503, standby). Default 3. */
  retries?: number;
  /** Extra headers on every request (e.g. X-Forwarded-For in tests of proxy trust). */
  headers?: Record<string, string>;
  /** Bind the client's source address (http:// only): tests of factory CIDR bindings on loopback. */
  localAddress?: string;
  /**
   * Other nodes of the same cluster (HA / integrated storage), tried after `address` when a node
   * cannot be reached. On a connection error the client asks every node's sys/health and moves to
   * the active one (a standby whose leader just died answers bogus 404s and 500s until the
   * election ends, so "any node that answers" is not good enough). Reads and requests marked
   * idempotent fail over on any connection error; other writes only on ECONNREFUSED, when the
   * request certainly never reached a server — a write cut off mid-flight may have been applied.
   */
  addresses?: string[];
  /** How long a failover waits for a new active node (ms). Default 30 000. */
  failoverTimeoutMs?: number;
  /**
   * Directory of the signing cache (SSH role + CA per server/mount/role, see signing-cache.ts).
   * Unset: signUserKey reads both from Vault every time. connect() sets it for the CLI.
   */
  signingCacheDir?: string;
  /** What to suggest when the server cannot be reached (e.g. where a running dev server is). */
  unreachableHint?: string;
}

export interface RequestOptions {
  /** Safe to repeat: reads, lists, deletes and writes the caller marks as such. */
  idempotent?: boolean;
  /** Ask Vault to response-wrap the answer for this long ("60s", "24h"). */
  wrapTtl?: string;
  /** Use this token for this one request instead of the client's. */
  token?: string;
  /** Send no token at all (logins, unwrap with its own token). */
  anonymous?: boolean;
}

type NodeVault = {
  read(path: string, o?: object): Promise<unknown>;
  write(path: string, data: unknown, o?: object): Promise<unknown>;
  list(path: string, o?: object): Promise<unknown>;
  delete(path: string, o?: object): Promise<unknown>;
  token?: string;
};

const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

const noDebug = Object.assign(() => {}, { enabled: false });

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function readPem(path: string | undefined, what: string): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`failed to read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

export class VaultClient {
  readonly namespace?: string;
  readonly signingCacheDir?: string;
  private token?: string;
  /** One node-vault instance per cluster node (node-vault binds one endpoint); `current` is in use. */
  private readonly nodes: { address: string; nv: NodeVault }[];
  private current = 0;
  private failingOver?: Promise<boolean>;
  private readonly failoverTimeoutMs: number;
  private readonly retries: number;
  private readonly unreachableHint?: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly httpAgent?: HttpAgent;

  constructor(opts: VaultClientOptions) {
    this.namespace = opts.namespace;
    this.signingCacheDir = opts.signingCacheDir;
    this.token = opts.token;
    this.retries = opts.retries ?? 3;
    this.unreachableHint = opts.unreachableHint;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.headers = { ...opts.headers };
    if (opts.localAddress) this.httpAgent = new HttpAgent({ localAddress: opts.localAddress });
    const tls: Record<string, unknown> = {
      // Always explicit: node-vault's own default reads VAULT_SKIP_VERIFY as "any value = skip".
      strictSSL: !opts.tlsSkipVerify,
    };
    const ca = readPem(opts.caCert, 'CA certificate');
    const cert = readPem(opts.clientCert, 'client certificate');
    const key = readPem(opts.clientKey, 'client key');
    if (ca) tls.ca = ca;
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    const nodeVault = loadNodeVault();
    const transport = proxyConfigured() ? {} : { 'request-promise': nodeHttpTransport(), debug: noDebug };
    this.failoverTimeoutMs = opts.failoverTimeoutMs ?? 30_000;
    const addresses = [...new Set([opts.address, ...(opts.addresses ?? [])].map((a) => a.replace(/\/+$/, '')))];
    this.nodes = addresses.map((address) => ({ address, nv: nodeVault({
      endpoint: address,
      // node-vault falls back to VAULT_TOKEN/VAULT_NAMESPACE from the environment when these are
      // empty; we pass tokens per request instead so the config resolver stays the only source.
      token: '',
      namespace: opts.namespace ?? '',
      rpDefaults: { strictSSL: !opts.tlsSkipVerify, timeout: this.timeoutMs },
      requestOptions: tls,
      ...transport,
    }) }));
  }

  /** The node requests go to now (changes after a failover). */
  get address(): string {
    return this.nodes[this.current]!.address;
  }

  hasToken(): boolean {
    return !!this.token;
  }

  setToken(token: string | undefined): void {
    this.token = token;
  }

  /** For handing the session token to child processes through env, never argv. */
  currentToken(): string | undefined {
    return this.token;
  }

  async read<T = Record<string, unknown>>(path: string, o: RequestOptions = {}): Promise<VaultResponse<T>> {
    return this.request<T>('read', path, undefined, { idempotent: true, ...o });
  }

  /** read(), but a 404 is null instead of an error. */
  async readOptional<T = Record<string, unknown>>(path: string, o: RequestOptions = {}): Promise<VaultResponse<T> | null> {
    try {
      return await this.read<T>(path, o);
    } catch (e) {
      if (e instanceof VaultError && e.status === 404) return null;
      throw e;
    }
  }

  async write<T = Record<string, unknown>>(path: string, data: Record<string, unknown> = {}, o: RequestOptions = {}): Promise<VaultResponse<T>> {
    return this.request<T>('write', path, data, o);
  }

  async list(path: string, o: RequestOptions = {}): Promise<string[]> {
    try {
      const r = await this.request<{ keys?: string[] }>('list', path, undefined, { idempotent: true, ...o });
      return r?.data?.keys ?? [];
    } catch (e) {
      if (e instanceof VaultError && e.status === 404) return [];
      throw e;
    }
  }

  async delete(path: string, o: RequestOptions = {}): Promise<void> {
    await this.request('delete', path, undefined, { idempotent: true, ...o });
  }

  /** sys/health answers without a token and with non-200 codes for sealed/standby. */
  async health(): Promise<HealthStatus> {
    const body = await this.request<never>('read', 'sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200', undefined, {
      idempotent: true,
      anonymous: true,
    });
    return body as unknown as HealthStatus;
  }

  private async request<T>(
    op: 'read' | 'write' | 'list' | 'delete',
    path: string,
    data: Record<string, unknown> | undefined,
    o: RequestOptions,
  ): Promise<VaultResponse<T>> {
    const token = o.anonymous ? undefined : (o.token ?? this.token);
    const headers: Record<string, string> = { ...this.headers };
    if (token) headers['X-Vault-Token'] = token;
    if (o.wrapTtl) headers['X-Vault-Wrap-TTL'] = o.wrapTtl;
    const reqOpts = { headers, timeout: this.timeoutMs, ...(this.httpAgent ? { httpAgent: this.httpAgent } : {}) };
    const clustered = this.nodes.length > 1;
    const attempts = o.idempotent || clustered ? this.retries + 1 : 1;
    let lastErr: unknown;
    let failedOver = false;
    for (let attempt = 0; attempt < attempts; attempt++) {
      // Straight after a failover the new active node is known good: no back-off.
      if (attempt > 0 && !failedOver) await sleep(Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random()));
      failedOver = false;
      const node = this.current;
      const nv = this.nodes[node]!.nv;
      try {
        const body =
          op === 'write' ? await nv.write(path, data ?? {}, reqOpts)
          : op === 'read' ? await nv.read(path, reqOpts)
          : op === 'list' ? await nv.list(path, reqOpts)
          : await nv.delete(path, reqOpts);
        return (body ?? { data: {} }) as VaultResponse<T>;
      } catch (e) {
        lastErr = e;
        const code = (e as { code?: string })?.code ?? '';
        if (clustered && RETRYABLE_CODES.has(code) && (o.idempotent || code === 'ECONNREFUSED')) {
          if (await this.failover(node)) { failedOver = true; continue; }
          break;
        }
        if (!o.idempotent || !this.isRetryable(e)) break;
      }
    }
    throw this.toVaultError(lastErr, path);
  }

  /**
   * Find the active node after `failed` stopped answering: poll every node's sys/health (no token,
   * short timeout) until one reports active, unsealed and not standby. Concurrent requests share
   * one search. False when none became active within failoverTimeoutMs.
   */
  private failover(failed: number): Promise<boolean> {
    if (this.current !== failed) return Promise.resolve(true); // another request already moved on
    this.failingOver ??= (async () => {
      const deadline = Date.now() + this.failoverTimeoutMs;
      try {
        while (Date.now() < deadline) {
          for (let k = 1; k <= this.nodes.length; k++) {
            const i = (failed + k) % this.nodes.length;
            try {
              const h = (await this.nodes[i]!.nv.read('sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200', {
                timeout: 1000, ...(this.httpAgent ? { httpAgent: this.httpAgent } : {}),
              })) as HealthStatus;
              if (h.initialized && !h.sealed && !h.standby) { this.current = i; return true; }
            } catch { /* down too */ }
          }
          await sleep(200);
        }
        return false;
      } finally {
        this.failingOver = undefined;
      }
    })();
    return this.failingOver;
  }

  private isRetryable(e: unknown): boolean {
    const err = e as { code?: string; response?: { statusCode?: number; body?: { errors?: string[] } } };
    if (err?.code && RETRYABLE_CODES.has(err.code)) return true;
    const status = err?.response?.statusCode;
    if (status === 429) return true;
    if (status === 503) {
      // Sealed is not going to fix itself in a second; standby / overload may.
      const msgs = (err.response?.body?.errors ?? []).join(' ');
      return !/sealed/i.test(msgs);
    }
    return false;
  }

  private toVaultError(e: unknown, path: string): VaultError {
    const cleanPath = path.split('?')[0]!;
    const err = e as { code?: string; message?: string; response?: { statusCode?: number; body?: unknown } };
    if (err?.response?.statusCode !== undefined) {
      const status = err.response.statusCode;
      const body = err.response.body as { errors?: unknown[] } | undefined;
      const errors = (Array.isArray(body?.errors) ? body!.errors : []).map((x) => vaultErrorText(String(x))).filter((x) => x !== '');
      return describeStatus(status, cleanPath, errors, this.address);
    }
    const code = err?.code ?? '';
    if (code === 'ECONNRESET' && this.nodes.length > 1) {
      return new VaultError(`connection to Vault at ${this.address} was lost mid-request (ECONNRESET); the request may or may not have been applied`, {
        path: cleanPath, hint: 'check what the request did before repeating it', cause: code,
      });
    }
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNRESET' || code === 'EHOSTUNREACH') {
      return new VaultError(`cannot reach Vault at ${this.address} (${code})`, {
        path: cleanPath,
        hint: this.unreachableHint ?? 'check VAULT_ADDR and that the server is running',
        cause: code,
      });
    }
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout/i.test(err?.message ?? '')) {
      return new VaultError(`Vault at ${this.address} did not answer within ${Math.round(this.timeoutMs / 1000)}s`, {
        path: cleanPath, hint: 'check the network or raise --timeout',
      });
    }
    // https:// to a plain-HTTP listener: the TLS handshake gets an HTTP answer ("wrong version
    // number"). That is not a verification failure, and --ca-cert would not help.
    if (this.address.startsWith('https:') && (code === 'EPROTO' || /wrong version number|packet length too long|http request/i.test(err?.message ?? ''))) {
      return new VaultError(`Vault at ${this.address} speaks plain HTTP, not TLS`, {
        path: cleanPath, hint: `use ${this.address.replace(/^https:/, 'http:')} (VAULT_ADDR / --address), or enable TLS on the listener`,
      });
    }
    if (/certificate|self[- ]signed|SSL|TLS|UNABLE_TO_VERIFY|CERT_/i.test(`${code} ${err?.message ?? ''}`)) {
      return new VaultError(`TLS verification of ${this.address} failed (${code || err?.message})`, {
        path: cleanPath, hint: 'pass the server CA with --ca-cert / VAULT_CACERT',
      });
    }
    // axios errors carry the request config (including headers with the token) — take only the message.
    return new VaultError(`request to ${this.address} failed: ${code || err?.message || 'unknown error'}`, { path: cleanPath });
  }
}

export function describeStatus(status: number, path: string, errors: string[], address: string): VaultError {
  const detail = errors.join('; ');
  if (status === 403) {
    return new VaultError(`permission denied on ${path}${detail && !/permission denied/i.test(detail) ? `: ${detail}` : ''}`, {
      path, status, errors, hint: 'check the token (fleetvault login) and its policies',
    });
  }
  if (status === 503 && /sealed/i.test(detail)) {
    return new VaultError(`Vault at ${address} is sealed`, { path, status, errors, hint: 'unseal it (bao operator unseal) and retry' });
  }
  if (status === 404) {
    return new VaultError(`${path} not found${detail ? `: ${detail}` : ''}`, { path, status, errors });
  }
  if (status === 500 && (detail === '' || /^internal error$/i.test(detail) || /audit/i.test(detail))) {
    // A Vault that cannot write any audit device refuses every request (fails closed) and tells
    // the client only "internal error"; the reason ("no audit backend succeeded in logging the
    // request") is in the server log alone. Nothing else produces this bare 500 as routinely.
    return new VaultError(`Vault at ${address} refused the request with "internal error" (HTTP 500), most likely because it cannot write its audit log (it fails closed)`, {
      path, status, errors, hint: 'check the audit device in the server log (disk full, permissions, a removed directory)',
    });
  }
  return new VaultError(`${path}: ${detail || `HTTP ${status}`}`, { path, status, errors });
}

/**
 * Vault's wrapped Go errors as one line: "1 error occurred:\n\t* failed to verify subset
 * relationship … %!w(<nil>)" → "failed to verify subset relationship …". Vault prints hashicorp
 * multierror lists and Go's %!w(<nil>) formatting slip verbatim into its answers.
 */
export function vaultErrorText(s: string): string {
  return s
    .replace(/^\s*\d+ errors? occurred:\s*/, '')
    .replace(/%!w\(<nil>\)/g, '')
    .replace(/\s*\n\s*\*\s*/g, '; ')
    .replace(/^\s*\*\s*/, '')
    .replace(/[:;,]?\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}
