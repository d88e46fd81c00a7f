// Renders `fleetvault [command…] --help` for every command with yargs itself (the built CLI, as a
// user runs it, with the fast path off) at widths 80 and 120, into dist/help/, which
// src/fast-help.cts prints without loading the bundle. Commands are found the way a user finds
// them: in each help's "Commands:" section.
import { execFile } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const WIDTHS = [80, 120];
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', FLEETVAULT_FAST_HELP: '0' };

async function help(path, width) {
  const { stdout } = await run(process.execPath, ['dist/bin.cjs', ...(path ? path.split(' ') : []), '--help'], {
    env: { ...env, COLUMNS: String(width) }, maxBuffer: 1 << 20,
  });
  return stdout;
}

/** The subcommand paths a help lists under "Commands:" (`  fleetvault ca rollout  …`). */
function subcommands(text) {
  // Up to the next heading ("Options:"): yargs separates command groups with blank lines.
  const section = /^Commands:\n([\s\S]*?)(?:\n\S[^\n]*:\n|(?![\s\S]))/m.exec(text)?.[1] ?? '';
  const paths = [];
  for (const line of section.split('\n')) {
    const m = /^ {2}fleetvault ((?:[a-z][a-z-]* ?)+)/.exec(line);
    if (m) paths.push(m[1].trim());
  }
  return paths;
}

const widths = Object.fromEntries(WIDTHS.map((w) => [String(w), {}]));
const queue = [''];
const seen = new Set(queue);
while (queue.length) {
  // A few at a time: each is a whole CLI start.
  const batch = queue.splice(0, 4);
  await Promise.all(batch.map(async (path) => {
    const texts = await Promise.all(WIDTHS.map((w) => help(path, w)));
    WIDTHS.forEach((w, i) => (widths[String(w)][path] = texts[i]));
    for (const sub of subcommands(texts[0])) {
      // yargs' `completion` ignores --help and prints its script, bash or zsh by $SHELL: not a
      // text this build can render for every user. It stays with yargs.
      if (sub === 'completion') continue;
      if (!seen.has(sub)) { seen.add(sub); queue.push(sub); }
    }
  }));
}
// dist/help/<bundle size>/<width>/fleetvault.ca.rollout.txt (see src/fast-help.cts).
const base = `dist/help/${statSync('dist/cli.cjs').size}`;
for (const w of WIDTHS) {
  mkdirSync(`${base}/${w}`, { recursive: true });
  for (const [path, text] of Object.entries(widths[String(w)])) {
    writeFileSync(`${base}/${w}/${['fleetvault', ...(path ? path.split(' ') : [])].join('.')}.txt`, text);
  }
}
console.log(`help: ${seen.size} commands × ${WIDTHS.length} widths → ${base}/`);
