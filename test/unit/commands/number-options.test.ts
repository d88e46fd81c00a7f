// Number and port options are checked once, up front, naming the value the user typed.
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { checkNumberOptions } from '../../../src/commands/common.js';

function check(args: string[]) {
  const y = yargs(args).option('port', { type: 'number' }).option('callback-port', { type: 'number' }).option('count', { type: 'number' });
  const argv = y.parseSync() as Record<string, unknown>;
  return () => checkNumberOptions(argv, y as never, args);
}

describe('checkNumberOptions', () => {
  it('a port is a whole number from 1 to 65535, for every port option', () => {
    for (const p of ['99999', '-1', '8200.5', '0']) {
      expect(check(['--port', p])).toThrow(`invalid --port "${p}": a port is a whole number from 1 to 65535`);
    }
    expect(check(['--callback-port=70000'])).toThrow('invalid --callback-port "70000"');
    expect(check(['--port', '8200', '--callback-port', '1'])).not.toThrow();
    expect(check(['--port', '65535'])).not.toThrow();
  });

  it('a repeated flag names the bad value, not the first one', () => {
    expect(check(['--count', '2', '--count', 'abc'])).toThrow('invalid --count "abc": not a number');
    expect(check(['--count', 'x'])).toThrow('invalid --count "x": not a number');
  });
});
