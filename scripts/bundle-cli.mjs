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
