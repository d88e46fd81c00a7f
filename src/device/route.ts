// How a device is reached — decided here, once, for `ssh`, `ssh-config` and the fleet commands.
//   direct: an address (`--host`, a devices file, an address given as the device, or with
//           `--via direct` the ip_address balena reports). The seed case: a device that cannot
//           reach the balena API is still reachable on its LAN address.
//   tunnel: balena's tunnel (tunnel.ts), for a balena uuid. The system ssh still does all SSH:
//           it runs `fleetvault tunnel <uuid>` as its ProxyCommand, which relays stdin/stdout
//           through the CONNECT stream. The tunnel credential is never in that command line: the
//           child reads BALENA_TOKEN / balena-cli's login itself.
//   auto:   tunnel for a balena uuid, direct for an address or `--host`.
import { isIP } from 'node:net';
import { UsageError, DeviceError } from '../errors.js';
import { balenaApiUrl, tunnelHostFor, requireBalenaToken, settingsTunnel } from '../balena/settings.js';
import { parseTunnelAddress, formatTunnelAddress, DEFAULT_TUNNEL_PORT, type TunnelAddress } from './tunnel.js';

export type Via = 'auto' | 'tunnel' | 'direct';
export const VIAS: readonly Via[] = ['auto', 'tunnel', 'direct'];

// A balena uuid is 32 hex characters (62 for old devices); a short one is a 7–32 hex prefix.
// 33–61 hex characters is neither: a mistyped uuid, refused locally rather than sent as a host.
const UUID_LIKE = /^(?:[0-9a-f]{7,32}|[0-9a-f]{62})$/i;
const MISTYPED_UUID = /^[0-9a-f]{33,61}$/i;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
export function looksLikeBalenaUuid(device: string): boolean {
  return UUID_LIKE.test(device);
}

function badUuid(device: string, why: string): UsageError {
  return new UsageError(`invalid balena uuid ${JSON.stringify(device).slice(0, 80)}: ${why}`, { hint: 'give the full uuid (32 or 62 hex characters) or at least its first 7' });
}

/** A mistyped uuid (33–61 hex characters) is refused, never taken for a host name. */
export function refuseMistypedUuid(device: string): void {
  if (MISTYPED_UUID.test(device)) throw badUuid(device, `${device.length} hex characters (a uuid has 32 or 62, a short one 7–32)`);
}

/**
 * `<x>.balena` (ssh-config's Host pattern) names a balena device, so x must be a uuid: a name
 * that is not one is refused, never connected to directly as a host named x.
 */
export function balenaHostUuid(host: string): string | undefined {
  if (!/\.balena$/i.test(host)) return undefined;
  const uuid = host.slice(0, -'.balena'.length);
  refuseMistypedUuid(uuid);
  if (!looksLikeBalenaUuid(uuid)) throw badUuid(uuid, `${JSON.stringify(host).slice(0, 80)} names a balena device by uuid (7–32 or 62 hex characters)`);
  return uuid;
}

export function validateVia(v: string | undefined): Via {
  const via = (v ?? 'auto') as Via;
  if (!VIAS.includes(via)) throw new UsageError(`--via: expected auto, tunnel or direct, got ${JSON.stringify(v).slice(0, 40)}`);
  return via;
}

/**
 * The tunnel address: --tunnel, else FLEETVAULT_BALENA_TUNNEL, else (without --balena-url)
 * balena-cli's tunnelUrl (BALENARC_TUNNEL_URL, balenarc.yml, tunnel.<balenaUrl>), else
 * tunnel.<domain>:443 from the API URL. The token goes to this host: it must be the
 * environment the operator configured, never balenaCloud by default when they set up another.
 */
export function tunnelAddressFor(o: { tunnel?: string; apiUrl: string; balenaUrl?: string; env?: NodeJS.ProcessEnv; cwd?: string }): TunnelAddress {
  const env = o.env ?? process.env;
  if (o.tunnel !== undefined) return parseTunnelAddress(o.tunnel, '--tunnel');
  if (env.FLEETVAULT_BALENA_TUNNEL) return parseTunnelAddress(env.FLEETVAULT_BALENA_TUNNEL, 'FLEETVAULT_BALENA_TUNNEL');
  // --balena-url names the environment outright: its tunnel, never one the settings name for another.
  const configured = o.balenaUrl === undefined ? settingsTunnel({ env, cwd: o.cwd }) : undefined;
  if (configured) return parseTunnelAddress(configured.value, configured.where);
  const fromApi = tunnelHostFor(o.apiUrl);
  if (!fromApi) {
    throw new UsageError(`cannot tell balena's tunnel host from the API URL ${o.apiUrl} (it is not api.<domain>)`, { hint: o.balenaUrl === undefined ? 'pass --tunnel HOST:PORT or set BALENARC_TUNNEL_URL' : 'pass --tunnel HOST:PORT' });
  }
  return { host: fromApi, port: DEFAULT_TUNNEL_PORT };
}

/** How to run this CLI again as ssh's ProxyCommand (node + script, as the running process). */
export interface CliInvocation { node: string; script: string }

export function currentCli(): CliInvocation {
  return { node: process.execPath, script: process.argv[1] ?? '' };
}

function shellWord(s: string, what: string): string {
  // ssh hands ProxyCommand to $SHELL -c after expanding %-tokens: single quotes cover the shells,
  // and the characters that single quotes or ssh's expansion cannot carry are refused.
  if (!s || /['%\\\n\r\u0000]/.test(s)) throw new UsageError(`cannot use ${what} ${JSON.stringify(s).slice(0, 80)} in ssh's ProxyCommand (quote, %, backslash or newline in it)`);
  return /^[A-Za-z0-9_./:@=+-]+$/.test(s) ? s : `'${s}'`;
}

const TUNNEL_USER = /^[A-Za-z0-9_.@+-]{1,128}$/;

/** `'<node>' '<cli>' tunnel <uuid> --port N --tunnel H:P --tunnel-user U`: no secret in it. */
export function tunnelProxyCommand(o: { cli: CliInvocation; uuid: string; port: number; tunnel: TunnelAddress; user: string }): string {
  if (!/^[0-9a-f]{32}$|^[0-9a-f]{62}$/.test(o.uuid)) throw new UsageError(`invalid device uuid ${JSON.stringify(o.uuid).slice(0, 80)}`);
  if (!TUNNEL_USER.test(o.user)) throw new UsageError(`cannot pass the balena user ${JSON.stringify(o.user).slice(0, 80)} to the tunnel`);
  return [
    shellWord(o.cli.node, 'node path'), shellWord(o.cli.script, 'fleetvault path'), 'tunnel', o.uuid,
    '--port', String(o.port), '--tunnel', formatTunnelAddress(o.tunnel), '--tunnel-user', o.user,
  ].join(' ');
}

export interface DirectRoute {
  kind: 'direct';
  host: string;
  port: number;
  /** Where the address came from. */
  source: 'flag' | 'address' | 'balena';
  uuid?: string;
  name?: string;
  /** The device's fleet slug, when balena was asked. */
  fleet?: string;
}

export interface TunnelRoute {
  kind: 'tunnel';
  /** What ssh is told to connect to; the ProxyCommand does the connecting. */
  host: string;
  port: number;
  uuid: string;
  name?: string;
  fleet?: string;
  tunnel: TunnelAddress;
  tunnelUser: string;
  proxyCommand: string;
  /** known_hosts name: the device, whatever the route. */
  hostKeyAlias: string;
}

export type DeviceRoute = DirectRoute | TunnelRoute;

export interface RouteOptions {
  device: string;
  host?: string;
  via?: string;
  port?: number;
  balenaUrl?: string;
  tunnel?: string;
  env?: NodeJS.ProcessEnv;
  cli?: CliInvocation;
}

/** Validate the flags alone (no network): bad input is refused before anything else happens. */
export function checkRouteFlags(o: RouteOptions): Via {
  const via = validateVia(o.via);
  if (o.host !== undefined && via === 'tunnel') throw new UsageError('--host and --via tunnel contradict each other', { hint: '--host connects directly; drop one of them' });
  if (o.tunnel !== undefined) parseTunnelAddress(o.tunnel, '--tunnel');
  refuseMistypedUuid(o.device);
  if (!o.host && via === 'tunnel' && !looksLikeBalenaUuid(o.device)) {
    throw new UsageError(`--via tunnel needs a balena device uuid, got ${JSON.stringify(o.device).slice(0, 80)}`, { hint: 'give the full uuid or at least its first 7 hex characters' });
  }
  return via;
}

/** Decide how to reach one device; for a uuid this asks the balena API (the real SDK). */
export async function routeToDevice(o: RouteOptions): Promise<DeviceRoute> {
  const env = o.env ?? process.env;
  const via = checkRouteFlags(o);
  const port = o.port ?? 22222;
  if (o.host) return { kind: 'direct', host: o.host, port, source: 'flag', uuid: looksLikeBalenaUuid(o.device) ? o.device : undefined };
  if (!looksLikeBalenaUuid(o.device)) {
    if (!isIP(o.device) && !HOST_NAME.test(o.device)) {
      throw new UsageError(`invalid device ${JSON.stringify(o.device).slice(0, 80)}: neither a balena uuid nor a host name or address`, { hint: 'give the uuid (full, or at least 7 hex characters), or --host <address>' });
    }
    return { kind: 'direct', host: o.device, port, source: 'address' };
  }
  const apiUrl = balenaApiUrl({ flag: o.balenaUrl, env });
  const tunnel = via === 'direct' ? undefined : tunnelAddressFor({ tunnel: o.tunnel, apiUrl, balenaUrl: o.balenaUrl, env });
  const { token } = requireBalenaToken(`reaching device ${o.device}`, env);
  const { findDevice, tunnelUserFor } = await import('../balena/sdk.js');
  const withHint = (e: unknown) => {
    if (e instanceof DeviceError && !e.hint) return new DeviceError(e.message, { device: o.device, hint: 'pass --host <address> to connect directly (works without the balena API)' });
    return e;
  };
  if (via === 'direct') {
    const found = await findDevice({ apiUrl, token, uuidOrShort: o.device }).catch((e) => { throw withHint(e); });
    const host = found.ipAddresses.find((a) => !a.includes(':')) ?? found.ipAddresses[0];
    if (!host) {
      throw new DeviceError(`device ${found.uuid} (${found.name}) reports no address to the balena API`, { device: found.uuid, hint: 'reach it through balena\'s tunnel (--via tunnel) or pass --host <address>' });
    }
    return { kind: 'direct', host, port, source: 'balena', uuid: found.uuid, name: found.name, fleet: found.fleet };
  }
  // Both at once; if both fail, the device lookup's reason is the one worth reading.
  const [dev, user] = await Promise.allSettled([findDevice({ apiUrl, token, uuidOrShort: o.device }), tunnelUserFor({ apiUrl, token })]);
  if (dev.status === 'rejected') throw withHint(dev.reason);
  if (user.status === 'rejected') throw withHint(user.reason);
  const found = dev.value;
  const tunnelUser = user.value;
  return { ...tunnelRouteFor({ uuid: found.uuid, name: found.name, port, tunnel: tunnel!, tunnelUser, cli: o.cli }), fleet: found.fleet };
}

export function tunnelRouteFor(o: { uuid: string; name?: string; port: number; tunnel: TunnelAddress; tunnelUser: string; cli?: CliInvocation }): TunnelRoute {
  const host = `${o.uuid}.balena`;
  return {
    kind: 'tunnel', host, port: o.port, uuid: o.uuid, name: o.name, tunnel: o.tunnel, tunnelUser: o.tunnelUser,
    proxyCommand: tunnelProxyCommand({ cli: o.cli ?? currentCli(), uuid: o.uuid, port: o.port, tunnel: o.tunnel, user: o.tunnelUser }),
    hostKeyAlias: host,
  };
}

/**
 * Open and close the tunnel once, before ssh runs: bad credentials, an unknown device or an
 * offline one then end with exit 2 and one line, instead of ssh's "Connection closed" noise.
 */
export async function checkTunnelRoute(r: TunnelRoute, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { openTunnel } = await import('./tunnel.js');
  const { token } = requireBalenaToken(`reaching device ${r.uuid}`, env);
  const sock = await openTunnel({ tunnel: r.tunnel, uuid: r.uuid, port: r.port, user: r.tunnelUser, token });
  sock.destroy();
}
