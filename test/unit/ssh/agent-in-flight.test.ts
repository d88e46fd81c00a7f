// Certificates other logins are presenting right now (src/ssh/agent-in-flight.ts): marked per
// agent socket, counted while the marking process lives and for IN_FLIGHT_MS, left alone by the
// agent bound; dead processes' markers are ignored and removed.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificatesInFlight, IN_FLIGHT_MS, markInFlight } from '../../../src/ssh/agent-in-flight.js';
import { scopedCertificatesToPrune, type AgentCertificate } from '../../../src/ssh/agent.js';

const home = mkdtempSync(join(tmpdir(), 'fv-inflight-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const env = (sock: string) => ({ HOME: home, SSH_AUTH_SOCK: sock, PATH: process.env.PATH });
const dirOf = (_e: NodeJS.ProcessEnv) => join(home, '.cache', 'fleetvault', 'agent-in-flight');
const FP = 'SHA256:ab/cd+ef0123456789ABCDEFghijklmnopqrstuvwxyz';

/** A marker written by another live process: a node child (the built module) that marks and waits. */
async function markFromChild(e: NodeJS.ProcessEnv, fp: string) {
  const mod = new URL('../../../dist/ssh/agent-in-flight.js', import.meta.url).pathname;
  const child = spawn(process.execPath, ['-e', `import(${JSON.stringify(mod)}).then((m) => { m.markInFlight(${JSON.stringify(fp)}); console.log('marked'); setInterval(() => {}, 1000); })`], { env: { ...process.env, ...e }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return child;
}

describe('agent in-flight markers', () => {
  it('another live process\'s marker counts, for its own agent socket only; its own process\'s does not', async () => {
    const a = env('/run/a.sock');
    const release = markInFlight(FP, a);
    expect(certificatesInFlight(a).has(FP)).toBe(false); // our own: we know what we present
    release();
    const child = await markFromChild(a, FP);
    try {
      expect(certificatesInFlight(a)).toEqual(new Set([FP]));
      expect(certificatesInFlight(env('/run/b.sock'))).toEqual(new Set());
      const [dir] = readdirSync(dirOf(a));
      expect(statSync(join(dirOf(a), dir!)).mode & 0o777).toBe(0o700);
      const [file] = readdirSync(join(dirOf(a), dir!));
      expect(statSync(join(dirOf(a), dir!, file!)).mode & 0o777).toBe(0o600);
      // Older than IN_FLIGHT_MS: its certificate has been presented long ago.
      const old = (Date.now() - IN_FLIGHT_MS - 1000) / 1000;
      utimesSync(join(dirOf(a), dir!, file!), old, old);
      expect(certificatesInFlight(a)).toEqual(new Set());
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    // A dead process's marker (SIGKILL: no exit handler ran) is ignored and removed.
    expect(certificatesInFlight(a)).toEqual(new Set());
    const [dir] = readdirSync(dirOf(a));
    expect(readdirSync(join(dirOf(a), dir!))).toEqual([]);
  });

  it('no SSH_AUTH_SOCK: nothing marked, nothing in flight; release removes the marker', () => {
    expect(markInFlight(FP, { HOME: home })).toBeTypeOf('function');
    expect(certificatesInFlight({ HOME: home })).toEqual(new Set());
    const e = env('/run/c.sock');
    const release = markInFlight(FP, e);
    const dirs = readdirSync(dirOf(e));
    expect(dirs.some((d) => readdirSync(join(dirOf(e), d)).length === 1)).toBe(true);
    release();
    expect(dirs.every((d) => !existsSync(join(dirOf(e), d)) || readdirSync(join(dirOf(e), d)).length === 0)).toBe(true);
  });

  it('the agent bound leaves in-flight certificates alone', () => {
    const mk = (i: number, fp: string): AgentCertificate => ({
      info: { type: 'user', keyId: 'k', serial: String(i), principals: [`device-${String(i).padStart(32, '0')}`], validAfter: new Date(Date.now() - 60_000).toISOString(), validBefore: new Date(Date.now() + 1_800_000).toISOString(), extensions: [], criticalOptions: {}, signingKeyFingerprint: 'SHA256:ca', publicKeyFingerprint: fp, signatureValid: true, signatureAlgorithm: 'ssh-ed25519', expired: false, notYetValid: false },
      comment: `fleetvault-device-${i}`, line: `ssh-ed25519-cert-v01@openssh.com C${i} fleetvault-device-${i}`, subjectKeyLine: `ssh-ed25519 K${i}`,
    });
    const [a, b, c] = [mk(1, 'SHA256:a'), mk(2, 'SHA256:b'), mk(3, 'SHA256:c')];
    const o = { addedPublicKey: 'ssh-ed25519 NEW', caFingerprint: 'SHA256:ca' };
    expect(scopedCertificatesToPrune([a, b, c], o)).toEqual([a, b]);
    expect(scopedCertificatesToPrune([a, b, c], { ...o, inFlight: new Set(['SHA256:a']) })).toEqual([b]);
  });
});
