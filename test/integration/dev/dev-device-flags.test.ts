// Device flags that would do nothing are refused in one line, before anything starts: a stranger
// who typed `dev --device-kind plain --supervisor-interval 3` (no --with-device) got a server and
// no device, and --supervisor-interval with the plain device (which has no supervisor) was ignored
// (review #16 finding 13).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';

let dir = '';
afterEach(async () => {
  await runCli(['dev', 'stop'], { env: { FLEETVAULT_DEV_DIR: join(dir, 'state') } }); // a start that should not have been
  rmSync(dir, { recursive: true, force: true });
});

test.each([
  [['--device-kind', 'plain'], /--device-kind.*--with-device/],
  [['--supervisor-interval', '3'], /--supervisor-interval.*--with-device/],
  [['--with-device', '--device-kind', 'plain', '--supervisor-interval', '3'], /--supervisor-interval.*balenaos/],
])('dev %j: one line, exit 1, nothing started', async (flags, message) => {
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-flags-'));
  const state = join(dir, 'state');
  const r = await runCli(['dev', '--detach', ...flags], { env: { FLEETVAULT_DEV_DIR: state } });
  expect(r.code, r.stdout).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(existsSync(state)).toBe(false);
});
