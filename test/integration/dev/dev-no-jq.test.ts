// A machine without jq: the balenaOS device's supervisor edits config.json with jq (as balenaOS's
// does), and silently never wrote it back — while `dev` printed "kept and written back by its
// balena-supervisor". Without jq, `dev --with-device` fails in one line and leaves nothing running
// (review #16 finding 6). jq is hidden in a mount namespace of the CLI's own (root only).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { CLI } from '../../support/cli.js';
import { requireTools } from '../../support/tools.js';
import { devStateDirs, processesNaming } from '../../support/dev-state.js';

const dirs = devStateDirs('fv-dev-nojq-');
// Root with unshare and /usr/bin/jq: the CI machine. Elsewhere skipped, but never under CI=true.
const canHide = process.geteuid?.() === 0 && existsSync('/usr/bin/jq') && spawnSync('unshare', ['-m', 'true']).status === 0;

test.skipIf(!canHide && process.env.CI !== 'true')('no jq: dev --with-device fails in one line, nothing running', { timeout: 60_000 }, () => {
  requireTools(['sshd', 'ssh-keygen']);
  const { dir, state } = dirs.make();
  const fake = join(dir, 'jq');
  writeFileSync(fake, '#!/bin/sh\necho "sh: 1: jq: not found" >&2\nexit 127\n', { mode: 0o755 });
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind "$0" /usr/bin/jq && shift && exec "$@"`, fake, 'x', process.execPath, CLI, 'dev', '--with-device', '--detach'], {
    encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), HOME: dir, FLEETVAULT_DEV_DIR: state, FLEETVAULT_SIGNING_CACHE: '0' }, timeout: 50_000,
  });
  expect(r.status, r.stdout).toBe(1);
  expect(r.stderr).toMatch(/jq/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(processesNaming(state)).toEqual([]);
});
