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
//   DELETE /v7/device?$filter=id in (…)                                  device.remove
//
// Where the real API (open-balena-api) is less forgiving than a naive stand-in, this one is too:
//   - api key names over 50 characters and descriptions over 150 are refused with 400 and the
//     API's own sentence (also the provisioningKeyName of /download-config);
//   - a wrong or missing key on a GET of a collection falls back to the guest user: 200 and an
//     empty list ("Application not found" in the SDK); only /actor/v1/whoami answers 401;
//   - $select is honoured: only the selected fields come back;
//   - apiEndpoint in generated configs is https://<api host>;
//   - devices have no ip_address until they report one (addDevice leaves it null).
// Devices may carry `sshd` (where balena's tunnel, balena-tunnel.ts, routes <uuid>.balena:22222):
// that address is never reported as ip_address.
//
// Anything else is answered 501 and recorded, so a test sees at once when the SDK changes.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';

export interface BalenaRequest { method: string; path: string; query: string; auth: 'user' | 'provisioning' | 'none' | 'bad'; body?: unknown }

export interface BalenaDevice {
  id: number; uuid: string; device_name: string; api_key: string; belongs_to__application: number;
  is_of__device_type: string; ip_address: string | null; is_online: boolean; registered_by: number; created_at: string;
  /** Where the tunnel stand-in connects <uuid>.balena:22222 (not an API field). */
  sshd?: { host: string; port: number };
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
  /** The username whoami reports for apiKey (the tunnel's Basic-auth user, as balena-cli sends it). */
  username: string;
  /** Fault injection: the next /device/register creates the device, then answers 500 (a lost answer). */
  failNextRegisterAfterCreate(): void;
  /** Fault injection: answer the next `METHOD path` with this status and body. */
  failNext(method: string, path: string, status: number, body: string): void;
  stop(): Promise<void>;
}

/** open-balena-api's refusals for over-long api key fields (test/… of open-balena-api, 400 with a JSON string). */
const KEY_LIMITS: Array<[field: 'name' | 'description', max: number]> = [['name', 50], ['description', 150]];
function keyLimitError(k: { name?: unknown; description?: unknown }): string | undefined {
  for (const [field, max] of KEY_LIMITS) {
    const v = k[field];
    if (typeof v === 'string' && v.length > max) return `It is necessary that each api key that has a ${field}, has a ${field} that has a Length (Type) that is less than or equal to ${max}.`;
  }
  return undefined;
}

/** $select=a,b → keep only those top-level fields, as the API does. */
function applySelect(item: Record<string, unknown>, query: string): Record<string, unknown> {
  const m = /(?:^|&)\$select=([^&]*)/.exec(query);
  if (!m) return item;
  const keep = new Set(m[1]!.split(',').map((f) => f.trim()));
  const expand = /(?:^|&)\$expand=(.*)$/.exec(query)?.[1] ?? '';
  return Object.fromEntries(Object.entries(item).filter(([k]) => keep.has(k) || expand.includes(k)));
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
  const username = 'factory-operator';
  let failRegister = false;
  const faults: Array<{ method: string; path: string; status: number; body: string }> = [];

  const appJson = () => ({
    id: fleet.id, app_name: fleet.app_name, slug: fleet.slug, uuid: fleet.uuid,
    is_for__device_type: [{ slug: fleet.deviceType, is_of__cpu_architecture: [{ slug: ARCH[fleet.deviceType] ?? 'aarch64' }] }],
  });
  // $expand=belongs_to__application(...) answers the fleet inline, as a one-element array (OData).
  const deviceJson = (d: BalenaDevice, query = '') => ({
    id: d.id, uuid: d.uuid, device_name: d.device_name, ip_address: d.ip_address, is_online: d.is_online, created_at: d.created_at,
    belongs_to__application: /\$expand=[^&]*belongs_to__application/.test(query) ? [{ id: fleet.id, slug: fleet.slug }] : { __id: d.belongs_to__application },
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
    const pine = (items: Array<Record<string, unknown>>) => send(200, { d: items.map((i) => applySelect(i, query)) });
    const key = (s: string) => new RegExp(`'([^']*)'`).exec(s)?.[1] ?? '';
    const fault = faults.findIndex((f) => f.method === req.method && f.path === path);
    if (fault >= 0) {
      const f = faults.splice(fault, 1)[0]!;
      return send(f.status, f.body);
    }

    // /device/register authenticates with a provisioning key only; everything else with the user key.
    if (path === '/device/register') {
      if (req.method !== 'POST') return send(405, 'method not allowed');
      if (auth !== 'provisioning') return send(401, 'Unauthorized');
      const b = body as Record<string, unknown>;
      if (typeof b?.uuid !== 'string' || !/^[0-9a-f]{32}$|^[0-9a-f]{62}$/.test(b.uuid)) return send(400, 'invalid uuid');
      if (b.application !== prov!.applicationId || b.user !== userId || typeof b.device_type !== 'string') return send(400, 'Invalid request body');
      if (devices.some((d) => d.uuid === b.uuid)) return send(409, '"uuid" must be unique.');
      const d = addDevice({ uuid: b.uuid, is_of__device_type: b.device_type, api_key: typeof b.api_key === 'string' ? b.api_key : randomBytes(16).toString('hex') });
      if (failRegister) {
        failRegister = false;
        return send(500, 'Internal Server Error');
      }
      return send(201, { id: d.id, uuid: d.uuid, api_key: d.api_key });
    }
    // The guest fallback: an unauthenticated GET of a collection is a query as the guest user,
    // who sees nothing. Only whoami says 401.
    if (auth !== 'user') {
      if (req.method === 'GET' && path !== '/actor/v1/whoami' && path.startsWith('/v7/')) return pine([]);
      return send(401, 'Unauthorized');
    }

    if (req.method === 'GET' && path === '/actor/v1/whoami') {
      return send(200, { id: 7, actorType: 'user', actorTypeId: userId, username, email: 'ops@example.com' });
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
      const tooLong = keyLimitError(b);
      if (tooLong) return send(400, tooLong);
      const k: ProvisioningKey = { key: randomBytes(16).toString('hex'), applicationId: fleet.id, name: b.name as string, description: b.description as string, expiresAt: b.expiryDate ? Date.parse(b.expiryDate as string) : undefined };
      provisioningKeys.push(k);
      return send(200, k.key);
    }
    if (req.method === 'POST' && path === '/download-config') {
      const b = body as Record<string, unknown>;
      if (b?.appId !== fleet.id || typeof b.version !== 'string') return send(400, 'appId and version are required');
      const tooLong = keyLimitError({ name: b.provisioningKeyName });
      if (tooLong) return send(400, tooLong);
      const k: ProvisioningKey = { key: randomBytes(16).toString('hex'), applicationId: fleet.id, name: b.provisioningKeyName as string, expiresAt: b.provisioningKeyExpiryDate ? Date.parse(b.provisioningKeyExpiryDate as string) : undefined };
      provisioningKeys.push(k);
      const host = new URL(url).host;
      return send(200, {
        applicationId: fleet.id, deviceType: (b.deviceType as string) ?? fleet.deviceType, userId, appUpdatePollInterval: 900000,
        listenPort: 48484, vpnPort: 443, apiEndpoint: `https://${host}`, vpnEndpoint: `vpn.${host}`, registryEndpoint: `registry2.${host}`,
        deltaEndpoint: `https://delta.${host}`, mixpanelToken: 'x', apiKey: k.key,
        ...(b.network === 'wifi' ? { wifiSsid: b.wifiSsid, wifiKey: b.wifiKey } : {}),
      });
    }
    const byUuid = /^\/v7\/device\(uuid='([0-9a-f]+)'\)$/.exec(path);
    if (req.method === 'GET' && byUuid) return pine(devices.filter((d) => d.uuid === byUuid[1]).map((d) => deviceJson(d, query)));
    if (req.method === 'GET' && path === '/v7/device') {
      // device.getAllByApplication(slug): the SDK resolves the slug to an id first.
      const byApp = /belongs_to__application eq (\d+)/.exec(query);
      if (byApp) return pine(devices.filter((d) => d.belongs_to__application === Number(byApp[1])).map((d) => deviceJson(d, query)));
      const m = /startswith\(uuid,'([0-9a-f]+)'\)/.exec(query);
      if (!m) return send(400, 'unsupported filter');
      return pine(devices.filter((d) => d.uuid.startsWith(m[1]!)).map((d) => deviceJson(d, query)));
    }
    if (req.method === 'DELETE' && path === '/v7/device') {
      const ids = /id (?:eq (\d+)|in \(([\d,\s]+)\))/.exec(query);
      if (!ids) return send(400, 'unsupported filter');
      const want = new Set((ids[1] ?? ids[2]!).split(',').map((x) => Number(x.trim())));
      for (let i = devices.length - 1; i >= 0; i--) if (want.has(devices[i]!.id)) devices.splice(i, 1);
      res.writeHead(200);
      return res.end();
    }
    unhandled.push(r);
    return send(501, `stand-in does not implement ${req.method} ${path}`);
  });
  await new Promise<void>((resolve) => server.listen(0, o.host ?? '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  url = `http://${o.host ?? '127.0.0.1'}:${addr.port}`;
  return {
    url, apiKey, requests, unhandled, devices, provisioningKeys, fleet, addDevice, username,
    failNextRegisterAfterCreate: () => { failRegister = true; },
    failNext: (method, path, status, body) => { faults.push({ method, path, status, body }); },
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
