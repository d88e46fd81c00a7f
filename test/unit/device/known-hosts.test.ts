import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { adoptAddressPins, hostKeyAliasOf, prepareKnownHosts } from '../../../src/device/known-hosts.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'fv-kh-')); dirs.push(d); return d; };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHT2uSHe3KyH5AZOZ4T6P1rDBTV9kTbJeH3hJjOBGCfx';

test('the state directory is created 0700 before the first ssh, also under a 022 umask', () => {
  const home = tmp();
  const old = process.umask(0o022);
  try { prepareKnownHosts(join(home, '.local', 'state', 'fleetvault', 'known_hosts')); } finally { process.umask(old); }
  expect(statSync(join(home, '.local', 'state', 'fleetvault')).mode & 0o777).toBe(0o700);
});

test('a pin made for the address (plain or hashed) is adopted under the device alias, once', () => {
  const f = join(tmp(), 'known_hosts');
  const salt = randomBytes(20);
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.7]:22222').digest('base64')}`;
  writeFileSync(f, `[10.0.0.5]:22222 ${KEY}\n${hashed} ${KEY}`);
  const targets = [
    { name: 'a', host: '10.0.0.5', port: 22222, configPath: '/c' },
    { name: 'b', host: '10.0.0.7', port: 22222, configPath: '/c', hostKeyAlias: 'uuid-b' },
    { name: 'c', host: '10.0.0.9', port: 22222, configPath: '/c' },
  ];
  expect(adoptAddressPins(f, targets)).toBe(2);
  expect(adoptAddressPins(f, targets)).toBe(0);
  const text = readFileSync(f, 'utf8');
  expect(text).toContain(`\na ${KEY}\n`);
  expect(text).toContain(`uuid-b ${KEY}\n`);
  expect(text).not.toMatch(/^c /m);
  expect(hostKeyAliasOf(targets[1]!)).toBe('uuid-b');
});
