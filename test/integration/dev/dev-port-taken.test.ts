// `fleetvault dev --port N` with N taken: a stranger's mistake, not a bug — one line that says the
// port is in use (not "unexpected error … report it"), exit 1, and nothing left running (review #16 finding 5).
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';
import { requireTools } from '../../support/tools.js';
import { processesNaming } from '../../support/dev-state.js';

let dir = '';
let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

test('dev --with-device --port <taken>: one line naming the port, exit 1, nothing running', { timeout: 60_000 }, async () => {
  requireTools(['sshd', 'jq']);
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-porttaken-'));
  const s = createServer((c) => c.destroy()); // what holds the port answers nothing
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  const state = join(dir, 'state');
  const r = await runCli(['dev', '--with-device', '--port', String(port)], { env: { FLEETVAULT_DEV_DIR: state } });
  expect(r.code).toBe(1);
  expect(r.stderr).not.toMatch(/unexpected error/);
  expect(r.stderr).toMatch(new RegExp(`port ${port}\\b.*in use`));
  expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
  const left = processesNaming(state);
  expect(left).toEqual([]);
});
