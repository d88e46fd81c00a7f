// yargs' multi-line failure texts become one line naming the command and pointing at its help.
import { describe, expect, it } from 'vitest';
import { usageMessage } from '../../../src/commands/usage-message.js';
import { formatError } from '../../../src/errors.js';

const line = (msg: string, path: string[], args: string[], usage?: string) => formatError(usageMessage(msg, path, args, usage));

describe('usageMessage', () => {
  it('rewrites each yargs failure as one line with the subcommand help', () => {
    expect(line('Invalid values:\n  Argument: method, Given: "foo", Choices: "token", "userpass", "oidc"', ['login'], ['login', '--method', 'foo']))
      .toBe('fleetvault: invalid --method "foo" (choose one of token, userpass, oidc; see fleetvault login --help)');
    expect(line('Did you mean sign?', ['cert'], ['cert', 'sing'])).toBe('fleetvault: unknown command "cert sing" (did you mean "cert sign"? see fleetvault cert --help)');
    expect(line('Unknown argument: frobnicate', [], ['frobnicate'])).toBe('fleetvault: unknown command "frobnicate" (see fleetvault --help)');
    expect(line('Unknown arguments: bogus-flag, other', ['cert', 'sign'], ['cert', 'sign', '--bogus-flag', '--other']))
      .toBe('fleetvault: unknown options --bogus-flag, --other for fleetvault cert sign (see fleetvault cert sign --help)');
    expect(line('Not enough non-option arguments: got 0, need at least 1', ['cert', 'inspect'], ['cert', 'inspect'], 'inspect <cert-file>'))
      .toBe('fleetvault: fleetvault cert inspect needs <cert-file> (see fleetvault cert inspect --help)');
    expect(line('Missing required argument: public-key', ['cert', 'sign'], ['cert', 'sign'])).toBe('fleetvault: fleetvault cert sign needs --public-key (see fleetvault cert sign --help)');
    for (const m of ['Invalid values:\n  Argument: a, Given: "x", Choices: "y"', 'Some\nnew yargs\n  message']) {
      expect(line(m, ['x'], ['x']).split('\n')).toHaveLength(1);
    }
  });
});

describe('usageMessage for ssh', () => {
  it('a remote command before --: says where it goes', () => {
    expect(line('Unknown arguments: l, a, ls', ['ssh'], ['ssh', 'dev', 'ls', '-la']))
      .toBe('fleetvault: put the remote command after --: fleetvault ssh <device> -- ls -la (see fleetvault ssh --help)');
    expect(line('Unknown arguments: a, uname', ['ssh'], ['ssh', '--host', '10.0.0.1', 'dev', 'uname', '-a']))
      .toBe('fleetvault: put the remote command after --: fleetvault ssh <device> -- uname -a (see fleetvault ssh --help)');
  });

  it('ssh flags fleetvault does not pass through are named as such; a long one is just unknown', () => {
    expect(line('Unknown arguments: t, A', ['ssh'], ['ssh', 'dev', '-t', '-A']))
      .toBe('fleetvault: unsupported ssh options -t, -A for fleetvault ssh (passed through: -o Key=Value, -J, -v, -L, -R; see fleetvault ssh --help)');
    expect(line('Unknown argument: bogus', ['ssh'], ['ssh', 'dev', '--bogus'])).toBe('fleetvault: unknown option --bogus for fleetvault ssh (see fleetvault ssh --help)');
  });
});
