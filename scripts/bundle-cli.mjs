// Bundles the CLI entry (yargs + the thin command layer) into dist/cli.js, with every lazily
// imported domain module split into dist/chunks/. Start-up was dominated by resolving ~40 small
// ESM files and yargs' module graph; one file halves that. tsc still emits dist/**/*.js and the
// .d.ts files for the library (`import … from 'fleetvault'`).
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

// cliui's ESM entry (what yargs' ESM build imports) wraps help text at exactly the column width,
// mid-word ("idempoten t", "ba\nlenaOS"); its CommonJS build wraps at word boundaries with
// wrap-ansi. Bundle the CommonJS one.
const require = createRequire(import.meta.url);
//
// And one off-by-one: a description whose last line leaves exactly the room of its type tag gets
// the tag glued on ("…raspberrypi4-64[string]"): cliui renders the right-aligned column inline
// when its leading spaces are >= the text before it, i.e. also with zero spaces left between them.
// With a strict > it goes to its own line, right-aligned, as every other tag that does not fit.
const GLUED = 'if (leadingWhitespace < targetTextWidth) {';
const cliuiWordWrap = {
  name: 'cliui-word-wrap',
  setup(b) {
    b.onResolve({ filter: /^cliui$/ }, () => ({ path: require.resolve('cliui') }));
    b.onLoad({ filter: /cliui[\\/]build[\\/]index\.cjs$/ }, ({ path }) => {
      const text = readFileSync(path, 'utf8');
      if (!text.includes(GLUED)) throw new Error(`cliui changed: "${GLUED}" not found in ${path}; re-check the help type-tag fix`);
      return { contents: text.replace(GLUED, 'if (leadingWhitespace <= targetTextWidth) {'), loader: 'js' };
    });
  },
};

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
  external: ['node-vault', 'balena-sdk', 'balena-image-fs', 'sshpk', 'oidc-provider'],
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [cliuiWordWrap],
});
chmodSync('dist/cli.js', 0o755);
