#!/usr/bin/env node
// The fleetvault CLI: parse, dispatch, and the one place that exits. Commands are thin; their
// domain modules load lazily inside handlers so `fleetvault --help` stays close to `node -e 0`.
import * as nodeModule from 'node:module';
import yargs from 'yargs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

import { UsageError, formatError, exitCodeOf } from './errors.js';
import { globalOptions, fillFlagsFromEnv } from './commands/common.js';
import { devCommand } from './commands/dev/index.js';
import { initCommand } from './commands/init/index.js';
import { caCommand } from './commands/ca/index.js';
import { certCommand } from './commands/cert/index.js';
import { sshCommand } from './commands/ssh/index.js';
import { sshConfigCommand, sshProxyCommand } from './commands/ssh/config.js';
import { loginCommand } from './commands/login/index.js';
import { auditCommand } from './commands/audit/index.js';
import { provisionCommand } from './commands/provision/index.js';
import { factoryCommand } from './commands/factory/index.js';
import { accessCommand } from './commands/access/index.js';

// Node ≥ 22.1 can cache compiled code between runs; start-up is most of a short command's time.
// (Absent on Node 20, where this is a no-op.)
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const debug = process.env.FLEETVAULT_DEBUG === '1';

function fail(err: unknown): void {
  const line = formatError(err, debug);
  if (line) process.stderr.write(line + '\n');
  process.exitCode = exitCodeOf(err);
}

export async function main(args: string[]): Promise<void> {
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const parser = globalOptions(yargs(args))
    .scriptName('fleetvault')
    // `fleetvault ssh dev -- cmd args`: everything after -- is the remote command, untouched.
    .parserConfiguration({ 'populate--': true })
    .usage('$0 <command> [options]\n\nSSH certificates and provisioning secrets for balenaOS fleets, kept in Vault/OpenBao.')
    // Every flag also reads FLEETVAULT_<FLAG> (e.g. --ssh-mount → FLEETVAULT_SSH_MOUNT).
    // yargs passes its command-scoped instance as the second argument; its types omit it.
    .middleware(((argv: Record<string, unknown>, y: unknown) => fillFlagsFromEnv(argv, y as never)) as never, true)
    .command(devCommand)
    .command(initCommand)
    .command(caCommand)
    .command(certCommand)
    .command(sshCommand)
    .command(sshConfigCommand)
    .command(sshProxyCommand)
    .command(loginCommand)
    .command(auditCommand)
    .command(provisionCommand)
    .command(factoryCommand)
    .command(accessCommand)
    .demandCommand(1, 'name a command (see fleetvault --help)')
    .strict()
    .recommendCommands()
    .completion('completion', 'print a shell completion script (bash/zsh)')
    .version(version)
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .epilogue('Exit codes: 0 ok · 1 usage or local error · 2 Vault or device refused/unreachable · `ssh` passes ssh\'s own status.\nDocs: README.md · stack traces with FLEETVAULT_DEBUG=1')
    .fail((msg, err) => {
      // Parse errors (unknown command/flag, missing value) are usage errors: one line, exit 1.
      if (err) throw err;
      // With recommendCommands, yargs' whole message for a typo is "Did you mean X?": say what was wrong.
      const typo = /^Did you mean (.+)\?$/.exec(msg ?? '');
      if (typo) throw new UsageError(`unknown command "${args.find((a) => !a.startsWith('-')) ?? ''}"`, { hint: `did you mean ${typo[1]}? see fleetvault --help` });
      throw new UsageError(msg ?? 'invalid arguments', { hint: 'see fleetvault --help' });
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

main(joinDashValues(process.argv.slice(2))).then(
  () => {
    // Let stdout drain; if a stray handle (keep-alive socket) lingers, do not hang the shell.
    setTimeout(() => process.exit(), 1500).unref();
  },
  (err) => {
    fail(err);
    setTimeout(() => process.exit(), 1500).unref();
  },
);
