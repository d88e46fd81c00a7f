// The package's root directory (where package.json, policies/ and .tools/ live), found by walking
// up from this module — the CLI is bundled into dist/cli.js + dist/chunks/, the library is
// compiled into dist/<dir>/, tests run from src/: depth differs, the root does not.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fleetvault') return (cached = dir);
      } catch { /* keep walking */ }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('fleetvault package root not found');
    dir = up;
  }
}
