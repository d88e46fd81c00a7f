import { vaultFrom, note, GENERAL_GROUP, type GlobalArgs, type Command } from '../common.js';
import { SCOPE_FLAGS, type SshScopeArgs } from './scope.js';

interface SshArgs extends GlobalArgs, SshScopeArgs {
  device: string; host?: string; port?: number; user?: string; ttl?: string;
  strictHostKeyChecking?: 'yes' | 'no' | 'ask' | 'accept-new'; userKnownHostsFile?: string; agent?: boolean;
  balenaUrl?: string; via?: string; tunnel?: string; '--'?: (string | number)[];
  sshOption?: string | string[]; jump?: string | string[]; verbose?: number; localForward?: string | string[]; remoteForward?: string | string[];
  jsonFile?: string;
}

/** The device `fleetvault dev` runs, if that is where this session goes: its log and its one account. */
const deviceEvidence = (d: { log: string; user?: string } | undefined) => (d ? { deviceLog: d.log, deviceLoginUser: d.user } : {});

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : ([] as string[]).concat(v).map(String));

export const sshCommand: Command = {
  command: 'ssh <device>',
  describe: 'log into a device with a fresh short-lived certificate (exit status is ssh\'s own)',
  builder: (y) => y
    .positional('device', { type: 'string', describe: 'balena UUID (full or short), or an address' })
    .option('host', { type: 'string', describe: 'connect to this address, without asking the balena API (offline devices)' })
    .option('via', { type: 'string', describe: 'balena\'s tunnel, or directly to an address (direct with a uuid: the ip_address balena reports)', defaultDescription: 'auto: tunnel for a uuid, direct for an address or --host' })
    .option('tunnel', { type: 'string', describe: 'balena tunnel HOST:PORT (FLEETVAULT_BALENA_TUNNEL)', defaultDescription: 'tunnel.<balena domain>:443' })
    .option('port', { type: 'number', describe: 'SSH port', defaultDescription: '22222' })
    .option('user', { type: 'string', describe: 'device user (the certificate principal)', defaultDescription: 'root' })
    .option('ttl', { type: 'string', describe: 'certificate validity', defaultDescription: 'the role\'s ttl (30m)' })
    .option('reason', { type: 'string', describe: 'why you need access; recorded in the Vault audit log' })
    .option('scope', { type: 'string', choices: SCOPE_FLAGS, describe: 'the certificate\'s principal: device-<uuid>, fleet-<org>.<fleet>, or root (what devices rolled out so far trust)', defaultDescription: 'root', group: 'Scope:' })
    .option('device-uuid', { type: 'string', describe: 'the device\'s uuid for --scope device (else the balena uuid given as the device)', group: 'Scope:' })
    .option('fleet', { type: 'string', describe: 'the device\'s fleet ORG/FLEET for --scope fleet', group: 'Scope:' })
    .option('break-glass', { type: 'boolean', describe: 'the break-glass principal every device trusts; needs --reason', group: 'Scope:' })
    .option('from', { type: 'string', describe: 'source CIDR(s) the certificate is valid from (comma-separated or repeated; narrows, never widens a grant)' })
    .option('strict-host-key-checking', { type: 'string', choices: ['yes', 'no', 'ask', 'accept-new'], describe: 'passed to ssh' })
    .option('user-known-hosts-file', { type: 'string', describe: 'passed to ssh' })
    .option('agent', { type: 'boolean', describe: 'keep the key+certificate in ssh-agent for the certificate\'s lifetime; reuse it while valid' })
    .option('balena-url', { type: 'string', describe: 'balena API URL or domain (BALENARC_BALENA_URL)', defaultDescription: 'balena-cloud.com' })
    // OpenSSH's own flags, passed through (repeatable where ssh's are).
    .option('ssh-option', { alias: 'o', type: 'string', describe: 'ssh -o Key=Value (repeatable)' })
    .option('jump', { alias: 'J', type: 'string', describe: 'ssh -J: jump host(s), authenticated with the same certificate; needs a role allowing port forwarding' })
    .option('verbose', { alias: 'v', type: 'count', describe: 'ssh -v (repeat for more)' })
    .option('local-forward', { alias: 'L', type: 'string', describe: 'ssh -L [bind:]port:host:hostport (repeatable); needs a role allowing port forwarding' })
    .option('remote-forward', { alias: 'R', type: 'string', describe: 'ssh -R (repeatable); needs a role allowing port forwarding' })
    // Not the general "output on stdout": stdout belongs to the session.
    .option('json', { type: 'boolean', describe: 'the session summary as JSON on stderr (stdout is the session\'s)', group: GENERAL_GROUP })
    .option('json-file', { type: 'string', describe: 'write the session summary as JSON to this file (--json alone writes it to stderr: stdout is the session\'s)' })
    .example('$0 ssh 7f3a2b1 --reason "INC-42 wifi"', 'through balena\'s tunnel (BALENA_TOKEN or `balena login`), as root for 30 minutes')
    .example('$0 ssh mydevice --host 10.0.3.17', 'offline: connect straight to the address')
    .example('$0 ssh <uuid> --scope device', 'a certificate that opens only this device (needs an access grant)')
    .example('$0 ssh <uuid> --host 10.0.3.17 --scope fleet --fleet acme/sensors --from 198.51.100.7/32', 'fleet principal, valid only from that address')
    .example('$0 ssh 10.0.3.17 -- cat /mnt/boot/config.json', 'run one command; exit status is the command\'s')
    .example('$0 ssh mydevice --host 10.0.3.17 -J root@10.0.3.1:22222 -v', 'through a jump host (another device trusting the CA)')
    .example('$0 ssh mydevice --host 10.0.3.17 -L 8080:127.0.0.1:80 -- sleep 600', 'forward a local port (only where the role allows forwarding)')
    .epilogue('Exit status: ssh\'s own (255 when ssh itself fails); 1 for usage errors; 2 when Vault, the balena API or the tunnel refuses before ssh runs (bad credentials, unknown device, device offline).\n--json writes the summary to stderr (or --json-file F), never into the session\'s stdout.'),
  handler: async (argv: SshArgs) => {
    const { durationToSeconds } = await import('../../config.js');
    const { checkRouteFlags, routeToDevice, checkTunnelRoute } = await import('../../device/route.js');
    const { runSshSession } = await import('../../ssh/session.js');
    const { PassThroughExit, UsageError } = await import('../../errors.js');
    const { devDevice } = await import('../../dev/state.js');
    const ttlSeconds = argv.ttl === undefined ? undefined : durationToSeconds(argv.ttl, 'ttl');
    const command = (argv['--'] ?? []).map(String);
    const routeOptions = { device: argv.device, host: argv.host, via: argv.via, port: argv.port, balenaUrl: argv.balenaUrl, tunnel: argv.tunnel };
    checkRouteFlags(routeOptions);
    const { checkScopeFlags, scopeFor, sourceAddressFrom } = await import('./scope.js');
    await checkScopeFlags(argv);
    const sourceAddress = await sourceAddressFrom(argv.from);
    // Without a balena lookup everything the scope needs is local: refuse before any network.
    const { looksLikeBalenaUuid } = await import('../../device/route.js');
    const scopeKnown = argv.host !== undefined || !looksLikeBalenaUuid(argv.device) ? await scopeFor(argv, { uuid: argv.device }) : undefined;
    const jumps = list(argv.jump);
    if (jumps.length > 1) throw new UsageError('give -J once; several jump hosts are one comma-separated list (-J a,b)', { hint: 'see fleetvault ssh --help' });
    const passThrough = {
      options: list(argv.sshOption), jump: jumps[0], verbose: argv.verbose,
      localForwards: list(argv.localForward), remoteForwards: list(argv.remoteForward),
    };
    // The balena lookup (SDK load + API) and the Vault connection do not depend on each other.
    const [{ config, client }, device] = await Promise.all([vaultFrom(argv), routeToDevice(routeOptions)]);
    // The tunnel is tried while Vault signs: a refusal ends here with exit 2, before ssh runs.
    const scope = scopeKnown ?? await scopeFor(argv, { uuid: device.uuid, fleet: device.fleet });
    const ready = device.kind === 'tunnel' ? checkTunnelRoute(device) : undefined;
    ready?.catch(() => {});
    const r = await runSshSession({
      client, mount: config.sshMount, role: config.sshRole, host: device.host, port: device.port, user: argv.user ?? 'root',
      ttlSeconds, reason: argv.reason, strictHostKeyChecking: argv.strictHostKeyChecking, userKnownHostsFile: argv.userKnownHostsFile,
      agent: argv.agent, command, ready, passThrough, scope, sourceAddress,
      ...(device.kind === 'tunnel' ? { proxyCommand: device.proxyCommand, hostKeyAlias: device.hostKeyAlias } : deviceEvidence(devDevice(device.host, device.port))),
    });
    if (r.diagnosis) note(`fleetvault: ${r.diagnosis}`);
    const { scopePrincipal } = await import('../../access/principals.js');
    const summary = { exitCode: r.exitCode, principal: scope ? scopePrincipal(scope) : argv.user ?? 'root', host: device.host, via: device.kind, uuid: device.uuid, serial: r.serial, reusedAgentCertificate: r.reusedAgentCertificate, diagnosis: r.diagnosis };
    // stdout belongs to the remote session: the summary never goes there.
    if (argv.jsonFile) {
      const { writeFileAtomic } = await import('../../fs/atomic.js');
      writeFileAtomic(argv.jsonFile, JSON.stringify(summary, null, 2) + '\n', { mode: 0o600 });
    } else if (argv.json) process.stderr.write(JSON.stringify(summary) + '\n');
    if (r.exitCode !== 0) throw new PassThroughExit(r.exitCode);
  },
};
