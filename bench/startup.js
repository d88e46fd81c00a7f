// Cold start of `fleetvault --help` against a bare `node -e 0` (the floor any Node CLI pays).
// Goal: ≤ 1.5×. Heavy modules (balena-sdk, node-vault/axios) must load lazily.
import { fileURLToPath } from 'node:url';
import { interleave, saveResult, fmt } from './lib.js';
import { timeCommand } from './lib.js';

const CLI = fileURLToPath(new URL('../dist/bin.cjs', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

export async function benchStartup() {
  const r = await interleave({
    'node -e 0': () => timeCommand(process.execPath, ['-e', '0']),
    'fleetvault --help': () => timeCommand(process.execPath, [CLI, '--help']),
  }, RUNS);
  const ratio = r['fleetvault --help'].median / r['node -e 0'].median;
  const result = { runs: RUNS, results: r, ratio, goal: '≤ 1.5×' };
  saveResult('startup', result);
  console.log(`startup: node -e 0 ${fmt(r['node -e 0'].median)} · fleetvault --help ${fmt(r['fleetvault --help'].median)} · ratio ${ratio.toFixed(2)}× (goal ≤ 1.5×, ${RUNS} interleaved runs)`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) await benchStartup();
