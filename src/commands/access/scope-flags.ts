// --device UUID | --fleet SLUG | --break-glass → one Scope, shared by `access` and `cert sign`.
import type { Argv } from 'yargs';
import type { Scope } from '../../access/principals.js';

export interface ScopeArgs { device?: string; fleet?: string; breakGlass?: boolean }

export function scopeOptions<T>(y: Argv<T>, o: { breakGlass: string }) {
  return y
    .option('device', { type: 'string', describe: 'one device, by balena uuid (principal device-<uuid>)', group: 'Scope:' })
    .option('fleet', { type: 'string', describe: 'a fleet, by balena slug org/fleet (principal fleet-<org>.<fleet>)', group: 'Scope:' })
    .option('break-glass', { type: 'boolean', describe: o.breakGlass, group: 'Scope:' });
}

/** A repeated string flag arrives as an array: one scope, one grantee, so refuse it. */
export async function single(value: unknown, flag: string): Promise<string | undefined> {
  if (value === undefined || typeof value === 'string') return value;
  const { UsageError } = await import('../../errors.js');
  throw new UsageError(`--${flag} given more than once`, { hint: 'name one; run the command once per scope or grantee' });
}

/** The one scope named, or undefined when none is; two at once is a usage error. */
export async function scopeFrom(argv: ScopeArgs): Promise<Scope | undefined> {
  const { UsageError } = await import('../../errors.js');
  argv = { ...argv, device: await single(argv.device, 'device'), fleet: await single(argv.fleet, 'fleet') };
  const { normalizeUuid, normalizeFleetSlug } = await import('../../access/principals.js');
  const named = [argv.device !== undefined, argv.fleet !== undefined, argv.breakGlass === true].filter(Boolean).length;
  if (named > 1) throw new UsageError('name one scope: --device, --fleet or --break-glass');
  if (argv.device !== undefined) return { kind: 'device', uuid: normalizeUuid(argv.device) };
  if (argv.fleet !== undefined) return { kind: 'fleet', slug: normalizeFleetSlug(argv.fleet) };
  if (argv.breakGlass) return { kind: 'break-glass' };
  return undefined;
}
