// yargs' own failure texts ("Invalid values:\n  Argument: …", "Did you mean sign?") rewritten as
// one line that names the command, says what was wrong and points at that command's help.
import { UsageError } from '../errors.js';

/** yargs' own failure messages, rewritten as one line that says what to fix. */
export function usageMessage(msg: string, path: string[], args: string[], usage = ''): UsageError {
  const where = ['fleetvault', ...path].join(' ');
  const help = `see ${where} --help`;
  const flat = msg.replace(/\s+/g, ' ').trim();
  // With recommendCommands, yargs' whole message for a typo is "Did you mean X?".
  const typo = /^Did you mean (.+)\?$/.exec(flat);
  if (typo) {
    const i = args.findIndex((a) => !a.startsWith('-') && !path.includes(a));
    const given = [...path, args[i] ?? ''].join(' ').trim();
    return new UsageError(`unknown command "${given}"`, { hint: `did you mean "${[...path, typo[1]].join(' ')}"? ${help}` });
  }
  const choices = [...flat.matchAll(/Argument: ([^,]+), Given: (.+?), Choices: (.+?)(?= Argument:|$)/g)];
  if (choices.length) {
    const [, name, given, list] = choices[0]!;
    return new UsageError(`invalid --${name} ${given}`, { hint: `choose one of ${list!.replace(/"/g, '')}; ${help}` });
  }
  const unknown = /^Unknown arguments?: (.+)$/.exec(flat);
  if (unknown && path.length === 0 && args.find((a) => !a.startsWith('-')) === unknown[1]) {
    return new UsageError(`unknown command "${unknown[1]}"`, { hint: help });
  }
  const ssh = unknown && path[0] === 'ssh' && path.length === 1 ? sshExtras(unknown[1]!.split(', '), args, help) : undefined;
  if (ssh) return ssh;
  if (unknown) {
    const names = unknown[1]!.split(', ').map((n) => (n.startsWith('-') || args.includes(n) ? n : `--${n}`));
    const positional = names.every((n) => !n.startsWith('-'));
    return new UsageError(`unknown ${positional ? 'argument' : 'option'}${names.length > 1 ? 's' : ''} ${names.join(', ')} for ${where}`, { hint: help });
  }
  const missing = /^Missing required arguments?: (.+)$/.exec(flat);
  if (missing) return new UsageError(`${where} needs ${missing[1]!.split(', ').map((n) => `--${n}`).join(', ')}`, { hint: help });
  const few = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(flat);
  if (few) {
    const wanted = usage.match(/<[^>]+>/g);
    return new UsageError(`${where} needs ${wanted ? wanted.join(' ') : `${few[2]} argument(s)`}`, { hint: help });
  }
  const noValue = /^Not enough arguments following: (.+)$/.exec(flat);
  if (noValue) return new UsageError(`--${noValue[1]} needs a value`, { hint: help });
  const conflict = /^Arguments (.+) and (.+) are mutually exclusive$/.exec(flat);
  if (conflict) return new UsageError(`--${conflict[1]} and --${conflict[2]} cannot be used together`, { hint: help });
  return new UsageError(flat || 'invalid arguments', { hint: help });
}


/**
 * `fleetvault ssh dev ls -la`: ssh's habit of a remote command right after the host. yargs sees
 * options -l -a and an argument "ls"; say where the command goes instead. Short flags alone (-t,
 * -A) are ssh options fleetvault does not pass through: name them as such.
 */
function sshExtras(names: string[], args: string[], help: string): UsageError | undefined {
  const end = args.indexOf('--') === -1 ? args.length : args.indexOf('--');
  const first = args.findIndex((a, i) => i < end && !a.startsWith('-') && names.includes(a) && a !== 'ssh');
  if (first !== -1) {
    const command = args.slice(first, end).join(' ');
    return new UsageError(`put the remote command after --: fleetvault ssh <device> -- ${command}`, { hint: help });
  }
  // A long option (--bogus) is just unknown: the generic message says so.
  if (names.some((n) => n.length !== 1)) return undefined;
  const flags = names.map((n) => `-${n}`);
  return new UsageError(`unsupported ssh option${flags.length > 1 ? 's' : ''} ${flags.join(', ')} for fleetvault ssh`, {
    hint: `passed through: -o Key=Value, -J, -v, -L, -R; ${help}`,
  });
}
