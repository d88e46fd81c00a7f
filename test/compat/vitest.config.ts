// HashiCorp Vault compatibility, kept out of `npm test` (the Vault build is slow and opt-in):
//   npm run test:compat   (builds .tools/vault/bin/vault first)
// Same global setup as the root config (an OpenBao for the shared fixtures); the test starts its
// own Vault dev server. Not merged with the root config: mergeConfig appends `include` arrays.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: ['test/compat/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
