// Bundles the CLI entry (yargs, the thin command layer and every domain module it imports lazily)
// into one CommonJS file, dist/cli.cjs, which dist/bin.cjs (src/bin.cts) loads with V8's code
// cache. Start-up was dominated by resolving ~40 small ESM files, then by compiling the bundle and
// by Node's ESM loader itself; one CommonJS file with a code cache removes all three. dist/cli.js
// stays (`node dist/cli.js` in docs and tests): a two-line ESM stub that loads dist/bin.cjs.
// tsc still emits dist/**/*.js and the .d.ts files for the library (`import … from 'fleetvault'`).
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ONE_COLUMN } from './one-column.mjs';

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

// yargs imports node:assert for two internal invariant checks; loading node:assert (not in Node's
// startup snapshot: it pulls util/comparisons and the AssertionError machinery) cost more than
// yargs' own parse. Two strict-equality checks are all it needs.
const yargsAssertShim = {
  name: 'yargs-assert-shim',
  setup(b) {
    b.onResolve({ filter: /^assert$/ }, (a) => (/yargs/.test(a.importer) ? { path: 'assert', namespace: 'fv-assert' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'fv-assert' }, () => ({
      loader: 'js',
      contents: [
        'export function strictEqual(a, b, m) { if (a !== b) throw new Error(m ?? `expected ${String(a)} to be ${String(b)}`); }',
        'export function notStrictEqual(a, b, m) { if (a === b) throw new Error(m ?? `expected ${String(a)} not to be ${String(b)}`); }',
      ].join('\n'),
    }));
  },
};

// cliui measures every word of the help text with string-width, which builds emoji-regex's
// ~10 kB pattern anew for each call, and strips ANSI codes with a regex also built per call: most
// of `--help`'s 12 ms. Help text is mostly printable ASCII, whose width is its length and which holds no
// escape codes; anything else still takes the libraries' own path. The class also admits the
// Latin and punctuation ranges fleetvault's help uses ("·", "…", "→"); see scripts/one-column.mjs.
const asciiFastPaths = {
  name: 'ascii-fast-paths',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/](string-width|strip-ansi)[\\/]index\.js$/ }, ({ path }) => {
      const text = readFileSync(path, 'utf8');
      const isWidth = /string-width[\\/]index\.js$/.test(path);
      const exported = isWidth ? 'module.exports = stringWidth;' : "module.exports = string => typeof string === 'string' ? string.replace(ansiRegex(), '') : string;";
      if (!text.includes(exported)) throw new Error(`${path} changed: "${exported}" not found; re-check the ASCII fast path`);
      const slow = isWidth ? 'stringWidth' : "(string => typeof string === 'string' ? string.replace(ansiRegex(), '') : string)";
      const fast = isWidth
        ? `module.exports = (s) => (typeof s === 'string' && ${ONE_COLUMN}.test(s) ? s.length : __slow(s));`
        : `module.exports = (s) => (typeof s === 'string' && !/[\\x1b\\x9b]/.test(s) ? s : __slow(s));`;
      return { contents: text.replace(exported, `const __slow = ${slow};\n${fast}`).replace('module.exports.default = stringWidth;', 'module.exports.default = module.exports;'), loader: 'js' };
    });
  },
};

rmSync('dist/chunks', { recursive: true, force: true });
// The help texts belong to the bundle they were rendered from: a new bundle has none until
// scripts/build-help.mjs renders them again (until then --help goes through yargs).
rmSync('dist/help', { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // The sources locate package files relative to their own module (`new URL('../vendor/…',
  // import.meta.url)`, createRequire): in the library they sit one level below dist/, so the
  // bundle answers as if it did too.
  define: { 'import.meta.url': '__fvModuleUrl' },
  // Every import() (node: built-ins too) becomes require(): code compiled from V8's cache cannot
  // rely on a dynamic-import callback (src/bin.cts), and require is what CommonJS has anyway.
  supported: { 'dynamic-import': false },
  banner: { js: 'var __fvModuleUrl = require("node:url").pathToFileURL(require("node:path").join(__dirname, "chunks", "cli.cjs")).href;' },
  // Heavy or native-ish dependencies stay in node_modules and load only when a command needs them.
  external: ['node-vault', 'balena-sdk', 'balena-image-fs', 'sshpk', 'oidc-provider'],
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [cliuiWordWrap, yargsAssertShim, asciiFastPaths],
});
writeFileSync('dist/cli.js', '#!/usr/bin/env node\n// `node dist/cli.js` = the fleetvault executable (dist/bin.cjs, see src/bin.cts).\nimport { createRequire } from "node:module";\ncreateRequire(import.meta.url)("./bin.cjs");\n');
rmSync('dist/cli.d.ts', { force: true });
chmodSync('dist/cli.js', 0o755);
chmodSync('dist/bin.cjs', 0o755);

// node-vault as one CommonJS file (dist/vendor/node-vault.cjs, which src/vault/client.ts prefers).
// node-vault requires axios and debug at load time; fleetvault hands it its own transport and
// logger (src/vault/http-transport.ts), so both are stubbed here (and tv4, see below): debug for good, axios (and
// https, which only its agent uses) with shims that load the real ones only if node-vault's own
// transport is used (HTTP(S)_PROXY set).
const TV4_SUBSET = `
const tv4 = { error: null, validate(data, schema) { tv4.error = check(data, schema, ''); return tv4.error === null; } };
function typeOf(v) { return v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v; }
function check(v, s, at) {
  if (!s || typeof s !== 'object') return null;
  const t = typeOf(v);
  if (s.type && !(s.type === t || (s.type === 'number' && t === 'integer'))) return { message: 'Invalid type: ' + t + ' (expected ' + s.type + ')', dataPath: at };
  if (t === 'object') {
    for (const k of s.required || []) if (!(k in v)) return { message: 'Missing required property: ' + k, dataPath: at + '/' + k };
    for (const [k, sub] of Object.entries(s.properties || {})) if (k in v && v[k] !== undefined) { const e = check(v[k], sub, at + '/' + k); if (e) return e; }
  }
  return null;
}
module.exports = tv4;`;
const nodeVaultStubs = {
  name: 'node-vault-stubs',
  setup(b) {
    b.onResolve({ filter: /^(axios|debug|https|tv4)$/ }, (a) =>
      /node-vault/.test(a.importer) ? { path: a.path, namespace: 'fv-stub' } : { path: a.path, external: true });
    b.onLoad({ filter: /.*/, namespace: 'fv-stub' }, (a) => ({
      loader: 'js',
      contents: a.path === 'debug' ? 'module.exports = () => Object.assign(() => {}, { enabled: false });'
        // https (only for axios' agent): loaded on first use, not at require time.
        : a.path === 'https' ? 'module.exports = { get Agent() { return require("node:https").Agent; } };'
        // tv4 (56 kB) checks request options against node-vault's small schemas: type, properties
        // and required are all they use.
        : a.path === 'tv4' ? TV4_SUBSET
        // axios is node-vault's dependency: found beside it when npm did not hoist it.
        : 'const load = () => { try { return require("axios"); } catch { return require(require.resolve("axios", { paths: [require.resolve("node-vault")] })); } };\n'
          + 'module.exports = { create: (...args) => load().create(...args) };',
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
  external: ['node-vault'], // only the shim's require.resolve names it: found at run time
  minifySyntax: true,
  minifyWhitespace: true,
  logLevel: 'warning',
});
