// The bad-input corpus (test/fixtures/bad/cases.json): loading the cases with their placeholders
// filled in, and snapshots of directories to prove a refused input changed and created nothing.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BAD_DIR = fileURLToPath(new URL('../fixtures/bad', import.meta.url));

export interface BadCase {
  name: string;
  args: string[];
  /** Relative to BAD_DIR; piped to the CLI's stdin. */
  stdinFile?: string;
  /** Added to the per-test Vault env; null removes a variable. */
  env?: Record<string, string | null>;
  /** 0 only for inputs that must be shown, not refused (a forever or forged certificate). */
  expectExit: 0 | 1 | 2;
  /** A multiline regex stdout must match; without it stdout must be empty. */
  stdoutMatches?: string;
  /** Paths that must not exist afterwards (the snapshots catch the rest). */
  mustNotCreate?: string[];
  /** Symlinks planted before the run: link path → target (placeholders filled). */
  links?: Record<string, string>;
  /** A full tmpfs at `dir` holding copies of corpus files (name → path relative to BAD_DIR). */
  fullDisk?: { dir: string; files: Record<string, string> };
}

export function loadBadCases(): BadCase[] {
  const doc = JSON.parse(readFileSync(join(BAD_DIR, 'cases.json'), 'utf8')) as { cases: BadCase[] };
  return doc.cases;
}

/** {bad} → the corpus directory, {tmp} → the test's temp dir. */
export function fillPlaceholders(s: string, tmp: string): string {
  return s.replaceAll('{bad}', BAD_DIR).replaceAll('{tmp}', tmp);
}

/** path → sha256 of content + mode, for every file and directory below dir. */
export function snapshotDir(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(p, `link ${readlinkSync(p)}`);
      else if (e.isDirectory()) { out.set(p, `dir ${st.mode}`); walk(p); }
      else out.set(p, `${st.mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

/** What differs between two snapshots, as readable lines (empty when nothing changed). */
export function snapshotDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const diff: string[] = [];
  for (const [p, v] of after) if (!before.has(p)) diff.push(`created ${p}`); else if (before.get(p) !== v) diff.push(`changed ${p}`);
  for (const p of before.keys()) if (!after.has(p)) diff.push(`removed ${p}`);
  return diff;
}
