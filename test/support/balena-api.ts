// The balenaCloud stand-in (the one allowed stand-in): a local node:http server answering exactly
// the requests balena-sdk 22.4 sends for out-of-band registration and device lookup — captured
// from the real SDK against a logging server — with their shapes checked and in-memory state:
//
//   GET  /actor/v1/whoami                                   auth.getUserInfo (register)
//   GET  /v7/application?$filter=slug eq '…' or uuid eq '…' application.get(slug)
//   GET  /v7/application(<id>)?$select=…&$expand=…          application.get(id)
//   POST /api-key/v2/                                       generateProvisioningKey (register, roles ['provisioning-api-key'])
//   GET  /v7/device_type?$filter=…                          deviceType.get(slug) (register)
//   POST /device/register        Bearer <provisioning key>  balena-register-device
//   POST /download-config                                   os.getConfig
//   GET  /v7/device(uuid='…')  |  /v7/device?$filter=startswith(uuid,'…')   device.get
//   GET  /v7/device?$filter=belongs_to__application eq <id>&$orderby=…   device.getAllByApplication
//
// Anything else is answered 501 and recorded, so a test sees at once when the SDK changes.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';

export interface BalenaRequest { method: string; path: string; query: string; auth: 'user' | 'provisioning' | 'none' | 'bad'; body?: unknown }

export interface BalenaDevice {
  id: number; uuid: string; device_name: string; api_key: string; belongs_to__application: number;
  is_of__device_type: string; ip_address: string | null; is_online: boolean; registered_by: number; created_at: string;
}

interface ProvisioningKey { key: string; applicationId: number; name?: string; description?: string; expiresAt?: number }

export interface BalenaApi {
  url: string;
  /** The user API key the SDK must present. */
  apiKey: string;
  requests: BalenaRequest[];
  unhandled: BalenaRequest[];
  devices: BalenaDevice[];
  provisioningKeys: ProvisioningKey[];
  fleet: { id: number; slug: string; app_name: string; uuid: string; deviceType: string };
  addDevice(d: Partial<BalenaDevice> & { uuid: string }): BalenaDevice;
  stop(): Promise<void>;
}

const ARCH: Record<string, string> = { 'raspberrypi4-64': 'aarch64', 'raspberrypi3': 'armv7hf', 'generic-amd64': 'amd64', 'intel-nuc': 'amd64' };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let b = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (b += d));
    req.on('end', () => resolve(b));
    req.on('error', reject);
  });
}

export async function startBalenaApi(o: { fleetSlug?: string; deviceType?: string; host?: string } = {}): Promise<BalenaApi> {
  const apiKey = randomBytes(16).toString('hex');
  const userId = 42;
  const fleet = { id: 1001, slug: o.fleetSlug ?? 'acme/factory-fleet', app_name: (o.fleetSlug ?? 'acme/factory-fleet').split('/').pop()!, uuid: randomBytes(16).toString('hex'), deviceType: o.deviceType ?? 'raspberrypi4-64' };
  const requests: BalenaRequest[] = [];
  const unhandled: BalenaRequest[] = [];
  const devices: BalenaDevice[] = [];
  const provisioningKeys: ProvisioningKey[] = [];
  let nextId = 5000;
  let url = '';

  const appJson = () => ({
    id: fleet.id, app_name: fleet.app_name, slug: fleet.slug, uuid: fleet.uuid,
    is_for__device_type: [{ slug: fleet.deviceType, is_of__cpu_architecture: [{ slug: ARCH[fleet.deviceType] ?? 'aarch64' }] }],
  });
  const deviceJson = (d: BalenaDevice) => ({
    id: d.id, uuid: d.uuid, device_name: d.device_name, ip_address: d.ip_address, is_online: d.is_online, created_at: d.created_at,
    belongs_to__application: { __id: d.belongs_to__application },
  });
  const addDevice = (p: Partial<BalenaDevice> & { uuid: string }): BalenaDevice => {
    const d: BalenaDevice = {
      id: nextId++, device_name: `device-${p.uuid.slice(0, 7)}`, api_key: randomBytes(16).toString('hex'), belongs_to__application: fleet.id,
      is_of__device_type: fleet.deviceType, ip_address: null, is_online: false, registered_by: userId, created_at: new Date().toISOString(), ...p,
    };
    devices.push(d);
    return d;
  };

  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const [path = '', query = ''] = decodeURIComponent(req.url ?? '').split(/\?(.*)/s);
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const prov = provisioningKeys.find((k) => k.key === bearer && (k.expiresAt === undefined || k.expiresAt > Date.now()));
    const auth: BalenaRequest['auth'] = !bearer ? 'none' : bearer === apiKey ? 'user' : prov ? 'provisioning' : 'bad';
    let body: unknown;
    if (raw) {
      try { body = JSON.parse(raw); } catch { body = raw; }
    }
    const r: BalenaRequest = { method: req.method ?? '', path, query, auth, body };
    requests.push(r);
    const send = (status: number, data: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(data));
    };
    const pine = (items: unknown[]) => send(200, { d: items });
    const key = (s: string) => new RegExp(`'([^']*)'`).exec(s)?.[1] ?? '';

    // /device/register authenticates with a provisioning key only; everything else with the user key.
    if (path === '/device/register') {
      if (req.method !== 'POST') return send(405, 'method not allowed');
      if (auth !== 'provisioning') return send(401, 'Unauthorized');
      const b = body as Record<string, unknown>;
      if (typeof b?.uuid !== 'string' || !/^[0-9a-f]{32}$|^[0-9a-f]{62}$/.test(b.uuid)) return send(400, 'invalid uuid');
      if (b.application !== prov!.applicationId || b.user !== userId || typeof b.device_type !== 'string') return send(400, 'Invalid request body');
      if (devices.some((d) => d.uuid === b.uuid)) return send(409, '"uuid" must be unique.');
      const d = addDevice({ uuid: b.uuid, is_of__device_type: b.device_type, api_key: typeof b.api_key === 'string' ? b.api_key : randomBytes(16).toString('hex') });
      return send(201, { id: d.id, uuid: d.uuid, api_key: d.api_key });
    }
    if (auth !== 'user') return send(401, 'Unauthorized');

    if (req.method === 'GET' && path === '/actor/v1/whoami') {
      return send(200, { id: 7, actorType: 'user', actorTypeId: userId, username: 'factory-operator', email: 'ops@example.com' });
    }
    if (req.method === 'GET' && path === '/v7/application') {
      const want = key(query);
      return pine(want === fleet.slug || want === fleet.uuid ? [appJson()] : []);
    }
    const appById = /^\/v7\/application\((\d+)\)$/.exec(path);
    if (req.method === 'GET' && appById) return pine(Number(appById[1]) === fleet.id ? [appJson()] : []);
    if (req.method === 'GET' && path === '/v7/device_type') {
      const slug = key(query);
      return pine(ARCH[slug] ? [{ slug, is_of__cpu_architecture: [{ slug: ARCH[slug] }] }] : []);
    }
    if (req.method === 'POST' && path === '/api-key/v2/') {
      const b = body as Record<string, unknown>;
      if (b?.actorType !== 'application' || b.actorTypeId !== fleet.id || JSON.stringify(b.roles) !== '["provisioning-api-key"]') return send(400, 'bad api key request');
      const k: ProvisioningKey = { key: randomBytes(16).toString('hex'), applicationId: fleet.id, name: b.name as string, description: b.description as string, expiresAt: b.expiryDate ? Date.parse(b.expiryDate as string) : undefined };
      provisioningKeys.push(k);
      return send(200, k.key);
    }
    if (req.method === 'POST' && path === '/download-config') {
      const b = body as Record<string, unknown>;
      if (b?.appId !== fleet.id || typeof b.version !== 'string') return send(400, 'appId and version are required');
      const k: ProvisioningKey = { key: randomBytes(16).toString('hex'), applicationId: fleet.id, name: b.provisioningKeyName as string, expiresAt: b.provisioningKeyExpiryDate ? Date.parse(b.provisioningKeyExpiryDate as string) : undefined };
      provisioningKeys.push(k);
      const host = new URL(url).host;
      return send(200, {
        applicationId: fleet.id, deviceType: (b.deviceType as string) ?? fleet.deviceType, userId, appUpdatePollInterval: 900000,
        listenPort: 48484, vpnPort: 443, apiEndpoint: url, vpnEndpoint: `vpn.${host}`, registryEndpoint: `registry2.${host}`,
        deltaEndpoint: `https://delta.${host}`, mixpanelToken: 'x', apiKey: k.key,
        ...(b.network === 'wifi' ? { wifiSsid: b.wifiSsid, wifiKey: b.wifiKey } : {}),
      });
    }
    const byUuid = /^\/v7\/device\(uuid='([0-9a-f]+)'\)$/.exec(path);
    if (req.method === 'GET' && byUuid) return pine(devices.filter((d) => d.uuid === byUuid[1]).map(deviceJson));
    if (req.method === 'GET' && path === '/v7/device') {
      // device.getAllByApplication(slug): the SDK resolves the slug to an id first.
      const byApp = /belongs_to__application eq (\d+)/.exec(query);
      if (byApp) return pine(devices.filter((d) => d.belongs_to__application === Number(byApp[1])).map(deviceJson));
      const m = /startswith\(uuid,'([0-9a-f]+)'\)/.exec(query);
      if (!m) return send(400, 'unsupported filter');
      return pine(devices.filter((d) => d.uuid.startsWith(m[1]!)).map(deviceJson));
    }
    unhandled.push(r);
    return send(501, `stand-in does not implement ${req.method} ${path}`);
  });
  await new Promise<void>((resolve) => server.listen(0, o.host ?? '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  url = `http://${o.host ?? '127.0.0.1'}:${addr.port}`;
  return {
    url, apiKey, requests, unhandled, devices, provisioningKeys, fleet, addDevice,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
