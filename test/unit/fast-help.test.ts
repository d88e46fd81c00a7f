// src/fast-help.cts: `fleetvault [command…] --help` from the table the build rendered, only when
// the table is this bundle's and the width is one it holds; anything else is yargs' to answer.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// The built module, as dist/bin.cjs loads it (vitest does not load .cts sources).
const { printFastHelp } = createRequire(import.meta.url)('../../dist/fast-help.cjs') as typeof import('../../src/fast-help.cjs');

let dir = '';
const saved = { COLUMNS: process.env.COLUMNS, FLEETVAULT_FAST_HELP: process.env.FLEETVAULT_FAST_HELP };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fv-fast-help-'));
  writeFileSync(join(dir, 'cli.cjs'), 'x'.repeat(100));
  for (const w of ['80', '120']) mkdirSync(join(dir, 'help', '100', w), { recursive: true });
  writeFileSync(join(dir, 'help', '100', '80', 'fleetvault.txt'), 'top 80\n');
  writeFileSync(join(dir, 'help', '100', '80', 'fleetvault.ca.rollout.txt'), 'rollout 80\n');
  writeFileSync(join(dir, 'help', '100', '120', 'fleetvault.txt'), 'top 120\n');
  delete process.env.FLEETVAULT_FAST_HELP;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
});

/** What printFastHelp printed (undefined: it left the answer to yargs). */
function help(args: string[], columns?: string): string | undefined {
  if (columns === undefined) delete process.env.COLUMNS; else process.env.COLUMNS = columns;
  const file = join(dir, 'out');
  const fd = openSync(file, 'w');
  try {
    return printFastHelp(dir, args, fd) ? readFileSync(file, 'utf8') : undefined;
  } finally {
    closeSync(fd);
  }
}

describe('printFastHelp', () => {
  it('prints the text for the command path and width: --help or -h, COLUMNS capped at 120, 80 when not a terminal', () => {
    expect(help(['--help'], '80')).toBe('top 80\n');
    expect(help(['-h'], '80')).toBe('top 80\n');
    expect(help(['ca', 'rollout', '--help'], '80')).toBe('rollout 80\n');
    expect(help(['--help'], '120')).toBe('top 120\n');
    expect(help(['--help'], '300')).toBe('top 120\n');
    // The vitest worker's stdout is no terminal: 80, as src/cli.ts would pick.
    expect(help(['--help'])).toBe('top 80\n');
  });

  it('leaves everything else to yargs: other widths, paths it lacks, any flag or odd word, --help not last', () => {
    expect(help(['--help'], '100')).toBeUndefined();
    expect(help(['--help'], '20')).toBeUndefined(); // 40 after the floor: not in the table
    expect(help(['ca', 'rollout', '--help'], '120')).toBeUndefined();
    expect(help(['bogus', '--help'], '80')).toBeUndefined();
    expect(help(['--json', '--help'], '80')).toBeUndefined();
    expect(help(['--help', 'ca'], '80')).toBeUndefined();
    expect(help(['ca', 'rollout'], '80')).toBeUndefined();
    expect(help(['CA', '--help'], '80')).toBeUndefined();
    expect(help([], '80')).toBeUndefined();
  });

  it('ignores texts of another bundle, a missing one, and FLEETVAULT_FAST_HELP=0', () => {
    writeFileSync(join(dir, 'cli.cjs'), 'x'.repeat(101));
    expect(help(['--help'], '80')).toBeUndefined();
    writeFileSync(join(dir, 'cli.cjs'), 'x'.repeat(100));
    process.env.FLEETVAULT_FAST_HELP = '0';
    expect(help(['--help'], '80')).toBeUndefined();
    delete process.env.FLEETVAULT_FAST_HELP;
    expect(help(['--help'], '80')).toBe('top 80\n');
    rmSync(join(dir, 'help'), { recursive: true });
    expect(help(['--help'], '80')).toBeUndefined();
  });
});
