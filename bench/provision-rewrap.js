// Rewrap of 1000 envelopes after a key rotation: `fleetvault provision rewrap` (one transit
// batch_input request, 1000 atomic file writes) against a shell loop of `bao write
// transit/rewrap/…` + jq per envelope (timed on 100 and extrapolated ×10 — a full loop takes
// minutes) and against raw HTTP batch requests from one curl process (the floor: no files read
// or rewritten).
// Goals: ≥ 20× the shell loop, ≥ 0.7× the floor (floor / fleetvault).
import { mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { interleave, saveResult, fmt, timeCommand, median } from './lib.js';
import { BAO, CLI, startBenchVault, lib } from './provision-common.js';

const N = Number(process.env.BENCH_ENVELOPES ?? 1000);
const LOOP_N = Number(process.env.BENCH_LOOP_ENVELOPES ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const LOOP_RUNS = Number(process.env.BENCH_LOOP_RUNS ?? 3);

export async function benchProvisionRewrap() {
  const v = await startBenchVault();
  try {
    const { formatEnvelope, fleetContext } = await lib('provision/envelope.js');
    const keyPath = 'transit/keys/balena-provisioning';
    // Seal N configs for 20 fleets in one batch encrypt (set-up, untimed).
    const items = Array.from({ length: N }, (_, i) => ({ fleet: `acme/fleet-${i % 20}`, plain: JSON.stringify({ applicationId: i, apiKey: `k${i}`.padEnd(32, 'x') }) }));
    const { REWRAP_CHUNK } = await lib('provision/seal.js');
    const enc = { data: { batch_results: [] } };
    for (let i = 0; i < N; i += REWRAP_CHUNK) {
      const r = await v.root.write('transit/encrypt/balena-provisioning', {
        batch_input: items.slice(i, i + REWRAP_CHUNK).map((it) => ({ plaintext: Buffer.from(it.plain).toString('base64'), context: fleetContext(it.fleet) })),
      });
      enc.data.batch_results.push(...r.data.batch_results);
    }
    const dir = join(v.dir, 'envelopes');
    mkdirSync(dir);
    const files = enc.data.batch_results.map((r, i) => {
      const f = join(dir, `device-${String(i).padStart(4, '0')}.sealed.json`);
      writeFileSync(f, formatEnvelope({ format: 'fleetvault-sealed-config', version: 1, mount: 'transit', key: 'balena-provisioning', keyVersion: 1, fleet: items[i].fleet, createdAt: new Date().toISOString(), ciphertext: r.ciphertext }));
      return f;
    });
    const loopFiles = files.slice(0, LOOP_N);
    // OpenBao's default JSON limit (1000 strings a body) caps a batch at 249 items: the floor is
    // one curl process sending the same REWRAP_CHUNK-sized batch requests back to back.
    const curlArgs = [];
    for (let i = 0; i < N; i += REWRAP_CHUNK) {
      const body = join(v.dir, `rewrap-body-${i}.json`);
      writeFileSync(body, JSON.stringify({ batch_input: items.slice(i, i + REWRAP_CHUNK).map((it, j) => ({ ciphertext: enc.data.batch_results[i + j].ciphertext, context: fleetContext(it.fleet) })) }));
      if (curlArgs.length) curlArgs.push('--next');
      curlArgs.push('-sf', '-o', '/dev/null', '-H', `X-Vault-Token: ${v.server.rootToken}`, '--data-binary', `@${body}`, `${v.server.address}/v1/transit/rewrap/balena-provisioning`);
    }

    const env = { PATH: process.env.PATH, HOME: v.dir, VAULT_ADDR: v.server.address, BAO_ADDR: v.server.address, VAULT_TOKEN: v.server.rootToken, BAO_TOKEN: v.server.rootToken };
    const loop = [
      'set -e',
      'for f in "$@"; do',
      '  ct=$(jq -r .ciphertext "$f"); ctx=$(jq -r .fleet "$f" | tr -d "\\n" | base64 -w0)',
      `  new=$("${BAO}" write -field=ciphertext transit/rewrap/balena-provisioning ciphertext="$ct" context="$ctx")`,
      '  v=${new#vault:v}; v=${v%%:*}',
      '  jq --arg c "$new" --argjson v "$v" \'.ciphertext=$c | .keyVersion=$v\' "$f" > "$f.tmp" && mv "$f.tmp" "$f"',
      'done',
    ].join('\n');
    const rotate = () => v.root.write(`${keyPath}/rotate`, {});

    const r = await interleave({
      [`fleetvault provision rewrap (${N})`]: () => timeCommand(process.execPath, [CLI, 'provision', 'rewrap', ...files], { env }),
      [`curl batch requests (${N}, floor)`]: () => timeCommand('curl', curlArgs, { env }),
    }, RUNS, { warmup: 1, setup: rotate });
    const loopSamples = [];
    for (let i = 0; i < LOOP_RUNS; i++) {
      await rotate();
      loopSamples.push(await timeCommand('sh', ['-c', loop, 'loop', ...loopFiles], { env }));
    }
    const fv = r[`fleetvault provision rewrap (${N})`].median;
    const floor = r[`curl batch requests (${N}, floor)`].median;
    const loopMs = median(loopSamples) * (N / LOOP_N);
    const result = {
      envelopes: N, runs: RUNS, results: r,
      shellLoop: { envelopesTimed: LOOP_N, runs: LOOP_RUNS, medianMs: median(loopSamples), extrapolatedMs: loopMs },
      speedupVsShellLoop: loopMs / fv, fractionOfFloor: floor / fv, goal: '≥ 20× shell loop, ≥ 0.7× floor',
      server: v.server.version, files: readdirSync(dir).length,
    };
    saveResult('provision-rewrap', result);
    console.log(`provision rewrap ${N}: fleetvault ${fmt(fv)} · curl batches (floor) ${fmt(floor)} · bao shell loop ${fmt(median(loopSamples))} for ${LOOP_N} → ~${fmt(loopMs)} for ${N} (extrapolated)`);
    console.log(`  ${result.speedupVsShellLoop.toFixed(1)}× faster than the shell loop (goal ≥ 20×) · ${result.fractionOfFloor.toFixed(2)}× of the floor (goal ≥ 0.7×)`);
    return result;
  } finally {
    await v.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchProvisionRewrap();
