// Soak runs (> 3 minutes each), kept out of the normal suite. Same global setup as the root
// config, only test/soak, longer timeouts, one file at a time. Not merged with the root config:
// mergeConfig appends `include` arrays, which would run the whole suite too. Run:
//   npm run build && FLEETVAULT_SOAK=1 npx vitest run --config test/soak/vitest.config.ts
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: ['test/soak/**/*.test.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
