// The process that runs one simulated balenaOS device for `fleetvault dev --with-device`. The device
// is a Node listener (sshd's socket), an os-sshkeys poller and a supervisor it started; none of it
// outlives the process that runs it, so `dev --detach` gives it this process of its own:
//   node dist/dev/balenaos/host.js <options.json>
// It prints one JSON line on stdout when the device is up (or why it is not), then keeps running
// until SIGTERM/SIGINT, when it stops the listener, the supervisor and the sessions, and exits.
// The options file holds no secret (a config.json with public keys); it is 0600 in a 0700 dir anyway.
import { readFileSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { startBalenaOsDevice, type BalenaOsDevice, type BalenaOsDeviceOptions } from './device.js';

export interface HostReady {
  ok: true;
  port: number; hostPublicKey: string; knownHostsLine: string; configPath: string; log: string;
  user: string; anyUser: boolean; anyUserMissing?: string;
}
export interface HostFailed { ok: false; message: string; hint?: string; usage: boolean }

async function main(optionsFile: string): Promise<void> {
  // The dev state is private (files 0600, dirs 0700): what this process, the supervisor and the
  // device's sshd create there included.
  process.umask(0o077);
  const o = JSON.parse(readFileSync(optionsFile, 'utf8')) as BalenaOsDeviceOptions;
  let device: BalenaOsDevice;
  try {
    device = await startBalenaOsDevice(o);
  } catch (e) {
    const err = e as Error & { hint?: string };
    const failed: HostFailed = { ok: false, message: err.message, hint: err.hint, usage: e instanceof UsageError };
    process.stdout.write(JSON.stringify(failed) + '\n', () => process.exit(1));
    return;
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    device.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The launcher reads one line and goes away (detached): later writes would hit a closed pipe.
  process.stdout.on('error', () => {});
  process.on('SIGPIPE', () => {});
  const ready: HostReady = {
    ok: true, port: device.port, hostPublicKey: device.hostPublicKey, knownHostsLine: device.knownHostsLine,
    configPath: device.configPath, log: device.log, user: device.user, anyUser: device.anyUser, anyUserMissing: device.anyUserMissing,
  };
  process.stdout.write(JSON.stringify(ready) + '\n');
}

main(process.argv[2] ?? '').catch((e: Error) => {
  process.stderr.write(`device host: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
