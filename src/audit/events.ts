// One audit record pair (request + response, as Vault/OpenBao's file device writes them) → the
// event shape of DESIGN.md: {time, kind, ok, actor, remoteAddress, path, details}.
//
// Traps this file exists to handle:
// - Vault HMACs every string it was not told to show in clear ("hmac-sha256:…"). An HMAC'd field
//   is never shown as if it were a value; its name goes into details.hashed so `audit resolve`
//   can be pointed at it.
// - Logical refusals (CIDR-bound AppRole login, TTL above max) carry no top-level `error`: Vault
//   puts the message in response.data.error, which is HMAC'd unless the mount un-HMACs `error`.
//   Permission denied carries both a top-level error and auth.policy_results.allowed = false.
// - A transit decrypt response carries the plaintext (HMAC'd by default; in clear if someone
//   tuned the mount so). Nothing is ever copied from response.data except an allow-list
//   (serial_number, key_version, error), so no configuration can make an event carry plaintext.
import { durationToSeconds } from '../config.js';

export type AuditEventKind = 'ssh-sign' | 'transit-encrypt' | 'transit-decrypt' | 'transit-rewrap' | 'login' | 'other';

export interface AuditEventDetails {
  /** Mount path without the trailing slash, e.g. "ssh-client-signer". */
  mount?: string;
  /** SSH role, transit key name or AppRole role. */
  role?: string;
  key?: string;
  principals?: string[];
  /** Requested validity in seconds (absent: the role's default ttl applied). */
  ttl?: number;
  /** Certificate serial, decimal (what sshd logs and `cert inspect` prints). */
  serial?: string;
  serialHex?: string;
  keyId?: string;
  reason?: string;
  certType?: string;
  extensions?: string[];
  keyVersion?: number;
  /** The transit derivation context decoded: fleetvault uses the fleet slug. */
  fleet?: string;
  /** Items in a transit batch_input request. */
  batchItems?: number;
  /** Token metadata (AppRole secret_id metadata names the factory batch). */
  metadata?: Record<string, string>;
  batch?: string;
  /** AppRole login: the role_id sent (logged in clear: not secret). Ties a refused login to its batch. */
  roleId?: string;
  entityId?: string;
  policies?: string[];
  /** Why the request was refused, or "(HMAC'd)" when Vault hid the message. */
  error?: string;
  /** Fields present but HMAC'd; `fleetvault audit resolve <value>` finds records by value. */
  hashed?: string[];
  /** A request whose response never appeared in the log (crash, cut log, or beyond the pairing window). */
  noResponse?: boolean;
  /**
   * A read or list the caller's policy allowed that found nothing: Vault answers "no default issuer
   * currently configured", "unable to find issuer for reference: …". Not a refusal (ok stays
   * true, details.error says what was missing): fleetvault's own existence probes in `init` and
   * `ca rotate` look exactly like this, and must not read as attacks in `audit anomalies`.
   */
  lookupMiss?: boolean;
}

export interface AuditEvent {
  time: string;
  kind: AuditEventKind;
  ok: boolean;
  actor: string;
  remoteAddress?: string;
  path: string;
  details: AuditEventDetails;
}

/** The parts of a file-audit record we read. Everything is optional: records come from outside. */
export interface RawAuditRecord {
  time?: string;
  type?: string;
  error?: string;
  auth?: RawAuth;
  request?: {
    id?: string;
    operation?: string;
    mount_point?: string;
    mount_type?: string;
    mount_class?: string;
    path?: string;
    data?: Record<string, unknown>;
    remote_address?: string;
  };
  response?: {
    auth?: RawAuth;
    data?: Record<string, unknown>;
  };
}

interface RawAuth {
  display_name?: string;
  entity_id?: string;
  policies?: string[];
  metadata?: Record<string, unknown>;
  policy_results?: { allowed?: boolean };
}

const HMAC_PREFIX = 'hmac-sha256:';

export function isHashed(v: unknown): boolean {
  return typeof v === 'string' && v.startsWith(HMAC_PREFIX);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return Object.keys(out).length ? out : undefined;
}

/** Kind from mount type + the path below the mount; path patterns when the log predates mount_type. */
export function classify(path: string, mountPoint?: string, mountType?: string, mountClass?: string): AuditEventKind {
  const rel = mountPoint && path.startsWith(mountPoint) ? path.slice(mountPoint.length) : undefined;
  if (mountType && rel !== undefined) {
    if (mountType === 'ssh' && /^(sign|issue)\//.test(rel)) return 'ssh-sign';
    if (mountType === 'transit') {
      const m = /^(encrypt|decrypt|rewrap)\//.exec(rel);
      if (m) return `transit-${m[1]}` as AuditEventKind;
      return 'other';
    }
    if (mountClass === 'auth' || path.startsWith('auth/')) return /^login(\/|$)/.test(rel) || /^oidc\/callback$/.test(rel) ? 'login' : 'other';
    return 'other';
  }
  if (/\/sign\/[^/]+$/.test(path) && !path.startsWith('sys/')) return 'ssh-sign';
  const t = /\/(encrypt|decrypt|rewrap)\/[^/]+$/.exec(path);
  if (t && !path.startsWith('sys/')) return `transit-${t[1]}` as AuditEventKind;
  if (/^auth\/.+\/login(\/|$)/.test(path)) return 'login';
  return 'other';
}

/**
 * Who acted: the token's display name, with the AppRole role name when there is one
 * ("approle/flasher"); the entity id when there is no display name; "anonymous" for requests
 * without a token (a refused login).
 */
export function actorOf(auth: RawAuth | undefined): string {
  const name = str(auth?.display_name);
  const role = str(auth?.metadata?.role_name);
  const base = name ?? str(auth?.entity_id) ?? (role ? 'approle' : 'anonymous');
  return role && role !== base ? `${base}/${role}` : base;
}

function decodeContext(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '' || isHashed(v)) return undefined;
  const b = Buffer.from(v, 'base64');
  // Not base64 at all (or not text): show nothing rather than mojibake.
  if (b.length === 0 || b.toString('base64').replace(/=+$/, '') !== v.replace(/=+$/, '')) return undefined;
  const s = b.toString('utf8');
  return s.includes('\ufffd') ? undefined : s;
}

function hexSerialToDecimal(hex: string): string | undefined {
  const h = hex.replace(/[^0-9a-f]/gi, '');
  if (h === '' || h.length > 40) return undefined;
  return BigInt('0x' + h).toString();
}

/**
 * Normalize a request/response pair. Either may be missing (a request evicted before its response,
 * a response whose request is in an earlier, unread file); the response repeats the request, so a
 * lone response loses nothing.
 */
export function normalizeAuditPair(request: RawAuditRecord | undefined, response: RawAuditRecord | undefined): AuditEvent | undefined {
  const rec = response ?? request;
  if (!rec) return undefined;
  const req = rec.request ?? request?.request;
  const path = str(req?.path) ?? '';
  const kind = classify(path, str(req?.mount_point), str(req?.mount_type), str(req?.mount_class));
  const hashed: string[] = [];
  const details: AuditEventDetails = {};
  const mount = str(req?.mount_point)?.replace(/\/+$/, '');
  if (mount) details.mount = mount;
  const reqData = (req?.data && typeof req.data === 'object' ? req.data : {}) as Record<string, unknown>;
  const respData = (response?.response?.data && typeof response.response.data === 'object' ? response.response.data : {}) as Record<string, unknown>;
  const lastSegment = path.split('/').pop() || undefined;

  // Refusals. The top-level error is Vault's own text (permission denied, invalid token…), never
  // user data; response.data.error is the backend's message and HMAC'd unless tuned otherwise.
  const topError = str(response?.error) ?? str(request?.error) ?? str(rec.error);
  const dataError = respData.error;
  const denied = rec.auth?.policy_results?.allowed === false;
  let ok = !topError && dataError === undefined && !denied;
  const operation = str(req?.operation);
  if (!ok && !topError && !denied && rec.auth?.policy_results?.allowed === true && (operation === 'read' || operation === 'list')) {
    ok = true;
    details.lookupMiss = true;
  }
  if (topError) details.error = topError.replace(/^\d+ errors? occurred:\s*/, '').replace(/\s*\*\s*/g, ' ').trim();
  else if (typeof dataError === 'string') details.error = isHashed(dataError) ? (details.lookupMiss ? "nothing found (message HMAC'd)" : "refused (message HMAC'd)") : dataError.trim();
  else if (denied) details.error = 'permission denied';

  const note = (field: string, v: unknown): string | undefined => {
    if (isHashed(v)) { hashed.push(field); return undefined; }
    return str(v);
  };

  if (kind === 'ssh-sign') {
    details.role = lastSegment;
    const principals = note('valid_principals', reqData.valid_principals);
    if (principals !== undefined) details.principals = principals.split(',').map((p) => p.trim()).filter(Boolean);
    const ttl = note('ttl', reqData.ttl);
    if (ttl !== undefined || typeof reqData.ttl === 'number') {
      try { details.ttl = durationToSeconds(typeof reqData.ttl === 'number' ? reqData.ttl : ttl!, 'ttl'); } catch { /* unparseable: leave out */ }
    }
    const keyId = note('key_id', reqData.key_id);
    if (keyId) details.keyId = keyId;
    const reason = note('reason', reqData.reason);
    if (reason) details.reason = reason;
    const certType = note('cert_type', reqData.cert_type);
    if (certType) details.certType = certType;
    if (reqData.extensions && typeof reqData.extensions === 'object' && !Array.isArray(reqData.extensions)) {
      details.extensions = Object.keys(reqData.extensions as object);
    }
    const serialHex = note('serial_number', respData.serial_number);
    if (serialHex) {
      details.serialHex = serialHex;
      const dec = hexSerialToDecimal(serialHex);
      if (dec) details.serial = dec;
    }
  } else if (kind.startsWith('transit-')) {
    details.key = lastSegment;
    details.fleet = decodeContext(reqData.context);
    if (isHashed(reqData.context)) hashed.push('context');
    const kv = typeof respData.key_version === 'number' ? respData.key_version : typeof reqData.key_version === 'number' ? reqData.key_version : undefined;
    if (kv !== undefined) details.keyVersion = kv;
    if (Array.isArray(reqData.batch_input)) {
      details.batchItems = reqData.batch_input.length;
      // A batch is only as good as its items: Vault answers 200 with per-item errors.
      const results = respData.batch_results;
      if (Array.isArray(results) && results.some((r) => r && typeof r === 'object' && 'error' in r && (r as { error?: unknown }).error)) {
        ok = false;
        details.error ??= 'one or more batch items failed';
      }
      const ctx = (reqData.batch_input as unknown[]).map((i) => decodeContext((i as { context?: unknown })?.context)).filter((x): x is string => !!x);
      if (!details.fleet && ctx.length) details.fleet = [...new Set(ctx)].join(',');
    }
    if (details.fleet === undefined) delete details.fleet;
    if (reqData.ciphertext !== undefined) hashed.push('ciphertext');
    if (reqData.plaintext !== undefined) hashed.push('plaintext');
  } else if (kind === 'login') {
    const role = str(reqData.role_name) ?? str(response?.response?.auth?.metadata?.role_name);
    if (role && !isHashed(role)) details.role = role;
    const roleId = str(reqData.role_id);
    if (roleId && !isHashed(roleId)) details.roleId = roleId;
  }

  // Identity: the caller's token; for a login, the identity it obtained.
  const auth = kind === 'login' && response?.response?.auth ? response.response.auth : rec.auth;
  const metadata = stringMap(auth?.metadata);
  if (metadata) {
    details.metadata = metadata;
    if (metadata.batch) details.batch = metadata.batch;
    if (metadata.role_name && kind !== 'ssh-sign' && !details.role) details.role = metadata.role_name;
  }
  if (str(auth?.entity_id)) details.entityId = auth!.entity_id;
  if (kind === 'login' && Array.isArray(auth?.policies) && ok) details.policies = auth!.policies!.filter((p) => typeof p === 'string');
  if (hashed.length) details.hashed = hashed;
  if (!response) details.noResponse = true;

  return {
    time: str(rec.time) ?? str(request?.time) ?? '',
    kind,
    ok,
    actor: actorOf(auth),
    remoteAddress: str(req?.remote_address),
    path,
    details,
  };
}
