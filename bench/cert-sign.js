// `fleetvault cert sign` against the official CLI doing the same request
// (`bao write -field=signed_key <mount>/sign/engineer public_key=@…`), and a raw curl as the floor.
// fleetvault does more per run (reads the role to refuse over-long TTLs, reads the CA, verifies
// the certificate), so this measures whether that safety costs anything users would notice.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchServer } from './server.js';
import { interleave, saveResult, timeCommand, fmt } from './lib.js';

const CLI = fileURLToPath(new URL('../dist/bin.cjs', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 25);

export async function benchCertSign() {
  const s = await benchServer();
  try {
    const key = join(s.dir, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const body = join(s.dir, 'body.json');
    writeFileSync(body, JSON.stringify({ public_key: execFileSync('cat', [`${key}.pub`]).toString().trim(), valid_principals: 'root', extensions: { 'permit-pty': '' } }));
    const url = `${s.address}/v1/ssh-client-signer/sign/engineer`;
    const r = await interleave({
      'fleetvault cert sign': () => timeCommand(process.execPath, [CLI, 'cert', 'sign', '--public-key', `${key}.pub`, '--out', join(s.dir, 'fv-cert.pub')], { env: s.env }),
      'bao write -field=signed_key': () => timeCommand(s.bin, ['write', '-field=signed_key', 'ssh-client-signer/sign/engineer', `public_key=@${key}.pub`, 'valid_principals=root'], { env: s.env }),
      'curl (floor)': () => timeCommand('sh', ['-c', `curl -sf -H "X-Vault-Token: $VAULT_TOKEN" --data @${body} ${url} > /dev/null`], { env: s.env }),
    }, RUNS);
    const fv = r['fleetvault cert sign'].median;
    const bao = r['bao write -field=signed_key'].median;
    const result = { runs: RUNS, results: r, ratioVsBao: fv / bao, ratioVsCurl: fv / r['curl (floor)'].median, goal: 'ratio vs bao ≤ 1.0' };
    saveResult('cert-sign', result);
    console.log(`cert sign: fleetvault ${fmt(fv)} · bao ${fmt(bao)} · curl ${fmt(r['curl (floor)'].median)} · fleetvault/bao ${result.ratioVsBao.toFixed(2)}× (goal ≤ 1.0) · fleetvault/curl ${result.ratioVsCurl.toFixed(2)}× (${RUNS} interleaved runs)`);
    return result;
  } finally {
    await s.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchCertSign();
