// Shared by the `ca rotate` tests: a fleet of real sshd devices that trusts an operator key and the
// old CA, and the CLI calls an operator and an engineer make during a rotation.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, inject } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor, sshLogin } from '../../support/ssh.js';
import { defaultDeviceConfig, type Device } from '../../../src/dev/device.js';
import { policyName, sshRoleSettings } from '../../../src/vault/layout.js';
import type { VaultClient } from '../../../src/vault/client.js';

/** uuids: each device's config.json uuid (what a scoped line must name). */
export interface Fleet { devices: Device[]; opKey: string; file: string; kh: string; journal: string; uuids: string[] }
export type Env = Record<string, string>;

export async function trustingFleet(n: number, devices: { start(o: object): Promise<Device> }, tmp: string, env: Env): Promise<Fleet> {
  const opKey = join(tmp, 'operator');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
  const opPub = readFileSync(`${opKey}.pub`, 'utf8').trim();
  const uuids = Array.from({ length: n }, () => randomBytes(16).toString('hex'));
  const started = await Promise.all(Array.from({ length: n }, (_, i) => {
    const config = defaultDeviceConfig(uuids[i]!);
    (config.os as { sshKeys: string[] }).sshKeys = [opPub];
    return devices.start({ name: `dev${i}`, config });
  }));
  const file = join(tmp, 'devices.txt');
  writeFileSync(file, started.map((d) => `${d.name} ${d.host} ${d.port} ${d.configPath}`).join('\n') + '\n');
  const f = { devices: started, opKey, file, kh: knownHostsFor(tmp, started), journal: join(tmp, 'rotate.json'), uuids };
  // The fleet trusts the old CA, the way a fleet does before its first rotation.
  const r = await runCli(['ca', 'rollout', '--devices', file, '--identity', opKey, '--user-known-hosts-file', f.kh, '--journal', join(tmp, 'rollout.jsonl')], { env, timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  return f;
}

export function rotate(env: Env, f: Fleet, ...extra: string[]) {
  return runCli(['ca', 'rotate', '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', f.kh, '--journal', f.journal, '--json', ...extra], { env, timeoutMs: 180_000 });
}

/** `ca rotate <action>` (status, abort) with this fleet and journal; `access` replaces --identity. */
export function rotateAction(env: Env, f: Fleet, action: string[], o: { access?: string[] } = {}) {
  return runCli(['ca', 'rotate', ...action, '--devices', f.file, ...(o.access ?? ['--identity', f.opKey]), '--user-known-hosts-file', f.kh, '--journal', f.journal, '--json'], { env, timeoutMs: 180_000 });
}

export function newKey(tmp: string, name: string): string {
  const k = join(tmp, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
  return k;
}

/** `fleetvault cert sign` as an engineer does; returns the key and the CA that signed it. */
export async function engineerCert(env: Env, tmp: string, name: string): Promise<{ key: string; cert: string; ca: string }> {
  const key = newKey(tmp, name);
  const s = await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env });
  expect(s.code, s.stderr).toBe(0);
  const i = await runCli(['cert', 'inspect', `${key}-cert.pub`, '--json'], { env });
  expect(i.code, i.stderr).toBe(0);
  return { key, cert: `${key}-cert.pub`, ca: JSON.parse(i.stdout).signingKeyFingerprint };
}

/** SSH issuers are OpenBao-only (HashiCorp Vault rotates with the mount strategy, tested below). */
export function skipOnVault(skip: (condition: boolean, note?: string) => void): void {
  const v = inject('vault');
  if (v.flavour === 'vault') console.info(`[compat] skipped: OpenBao-only feature (SSH issuers) on HashiCorp Vault ${v.version}`);
  skip(v.flavour === 'vault', `OpenBao-only feature (SSH issuers); this run is on HashiCorp Vault ${v.version}`);
}

/** A certificate from a specific issuer before it is the default: a role pinned to it. */
export async function issuerCert(root: VaultClient, mount: string, issuerId: string, tmp: string): Promise<{ key: string; cert: string }> {
  await root.write(`${mount}/roles/pinned-test`, { ...sshRoleSettings(), issuer_ref: issuerId });
  const key = newKey(tmp, `pinned-${issuerId.slice(0, 8)}`);
  const r = await root.write<{ signed_key: string }>(`${mount}/sign/pinned-test`, { public_key: readFileSync(`${key}.pub`, 'utf8'), valid_principals: 'root' });
  writeFileSync(`${key}-cert.pub`, r.data.signed_key);
  return { key, cert: `${key}-cert.pub` };
}

export async function loginCodes(f: Fleet, c: { key: string; cert: string }): Promise<number[]> {
  return Promise.all(f.devices.map(async (d) => (await sshLogin({ device: d, key: c.key, cert: c.cert, knownHosts: f.kh })).code));
}

export function fleetvaultLines(d: Device): string[] {
  return (JSON.parse(d.readConfig()).os.sshKeys as string[]).filter((k) => k.includes(' fleetvault:'));
}


/** The env of the fleet-operator persona (its policy only, plus Vault's default): who runs `ca rotate`. */
export async function operatorEnv(vault: { root: VaultClient; env: Env; layout: Parameters<typeof policyName>[0] }): Promise<Env> {
  const r = await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, 'operator')], ttl: '20m' });
  return { ...vault.env, VAULT_TOKEN: r.auth!.client_token };
}
