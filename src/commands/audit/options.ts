// Flags and helpers shared by the `audit` commands. No domain imports at top level: this file is
// loaded for --help.
import type { Argv } from 'yargs';
import type { GlobalArgs } from '../common.js';

export interface AuditLogArgs extends GlobalArgs {
  log?: string[];
  pairWindow?: string;
}

export interface AuditFilterArgs extends AuditLogArgs {
  since?: string;
  until?: string;
  kind?: string[];
  path?: string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function logOptions(y: Argv<any>) {
  return y
    .option('log', { type: 'string', array: true, describe: 'audit log file(s), oldest first; .gz read transparently (FLEETVAULT_AUDIT_LOG)', defaultDescription: 'the `fleetvault dev` server\'s audit log' })
    .option('pair-window', { type: 'string', describe: 'how long a request waits for its response before it is reported alone', defaultDescription: '5m' });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function filterOptions(y: Argv<any>) {
  return logOptions(y)
    .option('since', { type: 'string', describe: 'only events at or after: ISO time or a duration back from now (1h, 7d)' })
    .option('until', { type: 'string', describe: 'only events at or before: ISO time or a duration back from now' })
    .option('kind', { type: 'string', array: true, describe: 'ssh | transit | login | denied | other | all (repeatable)', defaultDescription: 'ssh, transit, login and every refusal' })
    .option('path', { type: 'string', array: true, describe: 'only events whose Vault path contains this (e.g. a mount name)' });
}

/** --log, else FLEETVAULT_AUDIT_LOG, else the audit log of the running `fleetvault dev` server. */
export async function logFilesFrom(argv: AuditLogArgs, env = process.env): Promise<string[]> {
  const { UsageError } = await import('../../errors.js');
  if (argv.log?.length) return argv.log;
  if (env.FLEETVAULT_AUDIT_LOG) return env.FLEETVAULT_AUDIT_LOG.split(/[\s,]+/).filter(Boolean);
  const { readDevState, devStateDir } = await import('../../dev/state.js');
  const state = readDevState(devStateDir(env));
  if (state?.auditLog) return [state.auditLog];
  throw new UsageError('no audit log given', { hint: 'pass --log /path/to/audit.log, set FLEETVAULT_AUDIT_LOG, or start `fleetvault dev`' });
}

export async function pairingFrom(argv: AuditLogArgs): Promise<{ pairWindowSeconds?: number }> {
  if (argv.pairWindow === undefined) return {};
  const { durationToSeconds } = await import('../../config.js');
  return { pairWindowSeconds: durationToSeconds(argv.pairWindow, 'pair-window') };
}

export async function filterFrom(argv: AuditFilterArgs) {
  const { parseTimeBound, validateKinds } = await import('../../audit/report.js');
  const now = Date.now();
  const sinceMs = argv.since === undefined ? undefined : parseTimeBound(argv.since, 'since', now);
  const untilMs = argv.until === undefined ? undefined : parseTimeBound(argv.until, 'until', now);
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs > untilMs) {
    const { UsageError } = await import('../../errors.js');
    throw new UsageError('--since is after --until');
  }
  return { sinceMs, untilMs, kinds: validateKinds(argv.kind), pathContains: argv.path };
}

/** Write with back-pressure, so a huge report through a slow pipe does not pile up in memory. */
export function writeOut(text: string): Promise<void> | undefined {
  if (process.stdout.write(text)) return undefined;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}
