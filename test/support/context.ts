// Per-test fixtures named after the test: its own mounts, roles, keys and policies on the shared
// OpenBao, its own temp dir, its own devices — so tests never step on each other.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject, test as base } from 'vitest';
import type { LayoutSettings } from '../../src/config.js';
import { VaultClient } from '../../src/vault/client.js';
import { bootstrapVault } from '../../src/vault/bootstrap.js';
import { startDevice, defaultDeviceConfig, type Device } from '../../src/dev/device.js';
import { startBalenaOsDevice, type BalenaOsDevice, type BalenaOsDeviceOptions } from './balenaos-device.js';

export function slugFor(name: string): string {
  const words = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 24);
  return `${words}-${createHash('sha1').update(name + process.pid + Math.random()).digest('hex').slice(0, 6)}`;
}

export function testLayout(slug: string): LayoutSettings {
  return {
    sshMount: `ssh-${slug}`,
    sshRole: 'engineer',
    transitMount: `transit-${slug}`,
    transitKey: 'balena-provisioning',
    approleMount: `approle-${slug}`,
    approleRole: 'flasher',
    kvMount: `kv-${slug}`,
    policyPrefix: `fv-${slug}`,
  };
}

/** The env that points the CLI at this test's layout on the shared server. */
export function layoutEnv(l: LayoutSettings): Record<string, string> {
  return {
    FLEETVAULT_SSH_MOUNT: l.sshMount,
    FLEETVAULT_SSH_ROLE: l.sshRole,
    FLEETVAULT_TRANSIT_MOUNT: l.transitMount,
    FLEETVAULT_TRANSIT_KEY: l.transitKey,
    FLEETVAULT_APPROLE_MOUNT: l.approleMount,
    FLEETVAULT_APPROLE_ROLE: l.approleRole,
    FLEETVAULT_KV_MOUNT: l.kvMount,
    FLEETVAULT_POLICY_PREFIX: l.policyPrefix,
  };
}

export interface VaultFixture {
  address: string;
  rootToken: string;
  auditLog: string;
  root: VaultClient;
  layout: LayoutSettings;
  /** VAULT_ADDR + VAULT_TOKEN + layout env, for running the CLI. */
  env: Record<string, string>;
}

let nextHost = 2 + Math.floor(Math.random() * 200);
/** A fresh loopback address per device (127.0.0.2–254): a fleet of distinct hosts. */
export function nextLoopbackHost(): string {
  nextHost = nextHost >= 254 ? 2 : nextHost + 1;
  return `127.0.0.${nextHost}`;
}

export interface Fixtures {
  slug: string;
  tmp: string;
  vault: VaultFixture;
  devices: { start(o?: { config?: Record<string, unknown>; configText?: string; name?: string; env?: Record<string, string> }): Promise<Device> };
  /** Faithful balenaOS devices (supervisor, fatrw, systemctl, os-sshkeys, socket-activated sshd). */
  balenaos: { start(o?: Partial<Omit<BalenaOsDeviceOptions, 'dir' | 'host'>>): Promise<BalenaOsDevice> };
}

export const test = base.extend<Fixtures>({
  // eslint-disable-next-line no-empty-pattern
  slug: async ({ task }, use) => { await use(slugFor(task.name)); },
  tmp: async ({ slug }, use) => {
    const dir = mkdtempSync(join(tmpdir(), `fv-${slug}-`));
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
  vault: async ({ slug }, use) => {
    const v = inject('vault');
    const root = new VaultClient({ address: v.address, token: v.rootToken });
    const layout = testLayout(slug);
    await bootstrapVault({ client: root, layout, factoryCidrs: ['127.0.0.0/8'] });
    await use({
      address: v.address, rootToken: v.rootToken, auditLog: v.auditLog, root, layout,
      // No signing cache unless a test asks for it (FLEETVAULT_SIGNING_CACHE: '1' with its own HOME):
      // CLIs spawned with the real HOME would otherwise leave files in ~/.cache.
      env: { VAULT_ADDR: v.address, VAULT_TOKEN: v.rootToken, ...layoutEnv(layout), FLEETVAULT_SIGNING_CACHE: '0' },
    });
    // Unmount so a long run does not accumulate hundreds of mounts.
    for (const m of [layout.sshMount, layout.transitMount, layout.kvMount]) await root.delete(`sys/mounts/${m}`).catch(() => {});
    await root.delete(`sys/auth/${layout.approleMount}`).catch(() => {});
  },
  devices: async ({ tmp }, use) => {
    const started: Device[] = [];
    let n = 0;
    await use({
      start: async (o = {}) => {
        const name = o.name ?? `dev${++n}`;
        const d = await startDevice({
          dir: join(tmp, `device-${name}`), name, host: nextLoopbackHost(),
          config: o.configText === undefined ? (o.config ?? defaultDeviceConfig(name)) : undefined,
          configText: o.configText, env: o.env,
        });
        started.push(d);
        return d;
      },
    });
    await Promise.all(started.map((d) => d.stop()));
  },
  balenaos: async ({ tmp }, use) => {
    const started: BalenaOsDevice[] = [];
    let n = 0;
    await use({
      start: async (o = {}) => {
        const name = o.name ?? `bos${++n}`;
        const d = await startBalenaOsDevice({ ...o, name, dir: join(tmp, `balenaos-${name}`), host: nextLoopbackHost() });
        started.push(d);
        return d;
      },
    });
    await Promise.all(started.map((d) => d.stop()));
  },
});

export { expect, describe, inject } from 'vitest';
