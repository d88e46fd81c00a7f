#!/usr/bin/env node
// The fleetvault CLI: parse, dispatch, and the one place that exits. Commands are thin; their
// domain modules load lazily inside handlers so `fleetvault --help` stays close to `node -e 0`.
import yargs from 'yargs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

import { UsageError, formatError, exitCodeOf } from './errors.js';
import { usageMessage } from './commands/usage-message.js';
import { globalOptions, fillFlagsFromEnv, checkNumberOptions, checkTtlUnits, withCommandHelp, reachedCommand, GENERAL_GROUP } from './commands/common.js';
import { devCommand } from './commands/dev/index.js';
import { initCommand } from './commands/init/index.js';
import { caCommand } from './commands/ca/index.js';
import { certCommand } from './commands/cert/index.js';
import { sshCommand } from './commands/ssh/index.js';
import { sshConfigCommand, sshProxyCommand } from './commands/ssh/config.js';
import { loginCommand } from './commands/login/index.js';
import { logoutCommand } from './commands/logout/index.js';
import { whoamiCommand } from './commands/whoami/index.js';
import { statusCommand } from './commands/status/index.js';
import { contextCommand } from './commands/context/index.js';
import { auditCommand } from './commands/audit/index.js';
import { provisionCommand } from './commands/provision/index.js';
import { factoryCommand } from './commands/factory/index.js';
import { tunnelCommand } from './commands/tunnel/index.js';
import { splitAttachedSshFlags } from './ssh/pass-through.js';
import { accessCommand } from './commands/access/index.js';

// The compile cache (Node ≥ 22.1) or V8's code cache (Node 20) is set up by the executable,
// dist/bin.cjs (src/bin.cts), before this bundle loads: every way in (`fleetvault`, `node
// dist/cli.js`) goes through it, and it alone decides which directory is private enough.

const debug = process.env.FLEETVAULT_DEBUG === '1';

function fail(err: unknown): void {
  const line = formatError(err, debug);
  if (line) process.stderr.write(line + '\n');
  process.exitCode = exitCodeOf(err);
}

const COMMANDS = [
  devCommand, initCommand, caCommand, certCommand, sshCommand, sshConfigCommand, sshProxyCommand,
  loginCommand, logoutCommand, whoamiCommand, statusCommand, contextCommand,
  auditCommand, provisionCommand, factoryCommand, tunnelCommand, accessCommand,
].map(withCommandHelp);

/** A usage error from our own checks, pointing at the help of the command it concerns. */
function pointToHelp(e: unknown, path: string[]): unknown {
  // One pointer is enough: a hint that already sends the user to a command keeps it alone.
  if (!(e instanceof UsageError) || /--help|\bsee fleetvault\b/.test(e.hint ?? '')) return e;
  const help = `see ${['fleetvault', ...path].join(' ')} --help`;
  return new UsageError(e.message, { hint: e.hint ? `${e.hint}; ${help}` : help, cause: e.cause });
}

/** Help reads well at the terminal's width (COLUMNS when piped), capped for long lines. */
function helpWidth(): number {
  const cols = Number(process.env.COLUMNS) || process.stdout.columns || 80;
  return Math.max(40, Math.min(120, cols));
}

export async function main(args: string[]): Promise<void> {
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  // Shared Vault options appear once, in `fleetvault --help`; a subcommand's help points there.
  const subcommand = args.some((a) => a === '--' || !a.startsWith('-'));
  let parser = globalOptions(yargs(args), { hidden: subcommand })
    .scriptName('fleetvault')
    // `fleetvault ssh dev -- cmd args`: everything after -- is the remote command, untouched.
    .parserConfiguration({ 'populate--': true })
    .usage('$0 <command> [options]\n\nSSH certificates and provisioning secrets for balenaOS fleets, kept in Vault/OpenBao.')
    // Every flag also reads FLEETVAULT_<FLAG> (e.g. --ssh-mount → FLEETVAULT_SSH_MOUNT), then the
    // flags are checked once here rather than in every command.
    // yargs passes its command-scoped instance as the second argument; its types omit it.
    .middleware(((argv: Record<string, unknown>, y: unknown) => {
      try {
        fillFlagsFromEnv(argv, y as never);
        checkNumberOptions(argv, y as never, args);
        checkTtlUnits(argv);
      } catch (e) {
        throw pointToHelp(e, reachedCommand.path);
      }
    }) as never, true);
  for (const c of COMMANDS) parser = parser.command(c);
  parser = parser
    .demandCommand(1, 'no command given')
    .strict()
    .recommendCommands()
    .completion('completion', 'print a shell completion script (bash/zsh)')
    .version(version)
    .alias('h', 'help')
    .group(['help', 'version'], GENERAL_GROUP)
    .wrap(helpWidth())
    .epilogue('Exit codes: 0 ok · 1 usage or local error · 2 Vault or device refused/unreachable · 3 `init --dry-run` found drift · `ssh` passes ssh\'s own status.\nPrecedence of every setting: flag > environment > context (fleetvault context) > default.\nDocs: README.md · stack traces with FLEETVAULT_DEBUG=1')
    .fail((msg, err) => {
      // Parse errors (unknown command/flag, missing value) are usage errors: one line, exit 1.
      if (err) throw pointToHelp(err, reachedCommand.path);
      if (msg === 'no command given') throw new UsageError('no command given', { hint: 'start with fleetvault dev, or see fleetvault --help' });
      throw usageMessage(msg ?? '', reachedCommand.path, args, reachedCommand.usage);
    });
  await parser.parseAsync();
}

/** yargs reads a lone `-` as a positional, never as an option's value: `--out -` means stdout. */
function joinDashValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') { out.push(...args.slice(i)); break; }
    if (args[i] === '--out' && args[i + 1] === '-') { out.push('--out=-'); i++; } else out.push(args[i]!);
  }
  return out;
}

main(splitAttachedSshFlags(joinDashValues(process.argv.slice(2)))).then(
  () => {
    // Let stdout drain; if a stray handle (keep-alive socket) lingers, do not hang the shell.
    setTimeout(() => process.exit(), 1500).unref();
  },
  (err) => {
    // Usage errors from a command's own checks point at that command's help too.
    fail(pointToHelp(err, reachedCommand.path));
    setTimeout(() => process.exit(), 1500).unref();
  },
);
