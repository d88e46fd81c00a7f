// Runs every benchmark one after the other (they would disturb each other in parallel) and
// prints each one's summary line. Results land in bench/results/*.json.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const only = process.argv.slice(2);
// The fleet lab (fleet-lab: ~15 min, 100 devices) runs on its own: npm run bench:lab, or name it here.
const all = ['startup', 'cert-sign', 'engineer-path', 'provision-unseal', 'provision-rewrap', 'rollout', 'audit-summary', 'load', 'tunnel'];
let failed = 0;
for (const name of only.length ? only : all) {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(`./${name}.js`, import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.error(`bench ${name} failed (exit ${r.status})`); }
}
process.exitCode = failed ? 1 : 0;
