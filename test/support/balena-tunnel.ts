// balena's tunnel, stand-in: a TLS server (certificate from the throw-away test CA, trusted by the
// client through NODE_EXTRA_CA_CERTS, never by turning verification off) speaking the CONNECT
// protocol of open-balena-vpn's connect-proxy (src/connect-proxy/worker.ts, device.ts):
//   CONNECT <uuid>.balena:<port> HTTP/1.0 + Proxy-Authorization: Basic base64(<user>:<token>)
//   404 Not Found                       no device with that uuid (checked first, with the proxy's own key)
//   407 Proxy Authorization Required    the token may not access the device (the user is not checked)
//   503 Service Unavailable             the device is not connected to the VPN
//   500 Internal Server Error           a request it cannot parse
//   200 Connection Established          then a raw TCP stream to the device's sshd
// Devices, keys and online state come from the balena API stand-in (balena-api.ts).
import { createServer, type TLSSocket, type Server } from 'node:tls';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import type { BalenaApi } from './balena-api.js';
import type { TlsMaterial } from './tls.js';

export interface TunnelRequest { target: string; user?: string; authorized: boolean; status: number }

/** Misbehaviours for bad-input tests: answer garbage, close mid-handshake, or never answer. */
export type TunnelMode = 'normal' | 'garbage' | 'close' | 'silent';

export interface BalenaTunnel {
  host: string;
  port: number;
  /** HOST:PORT for --tunnel / FLEETVAULT_BALENA_TUNNEL. */
  address: string;
  requests: TunnelRequest[];
  mode: TunnelMode;
  stop(): Promise<void>;
}

const DEVICE = /^([a-fA-F0-9]+)\.(?:resin|balena)(?::([0-9]+))?$/;

export async function startBalenaTunnel(o: { api: BalenaApi; tls: TlsMaterial; host?: string }): Promise<BalenaTunnel> {
  const requests: TunnelRequest[] = [];
  const open = new Set<Socket>();
  const state = { mode: 'normal' as TunnelMode };
  const server: Server = createServer({ key: readFileSync(o.tls.keyFile), cert: readFileSync(o.tls.certFile) }, (client: TLSSocket) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16384) client.destroy();
        return;
      }
      client.removeListener('data', onData);
      client.pause();
      if (state.mode === 'silent') return;
      if (state.mode === 'close') return void client.destroy();
      if (state.mode === 'garbage') return void client.end('\u0000\u00ffnot http at all\r\n\r\n');
      const [requestLine = '', ...headerLines] = head.subarray(0, end).toString('latin1').split('\r\n');
      const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(requestLine);
      const answer = (status: number, text: string, rec: Partial<TunnelRequest> = {}) => {
        requests.push({ target: m?.[1] ?? requestLine, authorized: false, status, ...rec });
        client.end(`HTTP/1.0 ${status} ${text}\r\n\r\n`);
      };
      if (!m) return answer(500, 'Internal Server Error');
      const target = DEVICE.exec(m[1]!);
      if (!target) return answer(500, 'Internal Server Error');
      const [, uuid, port = '80'] = target;
      const auth = headerLines.find((l) => /^proxy-authorization:/i.test(l))?.replace(/^[^:]*:\s*/, '');
      const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(auth ?? '')?.[1];
      const decoded = basic ? Buffer.from(basic, 'base64').toString('utf8') : '';
      const user = basic ? decoded.slice(0, decoded.indexOf(':')) : undefined;
      const password = basic ? decoded.slice(decoded.indexOf(':') + 1) : undefined;
      // The proxy looks the device up with its own key first: an unknown uuid is 404 for anyone.
      const device = o.api.devices.find((d) => d.uuid === uuid!.toLowerCase());
      if (!device) return answer(404, 'Not Found', { user });
      // canAccess with the token as Bearer: the user key of the API stand-in may access its fleet.
      const authorized = password === o.api.apiKey;
      if (!authorized) return answer(407, 'Proxy Authorization Required', { user });
      if (!device.is_online || !device.sshd) return answer(503, 'Service Unavailable', { user, authorized });
      if (port !== '22222') return answer(503, 'Service Unavailable', { user, authorized });
      const upstream = connect({ host: device.sshd.host, port: device.sshd.port });
      open.add(upstream);
      upstream.on('close', () => { open.delete(upstream); client.end(); });
      upstream.on('error', () => { upstream.destroy(); client.destroy(); });
      upstream.once('connect', () => {
        requests.push({ target: m[1]!, user, authorized, status: 200 });
        client.write('HTTP/1.0 200 Connection Established\r\n\r\n');
        const rest = head.subarray(end + 4);
        if (rest.length) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host, port, address: `${host}:${port}`, requests,
    get mode() { return state.mode; },
    set mode(m: TunnelMode) { state.mode = m; },
    stop: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    }),
  };
}
