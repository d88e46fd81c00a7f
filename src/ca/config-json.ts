// Editing balenaOS config.json `os.sshKeys`: balenaOS copies each entry verbatim into
// authorized_keys, so a bad entry locks people out or lets the wrong people in. The editor is
// pure (text in, text out) so the same code runs for local files, disk images and remote devices.
import sshpk from 'sshpk';
import { UsageError } from '../errors.js';
import { readJson } from '../fs/json.js';
import { FLEETVAULT_MARKER } from './authorized-key.js';
import { BREAK_GLASS_PRINCIPAL, DEVICE_PREFIX, FLEET_PREFIX } from '../access/principals.js';

export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface ParsedConfig {
  config: Record<string, unknown>;
  sshKeys: string[];
  indent: string | number;
  trailingNewline: boolean;
}

/** Parse and validate config.json text; every problem is one clear UsageError (exit 1). */
export function parseConfigJson(text: string | Buffer, source = 'config.json'): ParsedConfig {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const bad = (why: string) => new UsageError(`${source} ${why}; left unchanged`);
  if (buf.length === 0) throw bad('is empty');
  if (buf.length > MAX_CONFIG_BYTES) throw bad(`is ${buf.length} bytes, larger than config.json can be (${MAX_CONFIG_BYTES})`);
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) throw bad('starts with a UTF-8 byte order mark (balenaOS cannot read it)');
  // Strict UTF-8 (a lenient decode would write U+FFFD back over the bytes) and no duplicate keys
  // (JSON.parse keeps the last "os", so the operator's key in the first one would be dropped).
  const read = readJson(buf, { refuseDuplicateKeys: true });
  if (!read.ok && read.why.startsWith('is not valid UTF-8')) throw bad(read.why);
  const s = buf.toString('utf8');
  if (s.includes('\r')) throw bad('has CRLF line endings (edited on Windows?)');
  if (s.includes('\u0000')) throw bad('contains a NUL byte');
  if (!read.ok) throw bad(read.why);
  const config = read.value;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw bad('is not a JSON object');
  const c = config as Record<string, unknown>;
  let sshKeys: string[] = [];
  if ('os' in c) {
    if (c.os === null || typeof c.os !== 'object' || Array.isArray(c.os)) throw bad('has an "os" that is not an object');
    const os = c.os as Record<string, unknown>;
    if ('sshKeys' in os) {
      if (!Array.isArray(os.sshKeys)) throw bad('has an "os.sshKeys" that is not an array');
      os.sshKeys.forEach((k, i) => {
        if (typeof k !== 'string') throw bad(`has a non-string os.sshKeys[${i}]`);
        if (/[\n\r\u0000]/.test(k)) throw bad(`has os.sshKeys[${i}] containing a newline or NUL (it would inject authorized_keys lines)`);
      });
      sshKeys = os.sshKeys as string[];
    }
  }
  return { config: c, sshKeys, indent: detectIndent(s), trailingNewline: s.endsWith('\n') };
}

function detectIndent(s: string): string | number {
  const m = /^\{\s*\n([ \t]+)"/.exec(s);
  if (!m) return 0; // minified: keep it minified
  return m[1]!.startsWith('\t') ? '\t' : m[1]!.length;
}

export function serializeConfig(p: Pick<ParsedConfig, 'config' | 'indent' | 'trailingNewline'>): string {
  const out = JSON.stringify(p.config, null, p.indent);
  return p.trailingNewline ? out + '\n' : out;
}

/**
 * An authorized_keys line read the way sshd reads it (OpenSSH auth2-pubkeyfile.c, auth-options.c
 * sshauthopt_parse, sshkey_advance_past_options). One parser for every question fleetvault asks
 * about a line — is it a CA line, which principals, which key — so none of them can be fooled by
 * a spelling that sshd honours:
 * - blank lines and lines whose first non-blank character is `#` are ignored by sshd;
 * - a line starting with a key type has no options; otherwise the options field runs to the first
 *   space or tab outside double quotes, and `\"` never opens or closes a quote (sshd skips both
 *   characters, inside quotes and out), so `environment="X=\" ssh-ed25519 <decoy>"` hides nothing;
 * - option names are matched without case (`CERT-AUTHORITY,PRINCIPALS="root"` works on sshd);
 * - a quoted value reads `\"` as `"`.
 */
export interface AuthorizedKeyLine {
  /** Blank or `#` comment: sshd ignores it. */
  ignored: boolean;
  /** The raw options field ('' when none). */
  optionsText: string;
  /** Options in order, names lower-cased, quoted values unquoted. */
  options: { name: string; value?: string }[];
  /** Text after the options field: key type, key, comment. */
  rest: string;
}

const KEY_TYPE = /^(?:ssh|ecdsa-sha2|sk-)[a-z0-9@.\-]*$/;

export function parseAuthorizedKeyLine(line: string): AuthorizedKeyLine {
  const s = line.replace(/^[ \t]+/, '');
  if (s === '' || s.startsWith('#')) return { ignored: true, optionsText: '', options: [], rest: '' };
  const first = /^\S*/.exec(s)![0];
  if (KEY_TYPE.test(first)) return { ignored: false, optionsText: '', options: [], rest: s };
  let i = 0;
  let quoted = false;
  for (; i < s.length && (quoted || (s[i] !== ' ' && s[i] !== '\t')); i++) {
    if (s[i] === '\\' && s[i + 1] === '"') i++;
    else if (s[i] === '"') quoted = !quoted;
  }
  const optionsText = s.slice(0, i);
  return { ignored: false, optionsText, options: splitOptions(optionsText), rest: s.slice(i).replace(/^[ \t]+/, '') };
}

/** `name[=value]` items separated by commas outside quotes; quoted values dequoted (`\"` → `"`). */
function splitOptions(text: string): { name: string; value?: string }[] {
  const out: { name: string; value?: string }[] = [];
  let i = 0;
  while (i < text.length) {
    let j = i;
    let quoted = false;
    for (; j < text.length && (quoted || text[j] !== ','); j++) {
      if (text[j] === '\\' && text[j + 1] === '"') j++;
      else if (text[j] === '"') quoted = !quoted;
    }
    const item = text.slice(i, j);
    const eq = item.indexOf('=');
    if (eq < 0) out.push({ name: item.toLowerCase() });
    else {
      const raw = item.slice(eq + 1);
      const value = raw.startsWith('"') ? raw.slice(1, raw.endsWith('"') && raw.length > 1 ? -1 : undefined).replace(/\\"/g, '"') : raw;
      out.push({ name: item.slice(0, eq).toLowerCase(), value });
    }
    i = j + 1;
  }
  return out;
}

/**
 * SHA256 fingerprint of the key in an authorized_keys line (any options), or undefined. The key is
 * read where sshd reads it — right after the options field (see parseAuthorizedKeyLine) — never
 * from inside a quoted option value: `environment="X=1 ssh-ed25519 AAAA…"` would otherwise hide
 * the real key of the line (a principals="root" line of the CA would survive a migration).
 */
export function keyFingerprint(line: string): string | undefined {
  const p = parseAuthorizedKeyLine(line);
  if (p.ignored) return undefined;
  const m = /^((?:ssh|ecdsa-sha2|sk-)[a-z0-9@.\-]*\s+[A-Za-z0-9+/=]+)(?:\s|$)/.exec(p.rest);
  if (!m) return undefined;
  try {
    return sshpk.parseKey(m[1]!, 'ssh').fingerprint('sha256').toString();
  } catch {
    return undefined;
  }
}

/**
 * A principals= list of scoped names only (device-, fleet-, break-glass, at least one device- or
 * fleet-): the CA opens only certificates for those scopes, never a root certificate.
 */
export function isScopedPrincipalList(p: string | undefined): boolean {
  return isRootFreePrincipalList(p) && (p ?? '').split(',').some((n) => n.startsWith(DEVICE_PREFIX) || n.startsWith(FLEET_PREFIX));
}

/**
 * Names only device-, fleet- and break-glass principals — no `root`, no other user: the line never
 * lets a root certificate in, so replacing it with an unscoped line is a downgrade (a hand-written
 * principals="break-glass" line included).
 */
export function isRootFreePrincipalList(p: string | undefined): boolean {
  const names = (p ?? '').split(',').filter(Boolean);
  return names.length > 0
    && names.every((n) => n.startsWith(DEVICE_PREFIX) || n.startsWith(FLEET_PREFIX) || n === BREAK_GLASS_PRINCIPAL);
}

/**
 * The principals="…" option of an authorized_keys line (name in any case, as sshd reads it), or
 * undefined. Trap: `principals="…"` anywhere else — in the comment — restricts nothing.
 */
export function linePrincipals(line: string): string | undefined {
  return parseAuthorizedKeyLine(line).options.find((o) => o.name === 'principals')?.value;
}

/** A line sshd reads as trusting a CA: a cert-authority option in any case, not commented out. */
export function isCertAuthorityLine(line: string): boolean {
  const p = parseAuthorizedKeyLine(line);
  return !p.ignored && p.options.some((o) => o.name === 'cert-authority');
}

/** The options field of an authorized_keys line (text before the key type), '' when there is none. */
export function authorizedKeyOptions(line: string): string {
  return parseAuthorizedKeyLine(line).optionsText;
}

export function isFleetvaultLine(line: string): boolean {
  return isCertAuthorityLine(line) && line.includes(` ${FLEETVAULT_MARKER}`);
}

export interface TrustedCa {
  fingerprint: string;
  principals?: string;
  fleetvault: boolean;
  line: string;
}

/** The CA keys a config.json trusts (cert-authority lines). */
export function trustedCas(sshKeys: string[]): TrustedCa[] {
  return sshKeys.filter(isCertAuthorityLine).map((line) => ({
    fingerprint: keyFingerprint(line) ?? 'unparseable',
    principals: linePrincipals(line),
    fleetvault: isFleetvaultLine(line),
    line,
  }));
}

export interface SshKeysEdit {
  /** The cert-authority line to be present. */
  add?: string;
  /** Remove cert-authority lines for keys with these fingerprints. */
  removeFingerprints?: string[];
  /**
   * Keep a fleetvault line of the same CA with other options and add the new line next to it
   * (default: replace it in place). Phase 1 of a migration to scoped lines: until the new line is
   * proven to work, the old one is what keeps the operator's certificates working.
   */
  keepSameCa?: boolean;
  /**
   * Never turn scoped trust into root trust silently: an unscoped `add` is refused when the file
   * trusts the same CA — or a CA listed here (rotate: the old CA) — with a scoped line, unless
   * `unscope` says so (--unscope).
   */
  keepScopedOf?: string[];
  unscope?: boolean;
  /** What to do instead, for the refusal (e.g. "pass --unscope to …"). */
  scopedHint?: string;
  /**
   * The device the file must belong to (a scoped line names it): refused when config.json has a
   * `uuid` that is another one, so device B's principal never lands on device A.
   */
  expectUuid?: string;
}

export interface EditResult {
  changed: boolean;
  text: string;
  added: string[];
  removed: string[];
  sshKeys: string[];
}

/**
 * Apply an edit to config.json text. Idempotent: re-applying yields the same text and
 * changed=false. Other keys keep their order; the rest of the file keeps its key order and indent.
 * A fleetvault line for the same CA with other options (principals, expiry) is replaced in place,
 * unless `keepSameCa` asks to add the new line next to it.
 */
export function editSshKeys(text: string | Buffer, edit: SshKeysEdit, source = 'config.json'): EditResult {
  const parsed = parseConfigJson(text, source);
  const original = typeof text === 'string' ? text : text.toString('utf8');
  let keys = [...parsed.sshKeys];
  const added: string[] = [];
  const removed: string[] = [];
  if (edit.removeFingerprints?.length) {
    keys = keys.filter((k) => {
      // The line being added is never also removed: re-running add+remove must change nothing.
      const drop = k !== edit.add && isCertAuthorityLine(k) && edit.removeFingerprints!.includes(keyFingerprint(k) ?? '');
      if (drop) removed.push(k);
      return !drop;
    });
  }
  if (edit.add) {
    if (/[\n\r\u0000]/.test(edit.add)) throw new UsageError('refusing a key line containing a newline or NUL');
    if (!isCertAuthorityLine(edit.add) || !linePrincipals(edit.add)) {
      throw new UsageError('refusing a cert-authority line without principals= (any user would match on OpenSSH < 10.3)');
    }
    const fp = keyFingerprint(edit.add);
    if (!fp) throw new UsageError('the CA line has no parseable key');
    if (edit.expectUuid !== undefined) checkUuid(parsed.config, edit.expectUuid, source);
    if (!keys.includes(edit.add)) {
      if (!edit.unscope && !isRootFreePrincipalList(linePrincipals(edit.add))) {
        const guarded = [fp, ...(edit.keepScopedOf ?? [])];
        // The file as it was: a removal in this same edit (retire) must not hide the scoped line.
        const scoped = parsed.sshKeys.find((k) => isCertAuthorityLine(k) && guarded.includes(keyFingerprint(k) ?? '') && isRootFreePrincipalList(linePrincipals(k)));
        if (scoped) {
          const which = keyFingerprint(scoped) === fp ? `CA ${fp}` : `CA ${keyFingerprint(scoped)}`;
          // The next step is in the message itself: a rollout reports one reason per device.
          throw new UsageError(`${source} trusts ${which} for scoped principals only; refusing an unscoped line (principals="${linePrincipals(edit.add)}") of CA ${fp}, which would let root certificates in again; left unchanged: ${edit.scopedHint ?? 'add --scoped to keep it scoped, or --unscope to replace it on purpose'}`);
        }
      }
      const same = keys.findIndex((k) => isFleetvaultLine(k) && keyFingerprint(k) === fp);
      if (same >= 0 && edit.keepSameCa) {
        keys.splice(same + 1, 0, edit.add);
      } else if (same >= 0) {
        removed.push(keys[same]!);
        keys[same] = edit.add;
      } else {
        keys.push(edit.add);
      }
      added.push(edit.add);
    }
  }
  const changed = added.length > 0 || removed.length > 0;
  if (!changed) return { changed: false, text: original, added, removed, sshKeys: keys };
  const config = parsed.config;
  const os = (config.os ?? {}) as Record<string, unknown>;
  os.sshKeys = keys;
  if (!('os' in config)) config.os = os;
  return { changed, text: serializeConfig({ ...parsed, config }), added, removed, sshKeys: keys };
}

/** config.json's own `uuid` (when it has one) must be the target device's. */
function checkUuid(config: Record<string, unknown>, want: string, source: string): void {
  const have = config.uuid;
  if (have === undefined) return;
  // A uuid that is not a string cannot be compared: refuse rather than skip the check.
  if (typeof have !== 'string') throw new UsageError(`${source} has a "uuid" that is not a string: refusing to write device ${want.trim().toLowerCase()}'s scoped line without knowing whose file it is; left unchanged: fix config.json's uuid (balenaOS writes a string)`);
  const norm = (u: string) => u.trim().toLowerCase();
  if (norm(have) === norm(want)) return;
  // Both are device identifiers; anything else in that field is not echoed.
  const shown = /^(?:[0-9a-f]{32}|[0-9a-f]{62})$/.test(norm(have)) ? `device ${norm(have)}` : 'another device';
  throw new UsageError(`${source} belongs to ${shown}, not ${norm(want)}: refusing to write device ${norm(want)}'s scoped line there; left unchanged: fix that device's uuid= (or name) in the devices file, or --device`);
}
