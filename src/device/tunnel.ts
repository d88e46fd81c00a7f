// balena's tunnel, the way balena-cli opens it (src/utils/tunnel.ts) and open-balena-vpn's
// connect-proxy answers it: TLS to the tunnel host, then
//   CONNECT <uuid>.balena:<port> HTTP/1.0
//   Proxy-Authorization: Basic base64(<user>:<token>)
// The proxy checks the token (the user is informational: the username for a user login, `root`
// otherwise) and answers 404 (no such device), 407 (token refused or no access), 503 (device not
// connected to the VPN) or 200 — after which the socket is a raw TCP stream to the device's port.
// The device's own sshd then authenticates our certificate end to end; the tunnel sees ciphertext.
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { DeviceError, UsageError, escapeControl } from '../errors.js';

export interface TunnelAddress { host: string; port: number }

export const DEFAULT_TUNNEL_PORT = 443;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** HOST[:PORT] (port 443 by default; [v6]:port for IPv6). No scheme, no user, no path, no spaces. */
export function parseTunnelAddress(raw: string, where = '--tunnel'): TunnelAddress {
  const bad = (why: string) => new UsageError(`${where}: invalid tunnel address ${JSON.stringify(raw).slice(0, 80)} (${why})`, { hint: 'expected HOST[:PORT], e.g. tunnel.balena-cloud.com:443' });
  if (typeof raw !== 'string' || raw === '') throw bad('empty');
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) throw bad('contains whitespace or control characters');
  if (raw.startsWith('-')) throw bad('starts with "-"');
  if (raw.includes('://')) throw bad('a host, not a URL');
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(.*))?$/.exec(raw);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
    if (isIP(host) !== 6) throw bad('not an IPv6 address');
  } else {
    const parts = raw.split(':');
    if (parts.length > 2) throw bad('IPv6 addresses go in brackets: [::1]:443');
    host = parts[0]!;
    portText = parts[1];
    if (!isIP(host) && !HOSTNAME.test(host)) throw bad('not a host name');
  }
  let port = DEFAULT_TUNNEL_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw bad('port is not a number');
    port = Number(portText);
    if (port < 1 || port > 65535) throw bad('port out of range');
  }
  return { host, port };
}

export function formatTunnelAddress(t: TunnelAddress): string {
  return isIP(t.host) === 6 ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

export interface OpenTunnelOptions {
  tunnel: TunnelAddress;
  uuid: string;
  port: number;
  user: string;
  token: string;
  /** Handshake (TLS + CONNECT answer) limit. */
  timeoutMs?: number;
  /** CA certificates (PEM) to trust instead of the system's; verification itself is never off. */
  ca?: string | Buffer;
}

const MAX_HEADER = 16 * 1024;

/**
 * Open a stream to <uuid>.balena:<port> through the tunnel. Resolves once the proxy said 200;
 * bytes that arrived after the header (the device's SSH banner may come in the same packet) are
 * pushed back so the caller reads them first. TLS is always verified (system CAs plus
 * NODE_EXTRA_CA_CERTS); there is no switch to turn that off.
 */
export function openTunnel(o: OpenTunnelOptions): Promise<TLSSocket> {
  if (!/^[0-9a-f]{32}$|^[0-9a-f]{62}$/.test(o.uuid)) throw new UsageError(`invalid device uuid ${JSON.stringify(o.uuid).slice(0, 80)} for the tunnel (full 32 or 62 hex characters)`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new UsageError(`invalid device port ${o.port}`);
  if (!/^[^:\s\u0000-\u001f]+$/.test(o.user)) throw new UsageError('invalid tunnel user');
  const where = formatTunnelAddress(o.tunnel);
  const dev = `${o.uuid}.balena:${o.port}`;
  const timeoutMs = o.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (msg: string, hint?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(new DeviceError(msg, { device: o.uuid, hint }));
    };
    const sock = tlsConnect({
      host: o.tunnel.host, port: o.tunnel.port, ...(o.ca ? { ca: o.ca } : {}),
      // SNI only for names (Node refuses an IP as servername); the certificate is checked either way.
      ...(isIP(o.tunnel.host) ? {} : { servername: o.tunnel.host }),
    });
    const timer = setTimeout(() => fail(`failed to reach ${dev} through the balena tunnel ${where}: no answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)}s` : `${timeoutMs}ms`}`, 'check --tunnel / FLEETVAULT_BALENA_TUNNEL and your network'), timeoutMs);
    let header = Buffer.alloc(0);
    sock.once('secureConnect', () => {
      const auth = Buffer.from(`${o.user}:${o.token}`).toString('base64');
      sock.write(`CONNECT ${dev} HTTP/1.0\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
    });
    const onData = (d: Buffer) => {
      header = Buffer.concat([header, d]);
      // The header ends at the first empty line. Bare LF line ends are accepted, as HTTP parsers
      // (Node's, curl's) accept them: a proxy answering "HTTP/1.0 200 OK\n\n" is not a timeout.
      // latin1 keeps one character per byte, so string offsets are buffer offsets.
      const text = header.toString('latin1');
      const blank = /\r?\n\r?\n/.exec(text);
      const end = blank ? blank.index : -1;
      if (end < 0) {
        if (header.length > MAX_HEADER || !'HTTP/'.startsWith(header.subarray(0, 5).toString('latin1'))) {
          fail(`failed to reach ${dev}: the balena tunnel ${where} answered something that is not HTTP`, 'is --tunnel pointing at balena\'s tunnel?');
        }
        return;
      }
      sock.removeListener('data', onData);
      const statusLine = text.slice(0, text.search(/\r?\n/));
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!m) return fail(`failed to reach ${dev}: the balena tunnel ${where} answered something that is not HTTP`, 'is --tunnel pointing at balena\'s tunnel?');
      const status = Number(m[1]);
      if (status !== 200) return fail(...tunnelRefusal(status, escapeControl((m[2] ?? '').slice(0, 80)), dev, where));
      settled = true;
      clearTimeout(timer);
      sock.pause();
      const rest = header.subarray(end + blank![0].length);
      if (rest.length > 0) sock.unshift(rest);
      sock.removeListener('error', onError);
      sock.removeListener('close', onClose);
      resolve(sock);
    };
    const onError = (e: NodeJS.ErrnoException) => {
      const code = e.code ?? e.message;
      if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME|IP: /.test(code) || /certificate|altnames/i.test(e.message)) {
        fail(`failed to reach ${dev}: TLS verification of the balena tunnel ${where} failed (${code})`, 'trust its CA with NODE_EXTRA_CA_CERTS=<ca.pem> or check --tunnel');
      } else if (code === 'ECONNRESET' || code === 'EPIPE') {
        fail(`failed to reach ${dev}: the balena tunnel ${where} closed the connection during the handshake`, 'is --tunnel pointing at balena\'s tunnel?');
      } else {
        fail(`failed to reach ${dev}: cannot connect to the balena tunnel ${where} (${code})`, 'check --tunnel / FLEETVAULT_BALENA_TUNNEL and your network');
      }
    };
    const onClose = () => fail(`failed to reach ${dev}: the balena tunnel ${where} closed the connection during the handshake`, 'is --tunnel pointing at balena\'s tunnel?');
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('close', onClose);
  });
}

function tunnelRefusal(status: number, text: string, dev: string, where: string): [string, string | undefined] {
  switch (status) {
    case 407: return [`failed to reach ${dev}: the balena tunnel refused the credentials (407)`, 'check BALENA_TOKEN / `balena login` and that this login may access the device'];
    case 404: return [`failed to reach ${dev}: the balena tunnel knows no such device (404)`, 'check the uuid (`balena device list`) and --balena-url'];
    case 503: return [`failed to reach ${dev}: the device is offline (503: not connected to balena's VPN)`, 'wait for it to come online, or pass --host <address> to connect directly'];
    default: return [`failed to reach ${dev}: the balena tunnel ${where} answered ${status}${text ? ' ' + text : ''}`, undefined];
  }
}

/** Relay two streams until either side ends; the ProxyCommand side of `fleetvault tunnel`. */
export function relayStreams(remote: TLSSocket, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => { if (!done) { done = true; resolve(); } };
    input.pipe(remote);
    remote.pipe(output);
    remote.resume();
    remote.once('close', finish);
    remote.once('error', () => { remote.destroy(); finish(); });
    // ssh went away (EPIPE on stdout): end quietly, never with a stack trace.
    (output as NodeJS.WritableStream & { once(e: 'error', f: () => void): unknown }).once('error', () => { remote.destroy(); finish(); });
    // ssh closes our stdin when it is done: half-close the tunnel and let the device finish.
    input.once('end', () => remote.end());
  });
}
