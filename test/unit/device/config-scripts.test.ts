import { expect, test } from 'vitest';
import { holdScript, readScript, releaseScript, writeScript } from '../../../src/device/config-scripts.js';
import { sshArgs } from '../../../src/device/remote-config.js';

const H = 'a'.repeat(64);

test('scripts carry only the path, digests and a token; a non-hex value is refused', () => {
  const w = writeScript({ path: '/mnt/boot/config.json', newSha: H, expectSha: H, backup: true, token: 'beef' });
  expect(w).toContain("p='/mnt/boot/config.json'");
  expect(w).toMatch(/fatrw write "\$p" -m "\$mode" < "\$new"/);
  expect(w).not.toMatch(/set -e\b/);
  expect(() => writeScript({ path: '/c', newSha: "x'; rm -rf /", expectSha: H, backup: false, token: 'beef' })).toThrow();
  for (const s of [readScript('/c'), holdScript({ path: '/c', token: 'beef', leaseSeconds: 5 }), releaseScript({ path: '/c', token: 'beef' })]) expect(s).toContain("p='/c'");
});

test('ssh honours the target\'s ProxyCommand and HostKeyAlias (default: the device name)', () => {
  const access = { knownHostsFile: '/k' };
  const plain = sshArgs({ name: 'dev1', host: '10.0.0.1', port: 22222, configPath: '/c' }, access);
  expect(plain).toContain('HostKeyAlias=dev1');
  expect(plain.some((a) => a.startsWith('ProxyCommand='))).toBe(false);
  const tunnelled = sshArgs({ name: 'dev1', host: 'x', port: 22222, configPath: '/c', proxyCommand: 'fleetvault tunnel %h', hostKeyAlias: 'uuid1' }, access, '/tmp/fvc-x/1');
  expect(tunnelled).toContain('HostKeyAlias=uuid1');
  expect(tunnelled).toContain('ProxyCommand=fleetvault tunnel %h');
  expect(tunnelled).toContain('ControlPath=/tmp/fvc-x/1');
});
