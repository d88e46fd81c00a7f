import { render, type GlobalArgs, type Command } from '../common.js';
import { SCOPE_FLAGS, type ScopeFlag } from './scope.js';
import type { Scope } from '../../access/principals.js';

interface Args extends GlobalArgs { hosts?: string[]; port?: number; user?: string; scope?: ScopeFlag; fleet?: string }

export const sshConfigCommand: Command = {
  command: 'ssh-config',
  describe: 'print an OpenSSH config snippet so plain `ssh root@<uuid>.balena` gets a certificate transparently',
  builder: (y) => y
    .option('hosts', { type: 'string', array: true, describe: 'Host patterns the snippet covers', defaultDescription: '*.balena' })
    .option('port', { type: 'number', describe: 'device SSH port', defaultDescription: '22222' })
    .option('user', { type: 'string', describe: 'device user', defaultDescription: 'root' })
    .option('scope', { type: 'string', choices: SCOPE_FLAGS, describe: 'the certificates\' principal: device-<uuid> of each <uuid>.balena host, fleet-<org>.<fleet> of --fleet, or root (what unmigrated devices trust)', defaultDescription: 'root', group: 'Scope:' })
    .option('fleet', { type: 'string', describe: 'the fleet ORG/FLEET for --scope fleet', group: 'Scope:' })
    .example('$0 ssh-config >> ~/.ssh/config && ssh 7f3a2b1.balena', 'certificate from Vault on first use, then from ssh-agent')
    .example('$0 ssh-config --hosts "10.0.3.*"', 'cover devices you reach by address')
    .example('$0 ssh-config --scope device', 'ssh root@<uuid>.balena asks for that device\'s principal only (needs a grant per device)')
    .example('$0 ssh-config --scope fleet --fleet acme/sensors --hosts "10.0.3.*"', 'the fleet principal for that fleet\'s devices'),
  handler: async (argv: Args) => {
    const { sshConfigSnippet } = await import('../../ssh/config-snippet.js');
    const hosts = argv.hosts ?? ['*.balena'];
    const { snippetScope } = await import('./scope.js');
    const scope = await snippetScope(argv, hosts);
    const snippet = sshConfigSnippet({ hosts, port: argv.port ?? 22222, user: argv.user ?? 'root', node: process.execPath, cli: process.argv[1]!, scope });
    render(argv, { snippet }, () => snippet);
  },
};

interface ProxyArgs extends GlobalArgs { host: string; port: number; user?: string; ttl?: string; balenaUrl?: string; via?: string; tunnel?: string; scope?: ScopeFlag; fleet?: string }

/** Hidden: the ProxyCommand the snippet runs. */
export const sshProxyCommand: Command = {
  command: 'ssh-proxy <host> <port>',
  describe: false as unknown as string,
  builder: (y) => y
    .positional('host', { type: 'string' })
    .positional('port', { type: 'number' })
    .option('user', { type: 'string', defaultDescription: 'root' })
    .option('ttl', { type: 'string' })
    .option('balena-url', { type: 'string' })
    .option('via', { type: 'string' })
    .option('tunnel', { type: 'string' })
    .option('scope', { type: 'string', choices: SCOPE_FLAGS })
    .option('fleet', { type: 'string' }),
  handler: async (argv: ProxyArgs) => {
    // ssh ends its ProxyCommand with SIGHUP: exit normally, so what this process marked in
    // ssh-agent as in flight (src/ssh/agent-in-flight.ts) is released with it.
    for (const [sig, code] of [['SIGHUP', 129], ['SIGTERM', 143]] as const) process.once(sig, () => process.exit(code));
    const { durationToSeconds } = await import('../../config.js');
    const { vaultFrom } = await import('../common.js');
    const { ensureAgentCertificate, relay } = await import('../../ssh/proxy.js');
    const { checkRouteFlags, routeToDevice, balenaHostUuid } = await import('../../device/route.js');
    const { validateHost } = await import('../../ssh/session.js');
    // <uuid>.balena names a balena device (reached through balena's tunnel unless --via direct);
    // anything else is an address. A .balena name that is no uuid is refused here, before
    // anything is signed or resolved, never connected to as a plain host.
    const name = validateHost(argv.host);
    const uuid = balenaHostUuid(name);
    const routeOptions = { device: uuid ?? name, via: argv.via, port: argv.port, balenaUrl: argv.balenaUrl, tunnel: argv.tunnel };
    checkRouteFlags(routeOptions);
    const { proxyScope } = await import('./scope.js');
    // Refused here (exit 1) when the host cannot carry the scope; `later` when only balena knows
    // the full uuid (a short <uuid>.balena name).
    const scoped = await proxyScope(argv, name, uuid);
    const route = () => (uuid !== undefined ? routeToDevice(routeOptions) : Promise.resolve({ kind: 'direct' as const, host: name, port: argv.port, uuid: undefined }));
    const early = scoped === 'later' ? await route() : undefined;
    const scope = scoped === 'later' ? await proxyScope(argv, name, early!.uuid) as Scope : scoped;
    const { config, client } = await vaultFrom(argv);
    await ensureAgentCertificate({ client, mount: config.sshMount, role: config.sshRole, user: argv.user ?? 'root', scope, ttlSeconds: argv.ttl ? durationToSeconds(argv.ttl) : undefined });
    const device = early ?? await route();
    if (device.kind === 'tunnel') {
      const { openTunnel, relayStreams } = await import('../../device/tunnel.js');
      const { requireBalenaToken } = await import('../../balena/settings.js');
      const sock = await openTunnel({ tunnel: device.tunnel, uuid: device.uuid, port: device.port, user: device.tunnelUser, token: requireBalenaToken(`the tunnel to ${device.uuid}`).token });
      await relayStreams(sock, process.stdin, process.stdout);
      process.stdin.destroy();
      return;
    }
    await relay(device.host, device.port);
  },
};
