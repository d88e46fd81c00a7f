import type { GlobalArgs, Command } from '../common.js';

interface Args extends GlobalArgs { uuid: string; port?: number; tunnel?: string; tunnelUser?: string; balenaUrl?: string }

/**
 * ssh's ProxyCommand for devices behind balena's tunnel: stdin/stdout become the raw stream to
 * the device's sshd. Written by `fleetvault ssh` and the fleet commands; usable by hand too:
 *   ssh -o ProxyCommand='fleetvault tunnel %n --port %p' -p 22222 root@<uuid>
 */
export const tunnelCommand: Command = {
  command: 'tunnel <uuid>',
  describe: 'relay stdin/stdout to a device through balena\'s tunnel (an ssh ProxyCommand)',
  builder: (y) => y
    .positional('uuid', { type: 'string', describe: 'balena device uuid (full, or ≥ 7 characters looked up in the balena API)' })
    .option('port', { type: 'number', describe: 'device port', defaultDescription: '22222' })
    .option('tunnel', { type: 'string', describe: 'tunnel HOST:PORT (FLEETVAULT_BALENA_TUNNEL)', defaultDescription: 'tunnel.<balena domain>:443' })
    .option('tunnel-user', { type: 'string', describe: 'proxy user (not a secret)', defaultDescription: 'your balena username, root for other keys' })
    .option('balena-url', { type: 'string', describe: 'balena API URL or domain (BALENARC_BALENA_URL)', defaultDescription: 'balena-cloud.com' })
    .example('ssh -o ProxyCommand="$0 tunnel %n --port %p" -p 22222 root@<uuid>', 'plain ssh through balena\'s tunnel (token from BALENA_TOKEN or `balena login`)')
    .epilogue('The balena token is read from BALENA_TOKEN or balena-cli\'s login (~/.balena/token), never from argv.\nExit codes: 0 stream closed · 1 bad input · 2 tunnel refused (407 credentials, 404 unknown device, 503 offline) or unreachable'),
  handler: async (argv: Args) => {
    const { parseTunnelAddress } = await import('../../device/tunnel.js');
    const { tunnelAddressFor, looksLikeBalenaUuid } = await import('../../device/route.js');
    const { balenaApiUrl, requireBalenaToken } = await import('../../balena/settings.js');
    const { UsageError } = await import('../../errors.js');
    const uuidArg = String(argv.uuid ?? '').replace(/\.balena$/, '').toLowerCase();
    if (!looksLikeBalenaUuid(uuidArg)) throw new UsageError(`invalid device uuid ${JSON.stringify(argv.uuid).slice(0, 80)}`, { hint: 'give the full uuid or at least its first 7 hex characters' });
    const port = argv.port ?? 22222;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port: invalid port ${JSON.stringify(argv.port)}`);
    if (argv.tunnel !== undefined) parseTunnelAddress(argv.tunnel);
    const apiUrl = balenaApiUrl({ flag: argv.balenaUrl });
    const tunnel = tunnelAddressFor({ tunnel: argv.tunnel, apiUrl, balenaUrl: argv.balenaUrl });
    const { token } = requireBalenaToken(`the tunnel to ${uuidArg}`);
    let uuid = uuidArg;
    let user = argv.tunnelUser;
    // Only what the command line lacks is asked of the API: ProxyCommands pass both.
    if (uuid.length !== 32 && uuid.length !== 62) {
      const { findDevice } = await import('../../balena/sdk.js');
      uuid = (await findDevice({ apiUrl, token, uuidOrShort: uuid })).uuid;
    }
    if (!user) {
      const { tunnelUserFor } = await import('../../balena/sdk.js');
      user = await tunnelUserFor({ apiUrl, token });
    }
    const { openTunnel, relayStreams } = await import('../../device/tunnel.js');
    const sock = await openTunnel({ tunnel, uuid, port, user, token });
    await relayStreams(sock, process.stdin, process.stdout);
    process.stdin.destroy();
  },
};
