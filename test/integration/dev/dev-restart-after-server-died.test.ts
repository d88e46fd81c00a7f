// The dev server died (SIGKILL, the OOM killer, a crash) while its device runs: the next
// `fleetvault dev --with-device` saw no server running, cleared the state dir under the old
// device's feet and started a new one, so the old device host and its supervisor ran on where no
// `dev stop` finds them (review #16 finding 12). The next dev stops what is left of the last one first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';
import { requireTools } from '../../support/tools.js';
import { devStateDirs, processesNaming } from '../../support/dev-state.js';
import { processAlive } from '../../../src/dev/state.js';

const dirs = devStateDirs('fv-dev-restart-');

test('dev --with-device after the last dev server died stops the last device first', { timeout: 90_000 }, async () => {
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'jq']);
  const { state } = dirs.make();
  const env = { FLEETVAULT_DEV_DIR: state };
  const first = await runCli(['dev', '--with-device', '--detach'], { env });
  expect(first.code, first.stderr).toBe(0);
  const old = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { serverPid: number; devicePid: number };
  const oldSupervisor = Number(readFileSync(join(state, 'device', 'supervisor.pid'), 'utf8'));
  process.kill(old.serverPid, 'SIGKILL');
  for (let i = 0; i < 50 && processAlive(old.serverPid); i++) await new Promise((r) => setTimeout(r, 100));

  const second = await runCli(['dev', '--with-device', '--detach'], { env });
  expect(second.code, second.stderr).toBe(0);
  expect(processAlive(old.devicePid)).toBe(false);
  expect(processAlive(oldSupervisor)).toBe(false);
  const stop = await runCli(['dev', 'stop'], { env });
  expect(stop.code, stop.stderr).toBe(0);
  await new Promise((r) => setTimeout(r, 500));
  expect(processesNaming(state)).toEqual([]);
});
