// `dev` asks its balenaOS device for 22222 when free. Checking first and binding later raced: two
// `dev` (or two dev tests) starting at once both saw the port free and one failed to listen. The
// device now binds its preferred port or falls back to any free one in the same step.
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { startBalenaOsDevice } from '../../../src/dev/balenaos/device.js';
import { requireTools } from '../../support/tools.js';

test('a preferred port that is taken: the device listens on another one and says which', { timeout: 60_000 }, async () => {
  requireTools(['sshd', 'ssh-keygen', 'jq']);
  const dir = mkdtempSync(join(tmpdir(), 'fv-prefport-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const holder = createServer((c) => c.destroy());
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  onTestFinished(() => new Promise<void>((r) => holder.close(() => r())));
  const taken = (holder.address() as { port: number }).port;
  const d = await startBalenaOsDevice({ dir: join(dir, 'device'), name: 'd', host: '127.0.0.1', preferredPort: taken, nssAto: 'off' });
  onTestFinished(() => d.stop());
  expect(d.port).not.toBe(taken);
  expect(d.port).toBeGreaterThan(0);
  expect(d.knownHostsLine.startsWith(`[127.0.0.1]:${d.port} `)).toBe(true);
});
