// The process that runs one simulated balenaOS device for `fleetvault dev --with-device`. The device
// is a Node listener (sshd's socket), an os-sshkeys poller and a supervisor it started; none of it
// outlives the process that runs it, so `dev --detach` gives it this process of its own:
//   node dist/dev/balenaos/host.js <device dir>       options (JSON) on stdin
// `dev` starts it first thing, while OpenBao starts: it loads its modules and builds the nss-ato
// shim meanwhile, then waits for its options (they hold the CA line, known only later). Empty
// stdin: `dev` gave up, exit. It prints one JSON line on stdout when the device is up (or why it
// is not), then runs until SIGTERM/SIGINT, when it stops the listener, the supervisor and the
// sessions, and exits.
import { dirname } from 'node:path';
import { UsageError } from '../../errors.js';
import { startBalenaOsDevice, type BalenaOsDevice, type BalenaOsDeviceOptions } from './device.js';
import { nssAtoShim } from './nss-ato.js';

export interface HostReady {
  ok: true;
  port: number; hostPublicKey: string; knownHostsLine: string; configPath: string; log: string;
  user: string; anyUser: boolean; anyUserMissing?: string;
}
export interface HostFailed { ok: false; message: string; hint?: string; usage: boolean }

async function main(deviceDir: string): Promise<void> {
  // The dev state is private (files 0600, dirs 0700): what this process, the supervisor and the
  // device's sshd create there included.
  process.umask(0o077);
  let device: BalenaOsDevice | undefined;
  let starting = false;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (device) device.stop().finally(() => process.exit(0));
    else if (!starting) process.exit(0);
    // else: stopped as soon as it is up (below), so no half-started supervisor stays
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Warm-up while `dev` waits for OpenBao: the shim `dev` asks for (root + gcc), into the state dir.
  try { nssAtoShim(dirname(deviceDir), 'auto'); } catch { /* startBalenaOsDevice says why, if it matters */ }
  const input = await new Promise<string>((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => (text += d));
    process.stdin.once('end', () => resolve(text));
    process.stdin.once('error', () => resolve(''));
  });
  if (!input.trim() || stopping) process.exit(0);
  const o = JSON.parse(input) as BalenaOsDeviceOptions;
  starting = true;
  try {
    device = await startBalenaOsDevice(o);
  } catch (e) {
    const err = e as Error & { hint?: string };
    const failed: HostFailed = { ok: false, message: err.message, hint: err.hint, usage: e instanceof UsageError };
    process.stdout.write(JSON.stringify(failed) + '\n', () => process.exit(1));
    return;
  }
  if (stopping) return void device.stop().finally(() => process.exit(0));
  // The launcher reads one line and goes away (detached): later writes would hit a closed pipe.
  process.stdout.on('error', () => {});
  process.on('SIGPIPE', () => {});
  const d = device;
  const ready: HostReady = {
    ok: true, port: d.port, hostPublicKey: d.hostPublicKey, knownHostsLine: d.knownHostsLine,
    configPath: d.configPath, log: d.log, user: d.user, anyUser: d.anyUser, anyUserMissing: d.anyUserMissing,
  };
  process.stdout.write(JSON.stringify(ready) + '\n');
}

main(process.argv[2] ?? '').catch((e: Error) => {
  process.stderr.write(`device host: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
