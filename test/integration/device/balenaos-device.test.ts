// The faithful balenaOS test device behaves like the real one where fleetvault's writes care.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { knownHostsFor, sshLogin } from '../../support/ssh.js';
import { requireTools } from '../../support/tools.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';

requireTools(['gcc', 'jq', 'flock']);

function operatorKey(tmp: string): { key: string; pub: string } {
  const key = join(tmp, 'operator');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  return { key, pub: readFileSync(`${key}.pub`, 'utf8').trim() };
}

const waitFor = async (what: string, ok: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('any login name is root; fatrw, systemctl and the supervisor are on the PATH; the supervisor reverts an edit it did not see', async ({ balenaos, tmp }) => {
  const op = operatorKey(tmp);
  const config = defaultDeviceConfig('d1');
  (config.os as { sshKeys: string[] }).sshKeys = [op.pub];
  const d = await balenaos.start({ name: 'd1', config, supervisorIntervalSeconds: 1 });
  const kh = knownHostsFor(tmp, [d as never]);
  const r = await sshLogin({ device: d as never, key: op.key, user: 'whoever', knownHosts: kh, command: 'id -u; command -v fatrw systemctl; systemctl is-active balena-supervisor; systemctl is-active resin-supervisor.service' });
  expect(r.code, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines[0]).toBe('0');
  expect(lines.slice(1, 3).map((l) => l.split('/').pop())).toEqual(['fatrw', 'systemctl']);
  expect(lines.slice(3)).toEqual(['active', 'active']);

  // fatrw: content on stdin only; an argument after the path is refused like clap does.
  const bad = await sshLogin({ device: d as never, key: op.key, knownHosts: kh, command: `fatrw write ${d.configPath} '{}'` });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/unexpected argument/);

  // An edit behind the running supervisor's back is lost at its next write.
  const edited = JSON.parse(d.readConfig());
  edited.os.sshKeys.push('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHT2uSHe3KyH5AZOZ4T6P1rDBTV9kTbJeH3hJjOBGCfx lost');
  d.writeConfig(JSON.stringify(edited));
  const writes = d.supervisorWrites();
  await waitFor('a supervisor write', () => d.supervisorWrites() > writes);
  await waitFor('the revert', () => !d.readConfig().includes(' lost'));
  expect((readFileSync(d.configPath).length)).toBeGreaterThan(0);

  // systemctl stop/start from a session: stopped is stopped, started again it re-reads the file.
  expect((await sshLogin({ device: d as never, key: op.key, knownHosts: kh, command: 'systemctl stop balena-supervisor' })).code).toBe(0);
  expect(d.supervisorRunning()).toBe(false);
  // Started from a session under umask 077 (fleetvault's write script runs so), the supervisor still
  // writes with systemd's UMask=0022: its fatrw -m keeps config.json's 0640.
  expect((await sshLogin({ device: d as never, key: op.key, knownHosts: kh, command: 'umask 077; systemctl start resin-supervisor' })).code).toBe(0);
  expect(d.supervisorRunning()).toBe(true);
  const started = d.supervisorWrites();
  await waitFor('a supervisor write', () => d.supervisorWrites() > started);
  expect(statSync(d.configPath).mode & 0o777).toBe(0o640);
});

test('os-sshkeys applies a new key only after its delay; the socket stops under a burst and recovers', async ({ balenaos, tmp }) => {
  const op = operatorKey(tmp);
  const d = await balenaos.start({ name: 'd2', sshKeysDelayMs: 800, supervisorIntervalSeconds: 0, triggerLimit: { intervalMs: 2000, burst: 5, recoverAfterMs: 1500 } });
  const c = JSON.parse(d.readConfig());
  c.os.sshKeys = [op.pub];
  d.writeConfig(JSON.stringify(c));
  expect(d.authorizedKeys()).toEqual([]);
  await waitFor('os-sshkeys', () => d.authorizedKeys().length === 1, 5000);
  expect(d.authorizedKeys()).toEqual([op.pub]);

  const kh = knownHostsFor(tmp, [d as never]);
  const burst = await Promise.all(Array.from({ length: 8 }, () => sshLogin({ device: d as never, key: op.key, knownHosts: kh })));
  expect(burst.filter((r) => r.code !== 0).length).toBeGreaterThan(0);
  expect(d.socketTrips()).toBeGreaterThan(0);
  await new Promise((r) => setTimeout(r, 1800));
  expect((await sshLogin({ device: d as never, key: op.key, knownHosts: kh })).code).toBe(0);
});
