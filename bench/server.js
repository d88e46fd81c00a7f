// A throw-away OpenBao dev server bootstrapped with the default layout, for benchmarks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer } from '../dist/dev/openbao.js';
import { findVaultBinary } from '../dist/dev/find-binary.js';
import { VaultClient } from '../dist/vault/client.js';
import { bootstrapVault } from '../dist/vault/bootstrap.js';
import { DEFAULT_LAYOUT } from '../dist/config.js';

export async function benchServer() {
  const dir = mkdtempSync(join(tmpdir(), 'fv-bench-'));
  const server = await startDevServer({ dir });
  const root = new VaultClient({ address: server.address, token: server.rootToken });
  await bootstrapVault({ client: root, layout: DEFAULT_LAYOUT });
  return {
    ...server, dir, root, bin: findVaultBinary(),
    env: { ...process.env, VAULT_ADDR: server.address, VAULT_TOKEN: server.rootToken, BAO_ADDR: server.address, BAO_TOKEN: server.rootToken },
    async close() { await server.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
