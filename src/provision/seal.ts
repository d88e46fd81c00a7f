// Seal, unseal and rewrap provisioning config.json through Vault transit. The key is derived and
// the context is the fleet slug, so a blob sealed for one fleet fails authentication when
// decrypted as another. Plaintext only ever lives in memory here; callers decide where it goes.
import { VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import {
  ENVELOPE_FORMAT, ENVELOPE_VERSION, ciphertextVersion, fleetContext, parseConfigObject, validateFleetSlug,
  type SealedEnvelope,
} from './envelope.js';

export interface SealConfigOptions {
  client: VaultClient;
  mount: string;
  key: string;
  fleet: string;
  /** The config.json bytes; must be a JSON object. */
  plaintext: Buffer;
  /** Where the plaintext came from, for messages. */
  source?: string;
  now?: Date;
}

export async function sealConfig(o: SealConfigOptions): Promise<SealedEnvelope> {
  const fleet = validateFleetSlug(o.fleet);
  parseConfigObject(o.plaintext, o.source ?? 'config.json');
  let ciphertext: string | undefined;
  try {
    const r = await o.client.write<{ ciphertext?: string; key_version?: number }>(`${o.mount}/encrypt/${o.key}`, {
      plaintext: o.plaintext.toString('base64'),
      context: fleetContext(fleet),
    });
    ciphertext = r.data?.ciphertext;
  } catch (e) {
    throw failedTo(`seal ${o.source ?? 'config.json'} with ${o.mount}/${o.key}`, e);
  }
  if (!ciphertext) throw new VaultError(`failed to seal ${o.source ?? 'config.json'}: Vault returned no ciphertext`, { path: `${o.mount}/encrypt/${o.key}` });
  return {
    format: ENVELOPE_FORMAT,
    version: ENVELOPE_VERSION,
    mount: o.mount,
    key: o.key,
    keyVersion: ciphertextVersion(ciphertext),
    fleet,
    createdAt: (o.now ?? new Date()).toISOString(),
    ciphertext,
  };
}

/**
 * One transit decrypt. With flasher credentials the token has token_num_uses 1, so this must be
 * the only request made with it: a batch of N secret_id uses then allows exactly N decrypts.
 * Returns the config.json bytes after checking they are a JSON object.
 */
export async function unsealEnvelope(o: { client: VaultClient; envelope: SealedEnvelope; source?: string }): Promise<Buffer> {
  const e = o.envelope;
  const what = `unseal ${o.source ?? 'the sealed config'} (fleet ${e.fleet})`;
  let b64: string | undefined;
  try {
    const r = await o.client.write<{ plaintext?: string }>(`${e.mount}/decrypt/${e.key}`, {
      ciphertext: e.ciphertext,
      context: fleetContext(e.fleet),
    });
    b64 = r.data?.plaintext;
  } catch (err) {
    if (err instanceof VaultError && err.status === 400) {
      // Transit answers 400 for a tampered ciphertext, a wrong context (fleet), a wrong key and a
      // version below min_decryption_version: all are "Vault refused", exit 2.
      throw new VaultError(`failed to ${what}: Vault refused to decrypt: ${err.errors.join('; ') || err.message}`, {
        path: err.path, status: err.status, errors: err.errors,
        hint: 'the envelope may be tampered with, sealed for another fleet or key, or its key version retired (provision rewrap)',
      });
    }
    if (err instanceof VaultError && err.status === 403) {
      // A factory batch may decrypt only its own fleets' envelopes (its policy lists their
      // contexts); any other token lacks the right altogether.
      throw new VaultError(`failed to ${what}: permission denied: these credentials may not decrypt fleet ${e.fleet} envelopes`, {
        path: err.path, status: err.status, errors: err.errors,
        hint: 'a factory batch decrypts only the fleets it was created for (factory batch create --fleet); a used token is refused too',
      });
    }
    throw failedTo(what, err);
  }
  if (b64 === undefined) throw new VaultError(`failed to ${what}: Vault returned no plaintext`, { path: `${e.mount}/decrypt/${e.key}` });
  const plaintext = Buffer.from(b64, 'base64');
  parseConfigObject(plaintext, `the unsealed config of ${o.source ?? 'the envelope'}`);
  return plaintext;
}

export interface RewrapResult {
  envelope: SealedEnvelope;
  fromVersion: number;
  toVersion: number;
}

/**
 * OpenBao refuses request bodies with more than 1000 JSON strings (keys included) by default —
 * "refused JSON input due to high complexity" — and each batch item costs 4 (two keys, two
 * values): at most 249 items fit. Chunks of 200 leave room, and a few run in parallel.
 */
export const REWRAP_CHUNK = 200;
const REWRAP_PARALLEL = 4;

/**
 * Move envelopes to the newest key version without exposing plaintext: transit rewrap with
 * batch_input, per (mount, key), REWRAP_CHUNK envelopes a request. All or nothing: any refused
 * item fails the call before the caller writes a single file.
 */
export async function rewrapEnvelopes(o: { client: VaultClient; envelopes: SealedEnvelope[] }): Promise<RewrapResult[]> {
  const groups = new Map<string, number[]>();
  o.envelopes.forEach((e, i) => {
    const k = `${e.mount}\u0000${e.key}`;
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  const jobs: { mount: string; key: string; idx: number[] }[] = [];
  for (const [k, idx] of groups) {
    const [mount, key] = k.split('\u0000') as [string, string];
    for (let i = 0; i < idx.length; i += REWRAP_CHUNK) jobs.push({ mount, key, idx: idx.slice(i, i + REWRAP_CHUNK) });
  }
  const out: RewrapResult[] = new Array(o.envelopes.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await rewrapChunk(o.client, o.envelopes, jobs[next++]!, out);
  };
  await Promise.all(Array.from({ length: Math.min(REWRAP_PARALLEL, jobs.length) }, worker));
  return out;
}

async function rewrapChunk(client: VaultClient, envelopes: SealedEnvelope[], job: { mount: string; key: string; idx: number[] }, out: RewrapResult[]): Promise<void> {
  const { mount, key, idx } = job;
  const path = `${mount}/rewrap/${key}`;
  type Item = { ciphertext?: string; key_version?: number; error?: string };
  let results: Item[];
  try {
    const r = await client.write<{ batch_results?: Item[] }>(path, {
      batch_input: idx.map((i) => ({ ciphertext: envelopes[i]!.ciphertext, context: fleetContext(envelopes[i]!.fleet) })),
    });
    results = r.data?.batch_results ?? [];
  } catch (e) {
    throw failedTo(`rewrap ${idx.length} envelope(s) with ${mount}/${key}`, e);
  }
  if (results.length !== idx.length) {
    throw new VaultError(`failed to rewrap with ${mount}/${key}: Vault returned ${results.length} results for ${idx.length} envelopes`, { path });
  }
  results.forEach((r, j) => {
    const env = envelopes[idx[j]!]!;
    if (r.error || !r.ciphertext) {
      throw new VaultError(`failed to rewrap envelope ${idx[j]! + 1} (fleet ${env.fleet}): ${r.error || 'no ciphertext'}`, {
        path, hint: 'nothing was written; fix or drop that envelope and retry',
      });
    }
    const toVersion = ciphertextVersion(r.ciphertext);
    out[idx[j]!] = { envelope: { ...env, ciphertext: r.ciphertext, keyVersion: toVersion }, fromVersion: env.keyVersion, toVersion };
  });
}
