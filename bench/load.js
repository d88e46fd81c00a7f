// Load through the library against one idle OpenBao dev server: 200 certificate signings all at
// once (signUserKey: role read + CA read + sign + verify each) and 2000 transit decrypts
// (unsealEnvelope) 32 at a time. Reports p50/p99 latency, throughput and the error count (goal 0).
// Single requests only: OpenBao refuses bodies with more than 1000 JSON strings, which matters
// for batch_input (see REWRAP_CHUNK in src/provision/seal.ts), not for these.
import { benchServer } from './server.js';
import { percentile, saveResult } from './lib.js';
import { VaultClient } from '../dist/vault/client.js';
import { generateEd25519KeyPair } from '../dist/ssh/keys.js';
import { signUserKey } from '../dist/ssh/sign.js';
import { sealConfig, unsealEnvelope } from '../dist/provision/seal.js';
import { DEFAULT_LAYOUT as L } from '../dist/config.js';

const SIGNINGS = Number(process.env.BENCH_SIGNINGS ?? 200);
const DECRYPTS = Number(process.env.BENCH_DECRYPTS ?? 2000);
const DECRYPT_CONCURRENCY = 32;

async function timed(n, width, fn) {
  const ms = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(width, n) }, async () => {
    while (next < n) {
      const i = next++;
      const t = performance.now();
      try { await fn(i); } catch (e) { errors++; if (errors === 1) console.error(`first error: ${e.message}`); }
      ms.push(performance.now() - t);
    }
  }));
  const wall = performance.now() - t0;
  return { count: n, concurrency: width, errors, p50: percentile(ms, 50), p99: percentile(ms, 99), perSecond: n / (wall / 1000), wallMs: wall };
}

export async function benchLoad() {
  const s = await benchServer();
  try {
    // Retries off: errors must be counted, not hidden.
    const client = new VaultClient({ address: s.address, token: s.rootToken, retries: 0 });
    const keys = Array.from({ length: SIGNINGS }, (_, i) => generateEd25519KeyPair(`load-${i}`).publicKey);
    const sign = await timed(SIGNINGS, SIGNINGS, (i) => signUserKey({ client, mount: L.sshMount, role: L.sshRole, publicKey: keys[i], principals: ['root'], ttlSeconds: 300 }));
    const envelopes = [];
    for (let i = 0; i < 20; i++) envelopes.push(await sealConfig({ client, mount: L.transitMount, key: L.transitKey, fleet: 'acme/load', plaintext: Buffer.from(JSON.stringify({ uuid: `d${i}` })) }));
    const decrypt = await timed(DECRYPTS, DECRYPT_CONCURRENCY, (i) => unsealEnvelope({ client, envelope: envelopes[i % envelopes.length] }));
    const result = { server: s.version, sign, decrypt, goal: 'zero errors' };
    saveResult('load', result);
    const f = (r) => `p50 ${r.p50.toFixed(1)} ms · p99 ${r.p99.toFixed(1)} ms · ${r.perSecond.toFixed(0)}/s · ${r.errors} errors`;
    console.log(`load: ${SIGNINGS} concurrent signings: ${f(sign)} | ${DECRYPTS} decrypts (${DECRYPT_CONCURRENCY} at once): ${f(decrypt)}`);
    if (sign.errors || decrypt.errors) process.exitCode = 1;
    return result;
  } finally {
    await s.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchLoad();
