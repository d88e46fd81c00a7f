// A balena fleet behind the tunnel, for tests: the balena API stand-in, the tunnel stand-in with
// its own test CA, and the env a user of that fleet would have (BALENA_TOKEN, the tunnel address,
// NODE_EXTRA_CA_CERTS for the CA, a fresh HOME). Devices report no reachable ip_address: only the
// tunnel reaches them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBalenaApi, type BalenaApi, type BalenaDevice } from './balena-api.js';
import { startBalenaTunnel, type BalenaTunnel } from './balena-tunnel.js';
import { makeTlsMaterial, type TlsMaterial } from './tls.js';
import type { Device } from '../../src/dev/device.js';

export interface BalenaFleet {
  api: BalenaApi;
  tunnel: BalenaTunnel;
  tls: TlsMaterial;
  /** BALENA_TOKEN, FLEETVAULT_BALENA_URL, FLEETVAULT_BALENA_TUNNEL, NODE_EXTRA_CA_CERTS, HOME. */
  env: Record<string, string>;
  /** Register a running test device in the fleet, reachable only through the tunnel. */
  add(d: Device, o?: { uuid?: string; online?: boolean; ipAddress?: string | null }): BalenaDevice;
  /** known_hosts naming each device <uuid>.balena (fleetvault's HostKeyAlias for tunnelled devices). */
  knownHosts(pairs: Array<[BalenaDevice, Device]>): string;
  stop(): Promise<void>;
}

let n = 0;
export async function startBalenaFleet(tmp: string, o: { fleetSlug?: string } = {}): Promise<BalenaFleet> {
  const tls = makeTlsMaterial(join(tmp, `balena-tls-${++n}`));
  const api = await startBalenaApi({ fleetSlug: o.fleetSlug });
  const tunnel = await startBalenaTunnel({ api, tls });
  const home = join(tmp, 'home');
  return {
    api, tunnel, tls,
    env: {
      HOME: home, BALENA_TOKEN: api.apiKey, FLEETVAULT_BALENA_URL: api.url, FLEETVAULT_BALENA_TUNNEL: tunnel.address,
      NODE_EXTRA_CA_CERTS: tls.caFile,
    },
    add: (d, a = {}) => api.addDevice({
      uuid: a.uuid ?? [...Array(32)].map(() => Math.floor(Math.random() * 16).toString(16)).join(''),
      // TEST-NET-1: what a device behind NAT reports — never reachable from here.
      ip_address: a.ipAddress === undefined ? '192.0.2.10' : a.ipAddress,
      is_online: a.online ?? true,
      sshd: { host: d.host, port: d.port },
    }),
    knownHosts: (pairs) => {
      const f = join(tmp, `known_hosts-tunnel-${++n}`);
      writeFileSync(f, pairs.map(([b, d]) => `${b.uuid}.balena ${d.hostPublicKey}`).join('\n') + '\n');
      return f;
    },
    stop: async () => { await tunnel.stop(); await api.stop(); },
  };
}
