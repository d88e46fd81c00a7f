// Bundles the CLI entry (yargs + the thin command layer) into dist/cli.js, with every lazily
// imported domain module split into dist/chunks/. Start-up was dominated by resolving ~40 small
// ESM files and yargs' module graph; one file halves that. tsc still emits dist/**/*.js and the
// .d.ts files for the library (`import … from 'fleetvault'`).
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';

rmSync('dist/chunks', { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // Heavy or native-ish dependencies stay in node_modules and load only when a command needs them.
  external: ['node-vault', 'balena-sdk', 'balena-image-fs', 'sshpk', 'oidc-provider', 'testcontainers'],
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
chmodSync('dist/cli.js', 0o755);

// node-vault as one CommonJS file (dist/vendor/node-vault.cjs, which src/vault/client.ts prefers).
// node-vault requires axios and debug at load time; fleetvault hands it its own transport and
// logger (src/vault/http-transport.ts), so both are stubbed here: debug for good, axios with a
// shim that loads the real one only if node-vault's own transport is used (HTTP(S)_PROXY set).
const nodeVaultStubs = {
  name: 'node-vault-stubs',
  setup(b) {
    b.onResolve({ filter: /^(axios|debug)$/ }, (a) =>
      /node-vault/.test(a.importer) ? { path: a.path, namespace: 'fv-stub' } : { path: a.path, external: true });
    b.onLoad({ filter: /.*/, namespace: 'fv-stub' }, (a) => ({
      loader: 'js',
      contents: a.path === 'debug'
        ? 'module.exports = () => Object.assign(() => {}, { enabled: false });'
        : 'module.exports = { create: (...args) => require("axios").create(...args) };',
    }));
  },
};
await build({
  entryPoints: { 'node-vault': 'node_modules/node-vault/src/index.js' },
  outdir: 'dist/vendor',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [nodeVaultStubs],
  minifySyntax: true,
  minifyWhitespace: true,
  logLevel: 'warning',
});
