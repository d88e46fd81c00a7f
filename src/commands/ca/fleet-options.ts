// Flags every fleet-wide CA command shares (rollout, status, rotate): which devices, how to reach
// them, and how much at once. One definition so the three never drift apart.
import type { Argv } from 'yargs';
import type { GlobalArgs } from '../common.js';

export interface FleetArgs extends GlobalArgs {
  fleet?: string; devices?: string; port?: number; configPath?: string; identity?: string; concurrency?: number;
  strictHostKeyChecking?: 'yes' | 'accept-new'; userKnownHostsFile?: string; balenaUrl?: string; supervisorLease?: string;
  via?: string; tunnel?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fleetOptions(y: Argv<any>): Argv<any> {
  return y
    .option('fleet', { type: 'string', describe: 'balena fleet slug: devices and addresses from the balena API (BALENA_TOKEN)' })
    .option('devices', { type: 'string', describe: 'devices file: "<name> <host> [port] [config-path] [fleet=<org>/<fleet>] [uuid=<uuid>]" per line' })
    .conflicts('fleet', 'devices')
    .option('port', { type: 'number', describe: 'device SSH port (devices file lines may override)', defaultDescription: '22222' })
    .option('config-path', { type: 'string', describe: 'config.json on the device', defaultDescription: '/mnt/boot/config.json' })
    .option('identity', { type: 'string', describe: 'operator private key for device access (balena fleets start with a plain key)' })
    .option('concurrency', { type: 'number', describe: 'devices at once', defaultDescription: '16' })
    .option('strict-host-key-checking', { type: 'string', choices: ['yes', 'accept-new'], describe: 'accept-new pins first contact; a changed key is always refused', defaultDescription: 'accept-new' })
    .option('user-known-hosts-file', { type: 'string', describe: 'known_hosts the tool keeps', defaultDescription: '~/.local/state/fleetvault/known_hosts' })
    .option('supervisor-lease', { type: 'string', describe: 'if a write never finishes, the device restarts the supervisor it stopped after this long', defaultDescription: '120s' })
    .option('balena-url', { type: 'string', describe: 'balena API URL or domain (with --fleet; BALENARC_BALENA_URL)', defaultDescription: 'balena-cloud.com' })
    .option('via', { type: 'string', describe: 'reach --fleet devices through balena\'s tunnel or at the ip_address balena reports', defaultDescription: 'auto: tunnel for --fleet, the listed address for --devices' })
    .option('tunnel', { type: 'string', describe: 'balena tunnel HOST:PORT (FLEETVAULT_BALENA_TUNNEL)', defaultDescription: 'tunnel.<balena domain>:443' });
}

/** The devices a fleet command addresses: --fleet (balena) or --devices (file), validated. */
export async function fleetTargets(argv: FleetArgs) {
  const { UsageError } = await import('../../errors.js');
  if (!argv.fleet && !argv.devices) throw new UsageError('name the devices: --fleet SLUG or --devices FILE');
  if (argv.identity !== undefined) await checkIdentity(argv.identity);
  if (argv.supervisorLease !== undefined) await fleetAccess(argv, ''); // a bad duration fails before any device is contacted
  const { rolloutTargets } = await import('../../ca/targets.js');
  return rolloutTargets({ fleet: argv.fleet, devicesFile: argv.devices, configPath: argv.configPath, balenaUrl: argv.balenaUrl, port: argv.port, via: argv.via, tunnel: argv.tunnel });
}

/** The operator key is read by ssh on every device: a missing one is one local error, not N device failures. */
async function checkIdentity(path: string): Promise<void> {
  const { UsageError } = await import('../../errors.js');
  const { accessSync, statSync, constants } = await import('node:fs');
  try {
    if (!statSync(path).isFile()) throw Object.assign(new Error(), { code: 'not a regular file' });
    accessSync(path, constants.R_OK);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(`failed to use --identity ${path}: ${why}`, { hint: 'pass the private key that logs into the devices today' });
  }
}

/** The device access every fleet command builds from its flags. */
export async function fleetAccess(argv: FleetArgs, knownHostsFile: string) {
  const { durationToSeconds } = await import('../../config.js');
  const { UsageError } = await import('../../errors.js');
  let leaseSeconds: number | undefined;
  try {
    leaseSeconds = argv.supervisorLease ? durationToSeconds(argv.supervisorLease) : undefined;
  } catch (e) {
    throw new UsageError(`--supervisor-lease: ${(e as Error).message}`);
  }
  if (leaseSeconds !== undefined && leaseSeconds < 10) throw new UsageError('--supervisor-lease must be at least 10s (a write on an SD card takes seconds)');
  return { identity: argv.identity, knownHostsFile, strictHostKeyChecking: argv.strictHostKeyChecking ?? 'accept-new', leaseSeconds } as const;
}
