// First contact from a fresh HOME: no state dir, no known_hosts, several devices at once.
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { balenaOsFleet } from '../../support/balenaos-fleet.js';

test('fresh HOME at --concurrency 6: every device is pinned and verified; the state dir is 0700', { timeout: 120_000 }, async ({ vault, balenaos, tmp }) => {
  const f = await balenaOsFleet(6, balenaos, tmp);
  const home = mkdtempSync(join(tmpdir(), 'fv-home-'));
  try {
    const r = await runCli(['ca', 'rollout', '--devices', f.file, '--identity', f.opKey, '--concurrency', '6', '--json'], { env: { ...vault.env, HOME: home }, timeoutMs: 100_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ changed: 6, failed: 0 });
    const state = join(home, '.local', 'state', 'fleetvault');
    expect(statSync(state).mode & 0o777).toBe(0o700);
    // Pinned by device name, not by address.
    const kh = readFileSync(join(state, 'known_hosts'), 'utf8');
    for (const d of f.devices) expect(kh).toContain(`${d.name} ${d.hostPublicKey}`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
