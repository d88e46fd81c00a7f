// Two `fleetvault dev --with-device --detach` at once on one state dir (two terminals, a script run
// twice): state.json is written only at the end, so neither saw the other; each cleared the other's
// files (known_hosts: "Host key verification failed", exit 2), and the loser's cleanup could remove
// the winner's state.json, leaving a server and a device no `dev stop` finds. One wins; the other
// says in one line that a dev server is starting (review #16 finding 8).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';
import { requireTools } from '../../support/tools.js';

let dir = '';
const withState = (state: string) => readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => {
  try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(state); } catch { return false; }
});
afterEach(async () => {
  const state = join(dir, 'state');
  await runCli(['dev', 'stop'], { env: { FLEETVAULT_DEV_DIR: state } });
  for (const p of withState(state)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
});

test('two dev --with-device at once: one starts, the other is refused in one line; dev stop leaves nothing', { timeout: 90_000 }, async () => {
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'jq']);
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-race-'));
  const state = join(dir, 'state');
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
  expect(withState(state)).toEqual([]);
});
