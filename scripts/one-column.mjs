// Characters whose terminal width string-width itself puts at exactly one column: printable ASCII
// plus the Latin and punctuation ranges fleetvault's help text uses ("·", "…", "→"). None is an
// emoji, a combining mark or a control character; test/unit/cli/one-column.test.ts checks every
// code point of the class against string-width. The bundle's ASCII fast path (bundle-cli.mjs)
// takes a string's length as its width only when the whole string matches.
export const ONE_COLUMN_SOURCE = '^[\\x20-\\x7e\\xa0-\\xa8\\xaa-\\xad\\xaf-\\u02ff\\u2010-\\u2027\\u2030-\\u203b\\u2190-\\u2193]*$';
/** As a JavaScript regex literal, for code generation. */
export const ONE_COLUMN = `/${ONE_COLUMN_SOURCE}/`;
