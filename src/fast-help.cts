// `fleetvault [command…] --help` without loading the CLI. Help is the one answer that needs
// neither Vault nor the network, yet it paid the whole start-up: reading the 650 kB bundle and
// building yargs' command tree took about as long again as Node's own start. The build renders
// every command's help with yargs itself (scripts/build-help.mjs) at the two widths most people
// get — 80 (a pipe, or an 80-column terminal) and 120 (any terminal that wide or wider: the CLI
// caps help at 120) — into dist/help.json, made with the bundle it came from. Anything else (another
// width, any other flag or word, a stale or missing table) goes to yargs as before, so the text is
// always exactly what yargs prints (test/integration/commands/fast-help.test.ts compares them all).
// Runs before the bundle is loaded: node: built-ins only, and nothing here may make the CLI fail.
import { readFileSync, statSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { join } from 'node:path';

interface HelpTable {
  /**
   * The size of the bundle the texts were rendered from. Bundling deletes the table first and the
   * build renders it again (scripts/build-help.mjs), so this is a second guard, not the first;
   * not the mtime: npm packs every file with the same fixed one.
   */
  bundle: { size: number };
  /** width → command path ('' for the top level, 'ca rollout') → the exact text yargs prints. */
  widths: Record<string, Record<string, string>>;
}

/** The width src/cli.ts gives yargs (COLUMNS, else the terminal's, else 80; 40 to 120). */
function helpWidth(): number {
  const fromEnv = Number(process.env.COLUMNS);
  let cols = fromEnv || 0;
  // Only a terminal has columns; asking process.stdout creates the stream, so only then.
  if (!cols && isatty(1)) cols = process.stdout.columns || 0;
  return Math.max(40, Math.min(120, cols || 80));
}

/** The command path of `a b --help` (plain words, then --help or -h), else undefined. */
function helpPath(args: string[]): string | undefined {
  if (args.length === 0) return undefined;
  const last = args[args.length - 1];
  if (last !== '--help' && last !== '-h') return undefined;
  const words = args.slice(0, -1);
  return words.every((w) => /^[a-z][a-z-]*$/.test(w)) ? words.join(' ') : undefined;
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(fd, buf, off);
  } catch (e) {
    // A non-blocking pipe that is full: hand the rest to Node's stream, which waits for it.
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || fd !== 1) throw e;
    process.stdout.write(buf.subarray(off));
  }
}

/**
 * Printed the help of `args` from the table in `dir` (dist/): true, and the exit code stays 0.
 * False: let yargs do it. `out`: the fd to print to (tests).
 */
export function printFastHelp(dir: string, args: string[], out = 1): boolean {
  if (process.env.FLEETVAULT_FAST_HELP === '0') return false;
  const path = helpPath(args);
  if (path === undefined) return false;
  try {
    const table = JSON.parse(readFileSync(join(dir, 'help.json'), 'utf8')) as HelpTable;
    const st = statSync(join(dir, 'cli.cjs'));
    if (st.size !== table.bundle.size) return false;
    const text = table.widths[String(helpWidth())]?.[path];
    if (typeof text !== 'string') return false;
    try { writeAll(out, text); } catch { /* EPIPE (`fleetvault --help | head -1`): nothing more to say, as with yargs */ }
    return true;
  } catch {
    return false;
  }
}
