import { render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { hosts?: string[]; port?: number; user?: string }

export const sshConfigCommand: Command = {
  command: 'ssh-config',
  describe: 'print an OpenSSH config snippet so plain `ssh root@<uuid>.balena` gets a certificate transparently',
  builder: (y) => y
    .option('hosts', { type: 'string', array: true, describe: 'Host patterns the snippet covers', defaultDescription: '*.balena' })
    .option('port', { type: 'number', describe: 'device SSH port', defaultDescription: '22222' })
    .option('user', { type: 'string', describe: 'device user', defaultDescription: 'root' })
    .example('$0 ssh-config >> ~/.ssh/config && ssh 7f3a2b1.balena', 'certificate from Vault on first use, then from ssh-agent')
    .example('$0 ssh-config --hosts "10.0.3.*"', 'cover devices you reach by address'),
  handler: async (argv: Args) => {
    const { sshConfigSnippet } = await import('../../ssh/config-snippet.js');
    const snippet = sshConfigSnippet({ hosts: argv.hosts ?? ['*.balena'], port: argv.port ?? 22222, user: argv.user ?? 'root', node: process.execPath, cli: process.argv[1]! });
    render(argv, { snippet }, () => snippet);
  },
};

interface ProxyArgs extends GlobalArgs { host: string; port: number; user?: string; ttl?: string; balenaUrl?: string; via?: string; tunnel?: string }

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
    .option('tunnel', { type: 'string' }),
  handler: async (argv: ProxyArgs) => {
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
    const { config, client } = await vaultFrom(argv);
    await ensureAgentCertificate({ client, mount: config.sshMount, role: config.sshRole, user: argv.user ?? 'root', ttlSeconds: argv.ttl ? durationToSeconds(argv.ttl) : undefined });
    const device = uuid !== undefined ? await routeToDevice(routeOptions) : { kind: 'direct' as const, host: name, port: argv.port };
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
