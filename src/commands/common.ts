// What every command shares: global options, config from argv, and output. Kept free of heavy
// imports: command files load their domain modules lazily inside handlers.
import type { Argv } from 'yargs';
import type { ConfigFlags, FleetvaultConfig } from '../config.js';
import { UsageError, escapeControl } from '../errors.js';

export interface GlobalArgs extends ConfigFlags {
  json?: boolean;
  context?: string;
}

/** The help group names of the shared options (shown once, in `fleetvault --help`). */
export const CONNECTION_GROUP = 'Vault connection (every command):';
export const LAYOUT_GROUP = 'Vault layout (every command):';
export const GENERAL_GROUP = 'General:';

/**
 * Options every command takes; each also reads FLEETVAULT_<NAME>. With `hidden`, they still parse
 * but stay out of a subcommand's help: fifteen shared flags before a command's own three buried
 * them. `fleetvault --help` lists them once; every command's help points there (sharedHelpPointer).
 */
export function globalOptions<T>(y: Argv<T>, o: { hidden?: boolean } = {}) {
  const hidden = o.hidden ?? false;
  const conn = { global: true, hidden, group: CONNECTION_GROUP } as const;
  const layout = { global: true, hidden, group: LAYOUT_GROUP } as const;
  return y
    .option('json', { type: 'boolean', describe: 'machine-readable output on stdout', global: true, group: GENERAL_GROUP })
    .option('context', { type: 'string', describe: 'use this named context from the config file (fleetvault context list)', ...conn })
    .option('address', { type: 'string', describe: 'Vault address (VAULT_ADDR / BAO_ADDR)', ...conn })
    .option('namespace', { type: 'string', describe: 'Vault namespace (VAULT_NAMESPACE)', ...conn })
    .option('ca-cert', { type: 'string', describe: 'PEM CA bundle for Vault TLS (VAULT_CACERT)', ...conn })
    .option('client-cert', { type: 'string', describe: 'TLS client certificate (VAULT_CLIENT_CERT)', ...conn })
    .option('client-key', { type: 'string', describe: 'TLS client key (VAULT_CLIENT_KEY)', ...conn })
    .option('tls-skip-verify', { type: 'boolean', describe: 'disable TLS verification (VAULT_SKIP_VERIFY=true)', ...conn })
    .option('timeout', { type: 'string', describe: 'per-request timeout, e.g. 30s', ...conn })
    .option('ssh-mount', { type: 'string', describe: 'SSH CA mount', defaultDescription: 'ssh-client-signer', ...layout })
    .option('ssh-role', { type: 'string', describe: 'SSH signing role', defaultDescription: 'engineer', ...layout })
    .option('transit-mount', { type: 'string', describe: 'transit mount', defaultDescription: 'transit', ...layout })
    .option('transit-key', { type: 'string', describe: 'transit key', defaultDescription: 'balena-provisioning', ...layout })
    .option('approle-mount', { type: 'string', describe: 'AppRole auth mount', defaultDescription: 'approle', ...layout })
    .option('approle-role', { type: 'string', describe: 'flasher AppRole role', defaultDescription: 'flasher', ...layout })
    .option('kv-mount', { type: 'string', describe: 'KV v2 mount', defaultDescription: 'fleetvault', ...layout })
    .option('policy-prefix', { type: 'string', describe: 'policy names <prefix>-engineer …', defaultDescription: 'fleetvault', ...layout });
}

/**
 * The command the parser reached (`['ca', 'rotate']`, and its usage `rotate [step]`), for error
 * messages: by the time yargs reports a failure it has already left the command's context.
 */
export const reachedCommand: { path: string[]; usage: string } = { path: [], usage: '' };

/** The line every subcommand's help ends with, in place of the fifteen shared options. */
export const SHARED_HELP_POINTER =
  'Vault connection and layout options (--context, --address, --namespace, --ca-cert, --ssh-mount, …) work with every command: see `fleetvault --help`.';

type AnyArgv = Argv<unknown>;
interface OptionsView { key: Record<string, boolean>; local: string[] }
const optionsOf = (y: AnyArgv) => (y as unknown as { getOptions(): OptionsView }).getOptions();

/**
 * Wrap a command (and, through its builder, every subcommand it registers) so that:
 * - the options its builder declares are local to it: yargs makes options global by default, so
 *   `dev stop --help` listed (and accepted) `dev`'s --port/--detach/--with-device;
 * - its help ends with SHARED_HELP_POINTER.
 */
export function withCommandHelp(cmd: Command): Command {
  const builder = cmd.builder;
  return {
    ...cmd,
    builder: (y) => {
      // Builders run outermost first: the last one to run is the command the user reached.
      const ctx = (y as unknown as { getInternalMethods(): { getContext(): { commands: string[]; fullCommands: string[] } } }).getInternalMethods().getContext();
      reachedCommand.path = [...ctx.commands];
      reachedCommand.usage = ctx.fullCommands.at(-1) ?? '';
      const before = new Set(Object.keys(optionsOf(y).key));
      // The command's own options first: yargs lists groups in creation order and the shared
      // ones (General, …) were created long before, so create the default group now.
      y.group([], 'Options:');
      // A proxy, so that `.command(sub)` calls inside the builder wrap the subcommands too; every
      // chained call returns the proxy again.
      const proxy: AnyArgv = new Proxy(y, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (typeof v !== 'function') return v;
          return (...a: unknown[]) => {
            if (prop === 'command' && a.length === 1 && typeof a[0] === 'object' && a[0] !== null && !Array.isArray(a[0])) a[0] = withCommandHelp(a[0] as Command);
            const r = (v as (...x: unknown[]) => unknown).apply(target, a);
            return r === target ? proxy : r;
          };
        },
      });
      const built = ((builder ? builder(proxy) : proxy) ?? proxy) as AnyArgv;
      const own = Object.keys(optionsOf(y).key).filter((k) => !before.has(k) && k !== 'help' && k !== 'version');
      // yargs' .global(keys, false) makes keys local; its types only declare the one-argument form.
      if (own.length) (y as unknown as { global(k: string[], g: boolean): unknown }).global(own, false);
      y.epilogue(SHARED_HELP_POINTER);
      return built;
    },
  };
}

/**
 * yargs turns `--port abc` into NaN and the command then reports "invalid port NaN". Check every
 * number option here, once, with the text the user typed.
 */
export function checkNumberOptions(argv: Record<string, unknown>, y: AnyArgv, rawArgs: string[]): void {
  const opts = (y as unknown as { getOptions(): { number: string[] } }).getOptions();
  for (const key of opts.number) {
    const v = argv[key];
    const given = () => {
      // A repeated flag: name the value that is wrong, not the first one.
      const raw = rawValuesOf(rawArgs, key);
      return raw.find((r) => !Number.isFinite(Number(r))) ?? raw.at(-1) ?? process.env['FLEETVAULT_' + key.replace(/-/g, '_').toUpperCase()] ?? '';
    };
    const bad = (x: unknown) => typeof x === 'number' && !Number.isFinite(x);
    if (Array.isArray(v) ? v.some(bad) : bad(v)) {
      throw new UsageError(`invalid --${key} "${given()}": not a number`, { hint: `give a number, e.g. --${key} ${/port$/i.test(key) ? '8200' : '16'}` });
    }
    // Every port option: an integer 1–65535, checked before anything starts (a dev server, ssh).
    if (/(^|-)port$/.test(key)) {
      const badPort = (x: unknown) => typeof x === 'number' && !(Number.isInteger(x) && x >= 1 && x <= 65535);
      const wrong = Array.isArray(v) ? v.find(badPort) : badPort(v) ? v : undefined;
      if (wrong !== undefined) {
        const raw = rawValuesOf(rawArgs, key).find((r) => Number(r) === wrong) ?? String(wrong);
        throw new UsageError(`invalid --${key} "${raw}": a port is a whole number from 1 to 65535`, { hint: `e.g. --${key} 8200` });
      }
    }
  }
}

/**
 * A bare number as a TTL ("--ttl 10") meant seconds and surprised everyone who meant minutes.
 * Every *ttl flag needs a unit; Vault's own values (audit logs, role fields) are not affected.
 */
export function checkTtlUnits(argv: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(argv)) {
    if (!/(^|-)ttl$/.test(key) || key.includes('.')) continue;
    const s = typeof v === 'number' ? String(v) : v;
    if (typeof s === 'string' && /^\s*\d+\s*$/.test(s)) {
      const n = s.trim();
      throw new UsageError(`invalid --${key} "${n}": a duration needs a unit`, { hint: `write ${n}s, ${n}m or ${n}h` });
    }
  }
}

function rawValuesOf(args: string[], key: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a === `--${key}` && args[i + 1] !== undefined) out.push(args[i + 1]!);
    else if (a.startsWith(`--${key}=`)) out.push(a.slice(key.length + 3));
  }
  return out;
}

/** camelCase keys fillFlagsFromEnv set from FLEETVAULT_* (not typed as flags). */
const filledFromEnv = new Set<string>();

/** Whether this flag's value came from FLEETVAULT_<FLAG> rather than the command line. */
export function filledFromEnvironment(camelKey: string): boolean {
  return filledFromEnv.has(camelKey);
}

export async function configFrom(argv: GlobalArgs): Promise<FleetvaultConfig> {
  const { resolveConfig } = await import('../config.js');
  // The resolver reads FLEETVAULT_* itself and can then say where a value came from
  // (`fleetvault status`: "from FLEETVAULT_ADDRESS", not "from --address").
  const flags: Record<string, unknown> = { ...argv };
  for (const k of filledFromEnv) delete flags[k];
  return resolveConfig(flags as GlobalArgs);
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
    filledFromEnv.add(camel);
  }
}
