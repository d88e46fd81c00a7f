// Issue #8 item 2: every case of test/fixtures/bad/cases.json through the built CLI against the
// shared OpenBao, each with its own layout: the expected exit code (1 local, 2 Vault), exactly
// one line on stderr, no stack trace, nothing on stdout, and no file changed or created — in the
// corpus itself or in the test's temp dir.
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, describe } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { BAD_DIR, fillPlaceholders, loadBadCases, snapshotDiff, snapshotDir } from '../../support/bad-corpus.js';
import { mounts } from '../../support/mounts.js';

const cases = loadBadCases();

describe.concurrent('bad-input corpus', () => {
  test('has at least 40 cases across every kind of input', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const kinds = new Set(cases.map((c) => c.name.split(/[ :]/)[0]));
    for (const k of ['config.json', 'key', 'certificate', 'envelope', 'devices', 'audit', 'cli:']) expect([...kinds].some((x) => k.startsWith(x!)), k).toBe(true);
  });

  test.for(cases)('$name', async (c, { vault, tmp }) => {
    const env: Record<string, string | undefined> = { ...vault.env };
    for (const [k, v] of Object.entries(c.env ?? {})) env[k] = v === null ? undefined : fillPlaceholders(v, tmp);
    const input = c.stdinFile ? readFileSync(join(BAD_DIR, c.stdinFile), 'utf8') : undefined;
    for (const [link, target] of Object.entries(c.links ?? {})) symlinkSync(fillPlaceholders(target, tmp), fillPlaceholders(link, tmp));
    // Full disk: a real tmpfs, unmounted before the fixture removes tmp.
    const disk = c.fullDisk ? mounts() : undefined;
    let r: Awaited<ReturnType<typeof runCli>>;
    let beforeBad: Map<string, string>, beforeTmp: Map<string, string>, afterTmp: Map<string, string>;
    try {
      if (c.fullDisk) disk!.full(fillPlaceholders(c.fullDisk.dir, tmp), Object.fromEntries(Object.entries(c.fullDisk.files).map(([n, f]) => [n, readFileSync(join(BAD_DIR, f))])));
      beforeBad = snapshotDir(BAD_DIR);
      beforeTmp = snapshotDir(tmp);
      r = await runCli(c.args.map((a) => fillPlaceholders(a, tmp)), { env, input, cwd: tmp });
      afterTmp = snapshotDir(tmp);
    } finally {
      disk?.cleanup();
    }
    const what = `${c.name}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`;
    expect(r.code, what).toBe(c.expectExit);
    expect(r.signal, what).toBeNull();
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines, what).toHaveLength(c.expectExit === 0 ? 0 : 1);
    if (c.expectExit !== 0) expect(lines[0], what).toMatch(/^fleetvault: /);
    expect(r.stderr, what).not.toMatch(/^\s+at |Error: |\.ts:\d+|\.js:\d+/m);
    // Hostile bytes from the input never reach the terminal raw.
    expect(r.stderr, what).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/);
    if (c.stdoutMatches === undefined) expect(r.stdout, what).toBe('');
    else {
      expect(r.stdout, what).toMatch(new RegExp(c.stdoutMatches, 'm'));
      expect(r.stdout, what).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/);
    }
    expect(snapshotDiff(beforeBad, snapshotDir(BAD_DIR)), what).toEqual([]);
    expect(snapshotDiff(beforeTmp, afterTmp), what).toEqual([]);
    for (const p of c.mustNotCreate ?? []) expect(existsSync(fillPlaceholders(p, tmp)), `${c.name}: ${p}`).toBe(false);
  });

  // Audit logs are the one input read leniently by design (a live log always has a partial last
  // line; one bad line must not hide a day of events): bad lines are skipped and counted, exit 0,
  // still one line on stderr. The refusals of audit inputs (directory, missing file, bad flags)
  // are cases of the corpus above.
  test('audit lines: malformed lines and a cut gzip are skipped and counted, one summary line, exit 0', async ({ tmp }) => {
    for (const [log, counted] of [['malformed.log', /\d+ malformed lines skipped/], ['cut-gzip.log.gz', /1 corrupt gzip file/]] as const) {
      const before = snapshotDir(BAD_DIR);
      const r = await runCli(['audit', '--log', join(BAD_DIR, 'audit', log), '--kind', 'all', '--json'], { cwd: tmp });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(counted);
      expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
      expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
      expect(snapshotDiff(before, snapshotDir(BAD_DIR))).toEqual([]);
    }
  });
});
