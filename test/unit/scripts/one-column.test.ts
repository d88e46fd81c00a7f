// The bundle's help fast path (scripts/bundle-cli.mjs) takes a string's length as its width when
// it matches ONE_COLUMN: that must be what string-width itself answers, for every code point the
// class admits, or help text would wrap differently from yargs' own rendering.
import { expect, test } from 'vitest';
import { createRequire } from 'node:module';
// @ts-expect-error plain .mjs build helper without types
import { ONE_COLUMN_SOURCE } from '../../../scripts/one-column.mjs';

const require = createRequire(import.meta.url);
const stringWidth = require(require.resolve('string-width', { paths: [require.resolve('cliui')] })) as (s: string) => number;
const oneColumn = new RegExp(ONE_COLUMN_SOURCE as string);

test('every code point the fast path admits is one column wide to string-width', () => {
  const admitted: number[] = [];
  for (let c = 0; c < 0x10000; c++) {
    const s = String.fromCharCode(c);
    if (oneColumn.test(s)) { admitted.push(c); expect(stringWidth(s), `U+${c.toString(16)}`).toBe(1); }
  }
  expect(admitted.length).toBeGreaterThan(95 + 400);
});

test('what the fast path refuses is left to string-width: emoji, wide, combining, control, escapes', () => {
  for (const s of ['©', '®', '‼', '↔', '中', 'e\u0301', '\x1b[1mx', '\t', '😀']) expect(oneColumn.test(s), JSON.stringify(s)).toBe(false);
});
