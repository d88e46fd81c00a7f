// What every command shares: global options, config from argv, and output. Kept free of heavy
// imports: command files load their domain modules lazily inside handlers.
import type { Argv } from 'yargs';
import type { ConfigFlags, FleetvaultConfig } from '../config.js';
import { escapeControl } from '../errors.js';

export interface GlobalArgs extends ConfigFlags {
  json?: boolean;
}

/** Options every command takes; each also reads FLEETVAULT_<NAME> (yargs .env('FLEETVAULT')). */
export function globalOptions<T>(y: Argv<T>) {
  return y
    .option('json', { type: 'boolean', describe: 'machine-readable output on stdout', global: true })
    .option('address', { type: 'string', describe: 'Vault address (VAULT_ADDR / BAO_ADDR)', global: true, group: 'Vault:' })
    .option('namespace', { type: 'string', describe: 'Vault namespace (VAULT_NAMESPACE)', global: true, group: 'Vault:' })
    .option('ca-cert', { type: 'string', describe: 'PEM CA bundle for Vault TLS (VAULT_CACERT)', global: true, group: 'Vault:' })
    .option('client-cert', { type: 'string', describe: 'TLS client certificate (VAULT_CLIENT_CERT)', global: true, group: 'Vault:' })
    .option('client-key', { type: 'string', describe: 'TLS client key (VAULT_CLIENT_KEY)', global: true, group: 'Vault:' })
    .option('tls-skip-verify', { type: 'boolean', describe: 'disable TLS verification (VAULT_SKIP_VERIFY=true)', global: true, group: 'Vault:' })
    .option('timeout', { type: 'string', describe: 'per-request timeout, e.g. 30s', global: true, group: 'Vault:' })
    .option('ssh-mount', { type: 'string', describe: 'SSH CA mount', defaultDescription: 'ssh-client-signer', global: true, group: 'Layout:' })
    .option('ssh-role', { type: 'string', describe: 'SSH signing role', defaultDescription: 'engineer', global: true, group: 'Layout:' })
    .option('transit-mount', { type: 'string', describe: 'transit mount', defaultDescription: 'transit', global: true, group: 'Layout:' })
    .option('transit-key', { type: 'string', describe: 'transit key', defaultDescription: 'balena-provisioning', global: true, group: 'Layout:' })
    .option('approle-mount', { type: 'string', describe: 'AppRole auth mount', defaultDescription: 'approle', global: true, group: 'Layout:' })
    .option('approle-role', { type: 'string', describe: 'flasher AppRole role', defaultDescription: 'flasher', global: true, group: 'Layout:' })
    .option('kv-mount', { type: 'string', describe: 'KV v2 mount', defaultDescription: 'fleetvault', global: true, group: 'Layout:' })
    .option('policy-prefix', { type: 'string', describe: 'policy names <prefix>-engineer …', defaultDescription: 'fleetvault', global: true, group: 'Layout:' });
}

export async function configFrom(argv: GlobalArgs): Promise<FleetvaultConfig> {
  const { resolveConfig } = await import('../config.js');
  return resolveConfig(argv);
}

/**
 * Config and an authenticated client. Only commands that pass `appRole: true` (the flasher's
 * unseal) log in with FLEETVAULT_ROLE_ID: every AppRole login spends one use of a factory batch,
 * and a batch token may do nothing but decrypt, so any other command would burn a use and fail.
 */
export async function vaultFrom(argv: GlobalArgs, o: { appRole?: boolean } = {}) {
  const config = await configFrom(argv);
  const { connect } = await import('../vault/connect.js');
  return { config, client: await connect(config, { appRole: o.appRole ?? false }) };
}

/** Print data as JSON (--json) or as the human rendering. Strings from outside are escaped. */
export function render(argv: GlobalArgs, data: unknown, human: () => string): void {
  if (argv.json) process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else {
    const text = human();
    if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }
}

/** Diagnostics go to stderr so stdout stays clean for --json and pipes. */
export function note(message: string): void {
  process.stderr.write(escapeControl(message) + '\n');
}

/**
 * A command module. yargs' builder-inferred types fight hand-written arg interfaces, so commands
 * declare their args as an interface and annotate the handler parameter; argv is checked by
 * yargs (strict) at run time.
 */
export interface Command {
  command: string;
  describe: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  builder?: (y: Argv<any>) => Argv<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler: (argv: any) => void | Promise<void>;
}

/**
 * Every flag reads FLEETVAULT_<FLAG> (--concurrency → FLEETVAULT_CONCURRENCY) when not given.
 * Not yargs' .env(): under strict mode it rejects every FLEETVAULT_* variable that is not a flag
 * of the command being run, so one exported setting would break all other commands.
 * Flags with a default must declare it as defaultDescription and apply it in code, so that
 * "absent" stays distinguishable from "defaulted" here.
 */
export function fillFlagsFromEnv(argv: Record<string, unknown>, y: Argv<unknown>, env = process.env): void {
  const opts = (y as unknown as { getOptions(): { key: Record<string, boolean>; boolean: string[]; number: string[]; array: string[] } }).getOptions();
  for (const key of Object.keys(opts.key)) {
    if (key === 'help' || key === 'version' || key.includes('.')) continue;
    const name = 'FLEETVAULT_' + key.replace(/([a-z])([A-Z])/g, '$1_$2').replace(/-/g, '_').toUpperCase();
    const raw = env[name];
    if (raw === undefined || raw === '' || argv[key] !== undefined) continue;
    let value: unknown = raw;
    if (opts.boolean.includes(key)) value = ['1', 'true', 'yes', 'y', 't'].includes(raw.toLowerCase());
    else if (opts.number.includes(key)) value = Number(raw);
    else if (opts.array.includes(key)) value = raw.split(/[\s,]+/).filter(Boolean);
    const camel = key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    argv[key] = value;
    argv[camel] = value;
  }
}
