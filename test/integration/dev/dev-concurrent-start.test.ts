// Two `fleetvault dev --with-device --detach` at once on one state dir (two terminals, a script run
// twice): state.json is written only at the end, so neither saw the other; each cleared the other's
// files (known_hosts: "Host key verification failed", exit 2), and the loser's cleanup could remove
// the winner's state.json, leaving a server and a device no `dev stop` finds. One wins; the other
// says in one line that a dev server is starting (review #16 finding 8).
import { expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';
import { requireTools } from '../../support/tools.js';
import { devStateDirs, processesNaming } from '../../support/dev-state.js';

const dirs = devStateDirs('fv-dev-race-');

test('two dev --with-device at once: one starts, the other is refused in one line; dev stop leaves nothing', { timeout: 90_000 }, async () => {
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'jq']);
  const { state } = dirs.make();
  const env = { FLEETVAULT_DEV_DIR: state };
  const start = () => runCli(['dev', '--with-device', '--detach'], { env, timeoutMs: 60_000 });
  const [a, b] = await Promise.all([start(), start()]);
  const codes = [a.code, b.code].sort();
  expect(codes, `${a.stderr}\n${b.stderr}`).toEqual([0, 1]);
  const loser = a.code === 1 ? a : b;
  expect(loser.stderr).toMatch(/already (running|starting)/);
  expect(loser.stderr.trim().split('\n')).toHaveLength(1);
  const stop = await runCli(['dev', 'stop'], { env });
  expect(stop.code, stop.stderr).toBe(0);
  await new Promise((r) => setTimeout(r, 500));
  expect(processesNaming(state)).toEqual([]);
});
