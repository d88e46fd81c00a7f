import { render, vaultFrom, note, type GlobalArgs, type Command } from '../common.js';

interface SshArgs extends GlobalArgs {
  device: string; host?: string; port?: number; user?: string; ttl?: string; reason?: string;
  strictHostKeyChecking?: 'yes' | 'no' | 'ask' | 'accept-new'; userKnownHostsFile?: string; agent?: boolean;
  balenaUrl?: string; via?: string; tunnel?: string; '--'?: (string | number)[];
}

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
    .option('strict-host-key-checking', { type: 'string', choices: ['yes', 'no', 'ask', 'accept-new'], describe: 'passed to ssh' })
    .option('user-known-hosts-file', { type: 'string', describe: 'passed to ssh' })
    .option('agent', { type: 'boolean', describe: 'keep the key+certificate in ssh-agent for the certificate\'s lifetime; reuse it while valid' })
    .option('balena-url', { type: 'string', describe: 'balena API URL or domain (BALENARC_BALENA_URL)', defaultDescription: 'balena-cloud.com' })
    .example('$0 ssh 7f3a2b1 --reason "INC-42 wifi"', 'through balena\'s tunnel (BALENA_TOKEN or `balena login`), as root for 30 minutes')
    .example('$0 ssh mydevice --host 10.0.3.17', 'offline: connect straight to the address')
    .example('$0 ssh 10.0.3.17 -- cat /mnt/boot/config.json', 'run one command; exit status is the command\'s')
    .epilogue('Exit status: ssh\'s own (255 when ssh itself fails); 1 for usage errors; 2 when Vault, the balena API or the tunnel refuses before ssh runs (bad credentials, unknown device, device offline).'),
  handler: async (argv: SshArgs) => {
    const { durationToSeconds } = await import('../../config.js');
    const { checkRouteFlags, routeToDevice, checkTunnelRoute } = await import('../../device/route.js');
    const { runSshSession } = await import('../../ssh/session.js');
    const { PassThroughExit } = await import('../../errors.js');
    const ttlSeconds = argv.ttl === undefined ? undefined : durationToSeconds(argv.ttl, 'ttl');
    const command = (argv['--'] ?? []).map(String);
    const routeOptions = { device: argv.device, host: argv.host, via: argv.via, port: argv.port, balenaUrl: argv.balenaUrl, tunnel: argv.tunnel };
    checkRouteFlags(routeOptions);
    // The balena lookup (SDK load + API) and the Vault connection do not depend on each other.
    const [{ config, client }, device] = await Promise.all([vaultFrom(argv), routeToDevice(routeOptions)]);
    // The tunnel is tried while Vault signs: a refusal ends here with exit 2, before ssh runs.
    const ready = device.kind === 'tunnel' ? checkTunnelRoute(device) : undefined;
    ready?.catch(() => {});
    const r = await runSshSession({
      client, mount: config.sshMount, role: config.sshRole, host: device.host, port: device.port, user: argv.user ?? 'root',
      ttlSeconds, reason: argv.reason, strictHostKeyChecking: argv.strictHostKeyChecking, userKnownHostsFile: argv.userKnownHostsFile,
      agent: argv.agent, command, ready,
      ...(device.kind === 'tunnel' ? { proxyCommand: device.proxyCommand, hostKeyAlias: device.hostKeyAlias } : {}),
    });
    if (r.diagnosis) note(`fleetvault: ${r.diagnosis}`);
    if (argv.json) render(argv, { exitCode: r.exitCode, host: device.host, via: device.kind, uuid: device.uuid, serial: r.serial, reusedAgentCertificate: r.reusedAgentCertificate, diagnosis: r.diagnosis }, () => '');
    if (r.exitCode !== 0) throw new PassThroughExit(r.exitCode);
  },
};
