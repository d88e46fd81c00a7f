// One factory flasher unseal — AppRole login + transit decrypt + atomic 0600 write — with
// `fleetvault provision unseal` against the same three steps with the bao CLI and the shell
// (two `bao write` calls, base64 -d, mv). Goal: ratio ≤ 1.0. Each run spends one batch use.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { interleave, saveResult, fmt, timeCommand } from './lib.js';
import { BAO, CLI, startBenchVault, lib } from './provision-common.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);

export async function benchProvisionUnseal() {
  const v = await startBenchVault();
  try {
    const { sealConfig } = await lib('provision/seal.js');
    const { createBatch, unwrapSecretId } = await lib('provision/batch.js');
    const { formatEnvelope, fleetContext } = await lib('provision/envelope.js');
    const config = Buffer.from(JSON.stringify({ applicationId: 1001, deviceType: 'raspberrypi4-64', apiKey: 'x'.repeat(32), os: { sshKeys: [] } }, null, 2));
    const envelope = await sealConfig({ client: v.root, mount: 'transit', key: 'balena-provisioning', fleet: 'acme/line3', plaintext: config });
    const sealed = join(v.dir, 'config.sealed.json');
    writeFileSync(sealed, formatEnvelope(envelope));
    const batch = await createBatch({ client: v.root, mount: 'approle', role: 'flasher', transitMount: 'transit', transitKey: 'balena-provisioning', policyPrefix: 'fleetvault', fleets: ['acme/line3'], name: 'bench', count: 4 * (RUNS + 4), cidrs: ['127.0.0.1/32'], ttlSeconds: 3600, wrapTtl: '10m' });
    const { secretId } = await unwrapSecretId({ client: v.root, wrappingToken: batch.wrappingToken, mount: 'approle', role: 'flasher' });

    const base = { PATH: process.env.PATH, HOME: v.dir, VAULT_ADDR: v.server.address, BAO_ADDR: v.server.address };
    const fvEnv = { ...base, FLEETVAULT_ROLE_ID: batch.roleId, FLEETVAULT_SECRET_ID: secretId };
    // The same steps in shell; credentials by env (as a careful script would), umask 077 + mv for an atomic 0600 file.
    const script = [
      'set -e; umask 077',
      `T=$("${BAO}" write -field=token auth/approle/login role_id="$RID" secret_id="$SID")`,
      `BAO_TOKEN="$T" "${BAO}" write -field=plaintext transit/decrypt/balena-provisioning ciphertext="$CT" context="$CTX" | base64 -d > "$OUT.tmp"`,
      'mv "$OUT.tmp" "$OUT"',
    ].join('\n');
    const shEnv = { ...base, RID: batch.roleId, SID: secretId, CT: envelope.ciphertext, CTX: fleetContext('acme/line3'), OUT: join(v.dir, 'bao-config.json') };

    const r = await interleave({
      'fleetvault provision unseal': () => timeCommand(process.execPath, [CLI, 'provision', 'unseal', sealed, '--out', join(v.dir, 'fv-config.json')], { env: fvEnv }),
      'bao write ×2 + base64 -d': () => timeCommand('sh', ['-c', script], { env: shEnv }),
    }, RUNS);
    const ratio = r['fleetvault provision unseal'].median / r['bao write ×2 + base64 -d'].median;
    const result = { runs: RUNS, results: r, ratio, goal: '≤ 1.0×', server: v.server.version };
    saveResult('provision-unseal', result);
    console.log(`provision unseal: fleetvault ${fmt(r['fleetvault provision unseal'].median)} (p90 ${fmt(r['fleetvault provision unseal'].p90)}) · bao CLI ${fmt(r['bao write ×2 + base64 -d'].median)} (p90 ${fmt(r['bao write ×2 + base64 -d'].p90)}) · ratio ${ratio.toFixed(2)}× (goal ≤ 1.0×, ${RUNS} interleaved runs)`);
    return result;
  } finally {
    await v.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchProvisionUnseal();
