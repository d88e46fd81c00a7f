// Every help text the build rendered (dist/help/) is byte for byte what yargs prints for that
// command at that width, through the real executable; in a terminal the width comes from the
// terminal, as src/cli.ts takes it; a width the table lacks is answered by yargs.
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { requireTools } from '../../support/tools.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(root, 'dist', 'bin.cjs');
const run = promisify(execFile);
// dist/help/<bundle size>/<width>/fleetvault.ca.rollout.txt
const base = join(root, 'dist', 'help', String(statSync(join(root, 'dist', 'cli.cjs')).size));
const widthOf = (w: number) => Object.fromEntries(readdirSync(join(base, String(w))).map((f) =>
  [f.replace(/\.txt$/, '').split('.').slice(1).join(' '), readFileSync(join(base, String(w), f), 'utf8')]));
const table = { widths: { 80: widthOf(80), 120: widthOf(120) } as Record<string, Record<string, string>> };
const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', ...extra });
const argsOf = (path: string) => [BIN, ...(path ? path.split(' ') : []), '--help'];

describe('the pre-rendered help', () => {
  it('covers every command yargs lists, at 80 and 120 columns, each text exactly what yargs prints', { timeout: 240_000 }, async () => {
    const cases = Object.entries(table.widths).flatMap(([w, paths]) => Object.keys(paths).map((p) => [w, p] as const));
    expect(cases.length).toBeGreaterThanOrEqual(2 * 45);
    for (const p of ['', 'ca rollout', 'ssh', 'factory batch create', 'audit who-can']) expect(table.widths['80']![p], p).toBeDefined();
    const bad: string[] = [];
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(cases.slice(i, i + 4).map(async ([w, p]) => {
        const [fast, slow] = await Promise.all([
          run(process.execPath, argsOf(p), { env: env({ COLUMNS: w }) }),
          run(process.execPath, argsOf(p), { env: env({ COLUMNS: w, FLEETVAULT_FAST_HELP: '0' }) }),
        ]);
        if (fast.stdout !== slow.stdout || fast.stdout !== table.widths[w]![p]) bad.push(`${w} '${p}'`);
      }));
    }
    expect(bad).toEqual([]);
  });

  it('in a terminal: 130 columns get the 120 text, 100 columns what yargs prints at 100', () => {
    requireTools(['script', 'stty']);
    const tty = (cols: number) => {
      const r = spawnSync('script', ['-qec', `stty cols ${cols} rows 50; exec "${process.execPath}" "${BIN}" ca rollout --help`, '/dev/null'], { env: env({}), encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.replace(/\r\n/g, '\n');
    };
    expect(tty(130)).toBe(table.widths['120']!['ca rollout']);
    const at100 = spawnSync(process.execPath, argsOf('ca rollout'), { env: env({ COLUMNS: '100' }), encoding: 'utf8' }).stdout;
    expect(at100).not.toBe(table.widths['80']!['ca rollout']);
    expect(tty(100)).toBe(at100);
  });
});
