// Review findings on the hold takeover (config-scripts.ts), reproduced by running the device-side
// scripts with the local sh against a fake systemctl (state in a file), no systemd-run (the setsid
// watchdog) and no fatrw.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { holdScript, writeScript } from '../../../src/device/config-scripts.js';

const OWNER = 'ab'.repeat(16);
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** systemctl: is-active/start/stop of balena-supervisor against $D/state; $D/on-<verb> runs first when present. */
function device() {
  const d = mkdtempSync(join(tmpdir(), 'fv-hold-'));
  dirs.push(d);
  const bin = join(d, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh
D='${d}'
while [ "$1" = --quiet ]; do shift; done
echo "$1 $2" >> "$D/calls"
if [ -f "$D/on-$1" ]; then . "$D/on-$1"; fi
case "$1" in
  is-active) [ "$(cat "$D/state")" = active ] ;;
  start) echo active > "$D/state" ;;
  stop) echo inactive > "$D/state" ;;
  *) exit 5 ;;
esac
`);
  writeFileSync(join(bin, 'systemd-run'), '#!/bin/sh\nexit 1\n');
  for (const f of ['systemctl', 'systemd-run']) chmodSync(join(bin, f), 0o755);
  writeFileSync(join(d, 'state'), 'active\n');
  const cfg = join(d, 'config.json');
  writeFileSync(cfg, '{"a":1}\n', { mode: 0o640 });
  const env = { ...process.env, PATH: `${bin}:/usr/bin:/bin` };
  return {
    d, cfg, env, lease: `${cfg}.fleetvault.lease`,
    state: () => readFileSync(join(d, 'state'), 'utf8').trim(),
    run: (script: string, input = '') => spawnSync('sh', ['-c', script], { env, input, cwd: d, encoding: 'utf8', timeout: 30_000 }),
  };
}

test('takeover: a hold cut (SIGHUP) right after it dropped its own leftover lease leaves the supervisor stopped for good', () => {
  const dev = device();
  // The killed run's hold: supervisor stopped, its lease ours (same owner), live for 100 s more.
  dev.run(`echo inactive > '${dev.d}/state'`);
  writeFileSync(dev.lease, `0ld balena-supervisor 1 ${Math.floor(Date.now() / 1000) + 100} ${OWNER}\n`);
  // The connection drops while the re-run's hold looks for an active supervisor.
  writeFileSync(join(dev.d, 'on-is-active'), 'kill -HUP $PPID; sleep 1\n');
  const r = dev.run(holdScript({ path: dev.cfg, token: 'beef', leaseSeconds: 60, owner: OWNER }));
  expect(r.status).not.toBe(0);
  // The old lease is gone (so the old watchdog will not start it), no new watchdog was armed: only
  // this script could start the supervisor again.
  expect(existsSync(dev.lease)).toBe(false);
  expect(dev.state()).toBe('active');
});

test('the finish of a taken-over write neither starts the supervisor nor removes the lease of the hold that took it over', async () => {
  const dev = device();
  const sha = (s: string) => spawnSync('sha256sum', { input: s, encoding: 'utf8' }).stdout.split(' ')[0]!;
  // Run 1 holds (supervisor stopped, lease with our owner).
  const h1 = dev.run(holdScript({ path: dev.cfg, token: 'aaaa', leaseSeconds: 60, owner: OWNER }));
  expect(h1.status, h1.stderr).toBe(0);
  expect(dev.state()).toBe('inactive');
  // Its write is under way (flock taken, upload in progress) …
  const w = spawn('sh', ['-c', writeScript({ path: dev.cfg, newSha: sha('{"a":2}\n'), expectSha: sha('{"a":1}\n'), backup: false, token: 'aaaa' })], { env: dev.env, cwd: dev.d, stdio: ['pipe', 'ignore', 'pipe'] });
  const wDone = new Promise<number | null>((r) => w.once('exit', (c) => r(c)));
  await new Promise((r) => setTimeout(r, 500));
  // … its start of the supervisor is slow (as systemd's is) …
  writeFileSync(join(dev.d, 'on-start'), 'sleep 2\n');
  // … a run on the same journal holds meanwhile (it waits for the lock, then takes the hold over).
  const h2 = spawn('sh', ['-c', holdScript({ path: dev.cfg, token: 'bbbb', leaseSeconds: 60, owner: OWNER })], { env: dev.env, cwd: dev.d, stdio: ['ignore', 'ignore', 'pipe'] });
  const h2Done = new Promise<number | null>((r) => h2.once('exit', (c) => r(c)));
  await new Promise((r) => setTimeout(r, 300));
  w.stdin.end('corrupt'); // run 1's write fails (upload corrupted): its finish runs
  expect(await wDone).toBe(90);
  expect(await h2Done).toBe(0);
  // Run 2 holds now: its lease is there and the supervisor stays stopped until its write.
  expect(readFileSync(dev.lease, 'utf8').split(' ')[0]).toBe('bbbb');
  expect(dev.state()).toBe('inactive');
}, 40_000);

test('a lease whose expiry has a leading zero (08) does not abort the hold with a shell arithmetic error', () => {
  const dev = device();
  writeFileSync(dev.lease, `0ld balena-supervisor 1 08 ${'cd'.repeat(16)}\n`);
  const r = dev.run(holdScript({ path: dev.cfg, token: 'beef', leaseSeconds: 60, owner: OWNER }));
  // 08 is long past: a stale lease, dropped.
  expect(r.stderr).not.toMatch(/Illegal number|too great/);
  expect(r.status, r.stderr).toBe(0);
  expect(readFileSync(dev.lease, 'utf8').split(' ')[0]).toBe('beef');
});

test('a lease is read as words, never as globs', () => {
  const dev = device();
  // A glob in a field would expand to the files of the script's directory and shift the others.
  writeFileSync(dev.lease, `* balena-supervisor 1 ${Math.floor(Date.now() / 1000) + 100} ${'cd'.repeat(16)}\n`);
  const r = dev.run(holdScript({ path: dev.cfg, token: 'beef', leaseSeconds: 60, owner: OWNER }));
  expect(r.status).toBe(88);
  expect(r.stderr).toMatch(/held-for \d+/);
});
