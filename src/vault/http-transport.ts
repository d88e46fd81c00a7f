// node-vault's transport, on node:http/https. node-vault stays the API layer (paths, token and
// namespace headers, response handling, ApiResponseError) through its documented
// `request-promise` option; only the HTTP round trip is ours. Why: node-vault's built-in transport
// is axios, which with form-data, mime-db and proxy support is most of what `cert sign` used to
// load before it sent its one request — and what it does for us (a JSON body, a timeout, TLS
// options, a bound source address) is a few lines of node:http.
import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';

// node:https (and with it node:tls) loads only for an https:// Vault: a noticeable part of a
// short command's start-up that an http:// dev server or a local agent never needs.
const require = createRequire(import.meta.url);
const https = () => require('node:https') as typeof import('node:https');

/** What node-vault hands its transport (request's option names, merged with config.requestOptions). */
export interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  /** An object is the JSON body; `true` (from rpDefaults) only asks for a JSON answer. */
  json?: unknown;
  timeout?: number;
  httpAgent?: HttpAgent;
  ca?: string;
  cert?: string;
  key?: string;
  strictSSL?: boolean;
}

export interface TransportResponse {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

interface TransportError extends Error { code?: string }

/**
 * The object node-vault expects as `config['request-promise']`: `defaults(rpDefaults)` returns the
 * function it calls per request. One https.Agent for the client's TLS settings (node-vault passes
 * the same ca/cert/key/strictSSL on every call); keep-alive off so a finished command exits at once.
 */
export function nodeHttpTransport(): { defaults(d: Partial<TransportRequest>): (o: TransportRequest) => Promise<TransportResponse> } {
  return {
    defaults(d) {
      let httpsAgent: HttpsAgent | undefined;
      let agentKey = '';
      const agentFor = (o: TransportRequest): HttpsAgent => {
        const tls = { ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: o.strictSSL !== false };
        const k = JSON.stringify([tls.ca?.length, tls.cert?.length, tls.key?.length, tls.rejectUnauthorized]);
        if (!httpsAgent || k !== agentKey) {
          httpsAgent = new (https().Agent)({ ...tls, keepAlive: false });
          agentKey = k;
        }
        return httpsAgent;
      };
      return (call) => {
        const o = { ...d, ...call } as TransportRequest;
        return new Promise<TransportResponse>((resolve, reject) => {
          const url = new URL(o.uri);
          const body = o.json !== undefined && typeof o.json === 'object' ? JSON.stringify(o.json) : undefined;
          const headers: Record<string, string> = { Accept: 'application/json', ...o.headers };
          if (body !== undefined) {
            headers['Content-Type'] ??= 'application/json';
            headers['Content-Length'] = String(Buffer.byteLength(body));
          }
          const secure = url.protocol === 'https:';
          const req = (secure ? https().request : httpRequest)(url, {
            method: o.method,
            headers,
            agent: secure ? agentFor(o) : o.httpAgent,
          }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              // As axios did: JSON when it parses, else the text (<mount>/public_key is plain
              // text), '' for an empty body (204).
              let parsed: unknown = text;
              if (text !== '') try { parsed = JSON.parse(text); } catch { parsed = text; }
              resolve({ statusCode: res.statusCode ?? 0, body: parsed, request: { path: url.pathname } });
            });
          });
          if (o.timeout) {
            req.setTimeout(o.timeout, () => {
              const e: TransportError = new Error(`timeout of ${o.timeout}ms exceeded`);
              e.code = 'ECONNABORTED';
              req.destroy(e);
            });
          }
          req.on('error', reject);
          req.end(body);
        });
      };
    },
  };
}
