// `fleetvault dev --with-device` reports success only after a real login: a throw-away key, a
// certificate from the new CA, and the system ssh with strict host key checking — the same path
// `fleetvault ssh` takes. A refusal is explained from the device's sshd log.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { generateEd25519KeyPair } from '../ssh/keys.js';
import { signUserKey } from '../ssh/sign.js';
import { diagnoseLogin } from '../ssh/diagnose.js';

export interface LoginProbeOptions {
  client: VaultClient;
  mount: string;
  role: string;
  host: string;
  port: number;
  /** Account to log in as (the device's); the certificate's principal is always root. */
  loginUser: string;
  knownHostsFile: string;
  deviceLog: string;
}

export async function probeDeviceLogin(o: LoginProbeOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetvault-probe-'));
  // Backstop: Ctrl-C while dev starts ends the process from a signal handler (process.exit), and
  // `finally` never runs then; the key dir goes with the process anyway.
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  try {
    const pair = generateEd25519KeyPair('fleetvault-dev-probe');
    const signed = await signUserKey({ client: o.client, mount: o.mount, role: o.role, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 120, reason: 'fleetvault dev: login check' });
    const key = join(dir, 'id_ed25519');
    writeFileSync(key, pair.privateKey, { mode: 0o600 });
    writeFileSync(`${key}-cert.pub`, signed.certificate, { mode: 0o600 });
    const logStart = sizeOf(o.deviceLog);
    const r = await runSsh([
      '-F', '/dev/null', '-i', key, '-o', `CertificateFile=${key}-cert.pub`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${o.knownHostsFile}`,
      '-p', String(o.port), '-l', o.loginUser, '--', o.host, 'true',
    ]);
    if (r.code === 0) return;
    const text = readFileSync(o.deviceLog).subarray(logStart).toString('utf8');
    const why = diagnoseLogin({
      exitCode: 255, sshStderr: r.stderr, host: o.host, port: o.port, user: o.loginUser,
      validAfter: signed.info.validAfter, validBefore: signed.info.validBefore, deviceLog: { text, path: o.deviceLog },
    }) ?? `ssh exited ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
    throw new DeviceError(`the simulated device did not accept a login with a certificate from the new CA: ${why}`, { device: 'dev-device' });
  } finally {
    cleanup();
    process.removeListener('exit', cleanup);
  }
}

function sizeOf(path: string): number {
  try { return statSync(path).size; } catch { return 0; }
}

function runSsh(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString('utf8')).slice(-8192); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 255, stderr }));
  });
}
