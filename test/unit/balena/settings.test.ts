// balena settings read as balena-cli (balena-settings-client) reads them: defaults < ~/.resinrc.yml
// < ~/.balenarc.yml < ./resinrc.yml < ./balenarc.yml < BALENARC_* < flags. A fake HOME and cwd each.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { balenaApiUrl, balenaSettings, findBalenaToken, balenaDataDirectory } from '../../../src/balena/settings.js';
import { tunnelAddressFor } from '../../../src/device/route.js';
import { UsageError } from '../../../src/errors.js';

let root: string;
let home: string;
let cwd: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fv-unit-balenarc-'));
  home = join(root, 'home');
  cwd = join(root, 'project');
  mkdirSync(home);
  mkdirSync(cwd);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const tunnel = (env: NodeJS.ProcessEnv, flag?: string) => tunnelAddressFor({ apiUrl: balenaApiUrl({ flag, env, cwd }), balenaUrl: flag, env, cwd });

describe('balenarc.yml and BALENARC_*', () => {
  test('~/.balenarc.yml balenaUrl: the API and the tunnel both follow it (an openBalena user)', () => {
    writeFileSync(join(home, '.balenarc.yml'), 'balenaUrl: openbalena.example.org\n');
    const env = { HOME: home };
    expect(balenaApiUrl({ env, cwd })).toBe('https://api.openbalena.example.org');
    expect(tunnel(env)).toEqual({ host: 'tunnel.openbalena.example.org', port: 443 });
  });
  test('BALENARC_TUNNEL_URL overrides the derived tunnel; an explicit tunnelUrl in a file too', () => {
    writeFileSync(join(home, '.balenarc.yml'), 'balenaUrl: openbalena.example.org\n');
    expect(tunnel({ HOME: home, BALENARC_TUNNEL_URL: 'tun.example.net:8443' })).toEqual({ host: 'tun.example.net', port: 8443 });
    writeFileSync(join(cwd, 'balenarc.yml'), 'tunnelUrl: tun.file.example\n');
    expect(tunnel({ HOME: home })).toEqual({ host: 'tun.file.example', port: 443 });
    expect(tunnel({ HOME: home, BALENARC_TUNNEL_URL: 'tun.env.example' })).toEqual({ host: 'tun.env.example', port: 443 });
  });
  test('precedence: project file over user file, env over files, the flag over everything', () => {
    writeFileSync(join(home, '.resinrc.yml'), 'resinUrl: legacy.example\n');
    expect(balenaSettings({ env: { HOME: home }, cwd }).balenaUrl).toBe('legacy.example');
    writeFileSync(join(home, '.balenarc.yml'), 'balenaUrl: user.example\napiUrl: https://api.user.example\n');
    expect(balenaApiUrl({ env: { HOME: home }, cwd })).toBe('https://api.user.example');
    writeFileSync(join(cwd, 'balenarc.yml'), 'balenaUrl: project.example\n');
    // An explicit apiUrl (any level) wins over the one derived from balenaUrl, as in balena-settings-client.
    expect(balenaApiUrl({ env: { HOME: home }, cwd })).toBe('https://api.user.example');
    expect(tunnel({ HOME: home })).toEqual({ host: 'tunnel.project.example', port: 443 });
    expect(balenaApiUrl({ env: { HOME: home, BALENARC_API_URL: 'https://api.env.example' }, cwd })).toBe('https://api.env.example');
    expect(tunnel({ HOME: home, BALENARC_BALENA_URL: 'env.example' })).toEqual({ host: 'tunnel.env.example', port: 443 });
    // An empty variable is unset (balena-settings-client skips empty values).
    expect(tunnel({ HOME: home, BALENARC_BALENA_URL: '' })).toEqual({ host: 'tunnel.project.example', port: 443 });
    expect(balenaApiUrl({ flag: 'flag.example', env: { HOME: home, BALENARC_API_URL: 'https://api.env.example' }, cwd })).toBe('https://api.flag.example');
    expect(tunnel({ HOME: home, BALENARC_TUNNEL_URL: 'tun.env.example' }, 'flag.example')).toEqual({ host: 'tunnel.flag.example', port: 443 });
  });
  test('dataDirectory from a file decides where balena-cli\'s login is read', () => {
    mkdirSync(join(root, 'data'));
    writeFileSync(join(root, 'data', 'token'), 'from-data-dir\n');
    writeFileSync(join(home, '.balenarc.yml'), `dataDirectory: ${join(root, 'data')}\n`);
    expect(balenaDataDirectory({ HOME: home }, cwd)).toBe(join(root, 'data'));
  });
  test('no settings anywhere: balenaCloud, as before', () => {
    expect(balenaApiUrl({ env: { HOME: home }, cwd })).toBe('https://api.balena-cloud.com');
    expect(tunnel({ HOME: home })).toEqual({ host: 'tunnel.balena-cloud.com', port: 443 });
  });
  test('a broken balenarc.yml is refused in one line, without echoing it', () => {
    writeFileSync(join(home, '.balenarc.yml'), 'secret-looking: [unclosed\n');
    expect(() => balenaApiUrl({ env: { HOME: home }, cwd })).toThrow(UsageError);
    expect(() => balenaApiUrl({ env: { HOME: home }, cwd })).toThrow(/not a YAML mapping$/);
    writeFileSync(join(home, '.balenarc.yml'), 'balenaUrl: [a, b]\n');
    expect(() => balenaApiUrl({ env: { HOME: home }, cwd })).toThrow(/balenaUrl is not a string/);
  });
});

describe('the balena token', () => {
  test('an empty BALENA_TOKEN does not hide BALENA_API_KEY', () => {
    expect(findBalenaToken({ HOME: home, BALENA_TOKEN: '', BALENA_API_KEY: 'key2' })).toEqual({ token: 'key2', source: 'BALENA_TOKEN' });
    expect(findBalenaToken({ HOME: home, BALENA_TOKEN: '  ', BALENA_API_KEY: 'key2' })?.token).toBe('key2');
    expect(findBalenaToken({ HOME: home, BALENA_TOKEN: 'key1', BALENA_API_KEY: 'key2' })?.token).toBe('key1');
  });
});
