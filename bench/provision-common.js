// Shared set-up for the provisioning benches: a dev OpenBao the bench starts itself, bootstrapped
// with the default layout (as `fleetvault dev` does), and the built library from dist/.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CLI = join(ROOT, 'dist/cli.js');
export const BAO = process.env.FLEETVAULT_VAULT_BIN ?? join(ROOT, '.tools/bin/bao');

export async function startBenchVault() {
  if (!existsSync(CLI)) throw new Error('dist/cli.js missing: run npm run build');
  if (!existsSync(BAO)) throw new Error(`bao CLI not found at ${BAO}: run bash scripts/install-tools.sh`);
  const { startDevServer } = await import(join(ROOT, 'dist/dev/openbao.js'));
  const { bootstrapVault } = await import(join(ROOT, 'dist/vault/bootstrap.js'));
  const { VaultClient } = await import(join(ROOT, 'dist/vault/client.js'));
  const { DEFAULT_LAYOUT } = await import(join(ROOT, 'dist/config.js'));
  const dir = mkdtempSync(join(tmpdir(), 'fv-bench-'));
  const server = await startDevServer({ dir: join(dir, 'vault'), bin: BAO });
  const root = new VaultClient({ address: server.address, token: server.rootToken });
  await bootstrapVault({ client: root, layout: DEFAULT_LAYOUT, factoryCidrs: ['127.0.0.0/8'] });
  return {
    dir, server, root, layout: DEFAULT_LAYOUT,
    async stop() { await server.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

export function lib(path) {
  return import(join(ROOT, 'dist', path));
}
