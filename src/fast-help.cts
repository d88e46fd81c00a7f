// `fleetvault [command…] --help` without loading the CLI. Help is the one answer that needs
// neither Vault nor the network, yet it paid the whole start-up: reading the 650 kB bundle and
// building yargs' command tree took about as long again as Node's own start. The build renders
// every command's help with yargs itself (scripts/build-help.mjs) at the two widths most people
// get — 80 (a pipe, or an 80-column terminal) and 120 (any terminal that wide or wider: the CLI
// caps help at 120) — into dist/help/, made with the bundle it came from. Anything else (another
// width, any other flag or word, a stale or missing table) goes to yargs as before, so the text is
// always exactly what yargs prints (test/integration/commands/fast-help.test.ts compares them all).
// Runs before the bundle is loaded: node: built-ins only, and nothing here may make the CLI fail.
import { fstatSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where the build put the text for this bundle, width and command path:
 * dist/help/<bundle size>/<width>/fleetvault.ca.rollout.txt. The bundle's size in the path is a
 * second guard (bundling deletes dist/help and the build renders it again); not its mtime: npm
 * packs every file with the same fixed one. One small file per text: reading and parsing one table
 * of them all cost more than the rest of this path.
 */
function helpFile(dir: string, width: number, path: string): string {
  return join(dir, 'help', String(statSync(join(dir, 'cli.cjs')).size), String(width), `${['fleetvault', ...(path ? path.split(' ') : [])].join('.')}.txt`);
}

/** The width src/cli.ts gives yargs (COLUMNS, else the terminal's, else 80; 40 to 120). */
function helpWidth(): number {
  const fromEnv = Number(process.env.COLUMNS);
  let cols = fromEnv || 0;
  // Only a terminal has columns. Asking process.stdout creates the stream (node:tty loads net and
  // streams: a few ms), so only for a character device: a terminal, or /dev/null, which has none.
  if (!cols && fstatSync(1).isCharacterDevice()) cols = process.stdout.columns || 0;
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

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(fd, buf, off);
  } catch (e) {
    // A non-blocking pipe that is full: hand the rest to Node's stream, which waits for it.
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || fd !== 1) throw e;
    // Its EPIPE (the reader left meanwhile) comes as an 'error' event: as quiet as the one above.
    process.stdout.on('error', () => {});
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
  let text: Buffer;
  try {
    text = readFileSync(helpFile(dir, helpWidth(), path));
  } catch {
    return false; // no text for this width or command (or bundle): yargs' turn
  }
  try { writeAll(out, text); } catch { /* EPIPE (`fleetvault --help | head -1`): nothing more to say, as with yargs */ }
  return true;
}
