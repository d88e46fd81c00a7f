import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseTunnelAddress, formatTunnelAddress } from '../../../src/device/tunnel.js';
import { balenaHostUuid, checkRouteFlags, tunnelAddressFor, tunnelProxyCommand, tunnelRouteFor } from '../../../src/device/route.js';
import { balenaApiUrl, tunnelHostFor, findBalenaToken } from '../../../src/balena/settings.js';
import { UsageError } from '../../../src/errors.js';

const UUID = '0123456789abcdef0123456789abcdef';

describe('tunnel address', () => {
  test('HOST[:PORT], IPv6 in brackets, 443 by default', () => {
    expect(parseTunnelAddress('tunnel.balena-cloud.com')).toEqual({ host: 'tunnel.balena-cloud.com', port: 443 });
    expect(parseTunnelAddress('127.0.0.1:8443')).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(parseTunnelAddress('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(formatTunnelAddress({ host: '::1', port: 9 })).toBe('[::1]:9');
  });
  test.each(['', ' ', 'a b', 'https://t.example', '-oProxyCommand=x', 't:0', 't:65536', 't:', 't:1x', '[::1', '::1', 'u@t', 't/x', 't\n', '.t', 't..x'])('refuses %j', (bad) => {
    expect(() => parseTunnelAddress(bad)).toThrow(UsageError);
  });
});

describe('balena environment (as balena-cli reads it)', () => {
  test('a domain names the environment; a URL names the API', () => {
    expect(balenaApiUrl({ env: {} })).toBe('https://api.balena-cloud.com');
    expect(balenaApiUrl({ env: { BALENARC_BALENA_URL: 'balena-staging.com' } })).toBe('https://api.balena-staging.com');
    expect(balenaApiUrl({ flag: 'https://api.example.org/', env: { BALENARC_BALENA_URL: 'x.com' } })).toBe('https://api.example.org');
    expect(balenaApiUrl({ env: { BALENARC_API_URL: 'http://127.0.0.1:3000', BALENARC_BALENA_URL: 'x.com' } })).toBe('http://127.0.0.1:3000');
    for (const bad of ['ftp://x', 'https://u:p@api.x', "x.com'; rm", 'http://']) expect(() => balenaApiUrl({ flag: bad })).toThrow(UsageError);
  });
  test('tunnel.<domain>:443 from api.<domain>; FLEETVAULT_BALENA_TUNNEL and --tunnel win', () => {
    expect(tunnelHostFor('https://api.balena-cloud.com')).toBe('tunnel.balena-cloud.com');
    expect(tunnelHostFor('http://127.0.0.1:3000')).toBeUndefined();
    expect(tunnelAddressFor({ apiUrl: 'https://api.my.org', env: {} })).toEqual({ host: 'tunnel.my.org', port: 443 });
    expect(tunnelAddressFor({ apiUrl: 'https://api.my.org', env: { FLEETVAULT_BALENA_TUNNEL: 't2.my.org:8443' } })).toEqual({ host: 't2.my.org', port: 8443 });
    expect(tunnelAddressFor({ apiUrl: 'https://api.my.org', tunnel: '10.0.0.1', env: { FLEETVAULT_BALENA_TUNNEL: 't2.my.org' } })).toEqual({ host: '10.0.0.1', port: 443 });
    expect(() => tunnelAddressFor({ apiUrl: 'http://127.0.0.1:3000', env: {} })).toThrow(/cannot tell balena's tunnel host/);
  });
  test('BALENA_TOKEN first, then balena-cli\'s stored login in BALENARC_DATA_DIRECTORY or ~/.balena', () => {
    const home = mkdtempSync(join(tmpdir(), 'fv-unit-balena-'));
    try {
      expect(findBalenaToken({ HOME: home })).toBeUndefined();
      mkdirSync(join(home, '.balena'));
      writeFileSync(join(home, '.balena', 'token'), 'jwt-from-balena-login\n');
      expect(findBalenaToken({ HOME: home })).toEqual({ token: 'jwt-from-balena-login', source: 'balena login' });
      expect(findBalenaToken({ HOME: home, BALENA_TOKEN: 'env-key' })).toEqual({ token: 'env-key', source: 'BALENA_TOKEN' });
      mkdirSync(join(home, 'data'));
      writeFileSync(join(home, 'data', 'token'), 'other');
      expect(findBalenaToken({ HOME: home, BALENARC_DATA_DIRECTORY: join(home, 'data') })?.token).toBe('other');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('route', () => {
  test('the ProxyCommand carries no secret and quotes paths', () => {
    const cmd = tunnelProxyCommand({ cli: { node: '/usr/bin/node', script: '/opt/my tools/cli.js' }, uuid: UUID, port: 22222, tunnel: { host: 'tunnel.x.io', port: 443 }, user: 'alice' });
    expect(cmd).toBe(`/usr/bin/node '/opt/my tools/cli.js' tunnel ${UUID} --port 22222 --tunnel tunnel.x.io:443 --tunnel-user alice`);
    for (const script of ["/o'q/cli.js", '/a%h/cli.js', '/a\\b']) {
      expect(() => tunnelProxyCommand({ cli: { node: '/n', script }, uuid: UUID, port: 1, tunnel: { host: 't', port: 1 }, user: 'a' })).toThrow(UsageError);
    }
    expect(() => tunnelProxyCommand({ cli: { node: '/n', script: '/c' }, uuid: UUID, port: 1, tunnel: { host: 't', port: 1 }, user: 'a b' })).toThrow(UsageError);
    expect(() => tunnelProxyCommand({ cli: { node: '/n', script: '/c' }, uuid: 'c0ffee1', port: 1, tunnel: { host: 't', port: 1 }, user: 'a' })).toThrow(UsageError);
  });
  test('a tunnelled device is known to ssh by its uuid, whatever the tunnel', () => {
    const r = tunnelRouteFor({ uuid: UUID, port: 22222, tunnel: { host: 't', port: 443 }, tunnelUser: 'root', cli: { node: '/n', script: '/c' } });
    expect(r).toMatchObject({ kind: 'tunnel', host: `${UUID}.balena`, hostKeyAlias: `${UUID}.balena` });
  });
  test('flag conflicts are usage errors', () => {
    expect(() => checkRouteFlags({ device: 'x', via: 'sideways' })).toThrow(/--via/);
    expect(() => checkRouteFlags({ device: 'c0ffee1', host: 'h', via: 'tunnel' })).toThrow(/contradict/);
    expect(() => checkRouteFlags({ device: 'my.host', via: 'tunnel' })).toThrow(/needs a balena device uuid/);
    expect(checkRouteFlags({ device: 'c0ffee1' })).toBe('auto');
  });
});

describe('a .balena name and a mistyped uuid', () => {
  test('<x>.balena must be a uuid (7–32 or 62 hex): anything else is refused, never a plain host', () => {
    expect(balenaHostUuid('c0ffee1.balena')).toBe('c0ffee1');
    expect(balenaHostUuid(`${UUID}.balena`)).toBe(UUID);
    expect(balenaHostUuid(`${'a'.repeat(62)}.balena`)).toBe('a'.repeat(62));
    expect(balenaHostUuid('10.0.0.5')).toBeUndefined();
    for (const bad of ['vm.balena', 'c0ffee.balena', 'c0ffeez1.balena', `${'a'.repeat(33)}.balena`, `${'a'.repeat(61)}.balena`, '.balena', 'a.b.balena']) {
      expect(() => balenaHostUuid(bad), bad).toThrow(UsageError);
    }
    expect(() => balenaHostUuid('vm.balena')).toThrow(/invalid balena uuid "vm"/);
  });
  test('33–61 hex characters are a mistyped uuid (exit 1 locally), with or without --host', () => {
    for (const n of [33, 40, 61]) {
      expect(() => checkRouteFlags({ device: 'a'.repeat(n) }), String(n)).toThrow(/a uuid has 32 or 62/);
      expect(() => checkRouteFlags({ device: 'a'.repeat(n), host: '10.0.0.1' })).toThrow(UsageError);
    }
    expect(checkRouteFlags({ device: 'a'.repeat(32) })).toBe('auto');
    expect(checkRouteFlags({ device: 'a'.repeat(62) })).toBe('auto');
  });
});
