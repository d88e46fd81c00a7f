// A cancelled device host (dev failed before the device was needed, e.g. its --port taken) whose
// 'exit' event arrives after the caller has removed the dev dir: the listener must not throw.
// It did (reading host.log), and the CLI printed an 18-line ENOENT stack under its one-line error
// on a loaded machine (CI, Node 22): 6 of 24 parallel `dev --port <taken>` runs before the fix.
import { expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDeviceHost } from '../../../src/dev/balenaos/launch.js';

test('cancel, then the dev dir removed before the host\'s exit is seen: no uncaught error', async () => {
  const errors: unknown[] = [];
  const onError = (e: unknown) => errors.push(e);
  process.on('uncaughtException', onError);
  try {
    for (let i = 0; i < 5; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'fv-launch-'));
      const host = spawnDeviceHost(join(dir, 'device'));
      // Remove the dir first, then cancel: the exit listener always finds host.log gone.
      rmSync(dir, { recursive: true, force: true });
      await host.cancel();
      await new Promise((r) => setTimeout(r, 200));
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    process.removeListener('uncaughtException', onError);
  }
  expect(errors.map(String)).toEqual([]);
});
