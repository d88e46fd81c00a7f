// Load: 200 certificate signings at once and 2000 transit decrypts through the library against
// the one shared OpenBao. Zero errors allowed; latency percentiles and throughput are printed
// (bench/load.js measures the same on an idle server for the README).
import { test, expect } from '../../support/context.js';
import { pool } from '../../support/faults.js';
import { VaultClient } from '../../../src/vault/client.js';
import { generateEd25519KeyPair } from '../../../src/ssh/keys.js';
import { signUserKey } from '../../../src/ssh/sign.js';
import { sealConfig, unsealEnvelope } from '../../../src/provision/seal.js';

const SIGNINGS = 200;
const DECRYPTS = 2000;
const DECRYPT_CONCURRENCY = 32;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

test('200 concurrent signings and 2000 decrypts: zero errors', async ({ vault }) => {
  // Retries off: an overloaded server must show up as an error here, not be smoothed over.
  const client = new VaultClient({ address: vault.address, token: vault.rootToken, retries: 0 });
  const { layout: l } = vault;

  const keys = Array.from({ length: SIGNINGS }, (_, i) => generateEd25519KeyPair(`load-${i}`).publicKey);
  const signMs: number[] = [];
  let signErrors = 0;
  const s0 = performance.now();
  const serials = await Promise.all(keys.map(async (publicKey) => {
    const t = performance.now();
    try {
      const c = await signUserKey({ client, mount: l.sshMount, role: l.sshRole, publicKey, principals: ['root'], ttlSeconds: 300 });
      return c.serial;
    } catch (e) {
      signErrors++;
      throw e;
    } finally {
      signMs.push(performance.now() - t);
    }
  }));
  const signWall = performance.now() - s0;
  expect(signErrors).toBe(0);
  expect(new Set(serials).size).toBe(SIGNINGS);

  const envelopes = await pool(Array.from({ length: 20 }, (_, i) => i), 4, (i) =>
    sealConfig({ client, mount: l.transitMount, key: l.transitKey, fleet: 'acme/load', plaintext: Buffer.from(JSON.stringify({ uuid: `d${i}`, os: { sshKeys: [] } })) }));
  const decMs: number[] = [];
  const d0 = performance.now();
  const plaintexts = await pool(Array.from({ length: DECRYPTS }, (_, i) => i), DECRYPT_CONCURRENCY, async (i) => {
    const t = performance.now();
    const p = await unsealEnvelope({ client, envelope: envelopes[i % envelopes.length]! });
    decMs.push(performance.now() - t);
    return p;
  });
  const decWall = performance.now() - d0;
  expect(plaintexts).toHaveLength(DECRYPTS);
  plaintexts.forEach((p, i) => expect(JSON.parse(p.toString()).uuid).toBe(`d${i % envelopes.length}`));

  console.log(`load: ${SIGNINGS} concurrent signings p50 ${pct(signMs, 50).toFixed(0)} ms p99 ${pct(signMs, 99).toFixed(0)} ms, ${(SIGNINGS / (signWall / 1000)).toFixed(0)}/s · ` +
    `${DECRYPTS} decrypts (${DECRYPT_CONCURRENCY} at once) p50 ${pct(decMs, 50).toFixed(1)} ms p99 ${pct(decMs, 99).toFixed(1)} ms, ${(DECRYPTS / (decWall / 1000)).toFixed(0)}/s`);
}, 120_000);
