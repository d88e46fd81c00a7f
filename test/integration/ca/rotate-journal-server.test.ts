// Issue: the rotate journal was keyed by mount only, so after pointing VAULT_ADDR at another server
// (same mount names: staging and prod both bootstrapped by fleetvault) `--stage distribute` pushed
// the first server's new CA to every device. Journals are now per server (sys/health cluster_id)
// and mount, and a journal of another server is refused — also when named with --journal, and also
// an old journal without a server (checked by its CAs). Two real OpenBao servers.
import { renameSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startDevServer } from '../../../src/dev/openbao.js';
import { VaultClient } from '../../../src/vault/client.js';
import { bootstrapVault } from '../../../src/vault/bootstrap.js';
import { legacyRotationJournal } from '../../../src/ca/rotate-journal.js';
import { fleetvaultLines, trustingFleet, type Fleet } from './rotate-fleet.js';

function rotateDefaultJournal(env: Record<string, string>, f: Fleet, ...extra: string[]) {
  return runCli(['ca', 'rotate', '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', f.kh, '--json', ...extra], { env, timeoutMs: 120_000 });
}

test('a rotation journal of one Vault server is never used against another with the same mount names', { timeout: 180_000 }, async ({ vault, devices, tmp }) => {
  const second = await startDevServer({ dir: join(tmp, 'bao-b') });
  try {
    const rootB = new VaultClient({ address: second.address, token: second.rootToken });
    await bootstrapVault({ client: rootB, layout: vault.layout, factoryCidrs: ['127.0.0.0/8'] });
    // HOME under the test dir: the default journal lives in its state dir, as for a user.
    const envA = { ...vault.env, HOME: tmp };
    const envB = { ...envA, VAULT_ADDR: second.address, VAULT_TOKEN: second.rootToken };
    const f = await trustingFleet(2, devices, tmp, envA);
    const configs = () => f.devices.map((d) => d.readConfig());

    const prep = await rotateDefaultJournal(envA, f, '--stage', 'prepare', '--strategy', 'mount');
    expect(prep.code, prep.stderr).toBe(0);
    const p = JSON.parse(prep.stdout);
    expect(p.journal).toMatch(/rotate-.*@[0-9a-f-]{36}\.json$/);
    const before = configs();

    // Server B, same mount name: no rotation there, nothing pushed anywhere.
    const onB = await rotateDefaultJournal(envB, f, '--stage', 'distribute');
    expect(onB.code).toBe(1);
    expect(onB.stderr).toMatch(new RegExp(`no rotation of ${vault.layout.sshMount} in progress on ${second.address.replace(/[.]/g, '\\.')}`));
    expect(configs()).toEqual(before);

    // Naming A's journal explicitly against B: refused as another server's.
    const named = await rotateDefaultJournal(envB, f, '--stage', 'distribute', '--journal', p.journal);
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(/belongs to another Vault server \(cluster [0-9a-f-]{36} at http:\/\/127\.0\.0\.1:\d+\)/);
    expect(named.stderr.trim().split('\n')).toHaveLength(1);
    expect(configs()).toEqual(before);
    const status = await runCli(['ca', 'rotate', 'status', '--journal', p.journal], { env: envB });
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/belongs to another Vault server/);
    const abort = await runCli(['ca', 'rotate', 'abort', '--journal', p.journal, '--devices', f.file, '--identity', f.opKey, '--user-known-hosts-file', f.kh], { env: envB });
    expect(abort.code).toBe(1);
    expect(configs()).toEqual(before);

    // A journal from before journals named their server, at the old default path: checked by CA.
    const legacy = legacyRotationJournal(vault.layout.sshMount, { HOME: tmp });
    const j = JSON.parse(readFileSync(p.journal, 'utf8'));
    delete j.server;
    writeFileSync(legacy, JSON.stringify(j));
    renameSync(p.journal, `${p.journal}.aside`);
    const legacyOnB = await rotateDefaultJournal(envB, f, '--stage', 'distribute');
    expect(legacyOnB.code).toBe(1);
    expect(legacyOnB.stderr).toMatch(/does not match .*signs with SHA256:/);
    expect(configs()).toEqual(before);

    // On its own server the rotation goes on (the legacy journal is claimed for server A).
    const onA = await rotateDefaultJournal(envA, f, '--stage', 'distribute');
    expect(onA.code, onA.stderr).toBe(0);
    expect(JSON.parse(onA.stdout).journal).toBe(legacy);
    expect(JSON.parse(readFileSync(legacy, 'utf8')).server.clusterId).toMatch(/^[0-9a-f-]{36}$/);
    for (const d of f.devices) expect(fleetvaultLines(d)).toContainEqual(expect.stringContaining(p.next.fingerprint));
  } finally {
    await vault.root.delete(`sys/mounts/${vault.layout.sshMount}-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`).catch(() => {});
    await second.stop();
  }
});
