// OpenBao SIGKILLed in the middle of a 500-envelope factory run (one AppRole login + one transit
// decrypt per envelope, as the flasher does), restarted and unsealed; the same command resumes
// from its journal. Nothing lost: every envelope unsealed, once, to the right bytes. Nothing done
// twice: the audit log shows one decrypt per envelope, plus at most one more for envelopes that
// were in flight at the kill (never for one the journal had recorded).
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, slugFor, testLayout, layoutEnv } from '../../support/context.js';
import { startPersistentOpenBao } from '../../support/persistent-openbao.js';
import { auditHash, decryptsByCiphertext, pool } from '../../support/faults.js';
import { runCli } from '../../support/cli.js';
import { VaultClient } from '../../../src/vault/client.js';
import { bootstrapVault } from '../../../src/vault/bootstrap.js';
import { appRoleLogin } from '../../../src/vault/connect.js';
import { sealConfig } from '../../../src/provision/seal.js';
import { formatEnvelope, type SealedEnvelope } from '../../../src/provision/envelope.js';
import { createBatch, unwrapSecretId } from '../../../src/provision/batch.js';
import { unsealBatch } from '../../../src/provision/factory-run.js';
import { VaultError } from '../../../src/errors.js';

const ENVELOPES = 500;
const CONCURRENCY = 8;
const KILL_AT = 150;

test('OpenBao restarted mid factory run: resume from the journal, nothing lost, nothing decrypted twice', async ({ tmp }) => {
  const bao = await startPersistentOpenBao({ dir: join(tmp, 'bao') });
  try {
    const layout = testLayout(slugFor('factory restart'));
    await bootstrapVault({ client: bao.root, layout, factoryCidrs: ['127.0.0.0/8'] });
    const sealedDir = join(tmp, 'sealed');
    const outDir = join(tmp, 'out');
    mkdirSync(sealedDir);
    const names = Array.from({ length: ENVELOPES }, (_, i) => `dev${String(i).padStart(3, '0')}`);
    const plaintexts = new Map<string, Buffer>();
    const envelopes = new Map<string, SealedEnvelope>();
    await pool(names, 8, async (name) => {
      const plaintext = Buffer.from(JSON.stringify({ applicationId: 1, deviceType: 'raspberrypi4-64', uuid: name, deviceApiKey: `key-${name}`, os: { sshKeys: [] } }));
      const env = await sealConfig({ client: bao.root, mount: layout.transitMount, key: layout.transitKey, fleet: 'acme/line3', plaintext });
      writeFileSync(join(sealedDir, `${name}.sealed.json`), formatEnvelope(env));
      plaintexts.set(name, plaintext);
      envelopes.set(name, env);
    });
    // Headroom of one concurrency's worth of uses: a login whose decrypt dies with the server is spent.
    const batch = await createBatch({ client: bao.root, mount: layout.approleMount, role: layout.approleRole, transitMount: layout.transitMount, transitKey: layout.transitKey, policyPrefix: layout.policyPrefix, fleets: ['acme/line3'], name: 'line3', count: ENVELOPES + CONCURRENCY, cidrs: ['127.0.0.0/8'], ttlSeconds: 3600, wrapTtl: '10m' });
    const { secretId } = await unwrapSecretId({ client: bao.root, wrappingToken: batch.wrappingToken, mount: layout.approleMount, role: layout.approleRole });

    // Run 1, in process so the kill lands at a known point: SIGKILL the server at the 150th envelope.
    let killed = false;
    const run1 = unsealBatch({
      envelopesDir: sealedDir, outDir, concurrency: CONCURRENCY,
      session: async () => {
        const c = new VaultClient({ address: bao.address, retries: 0 });
        await appRoleLogin(c, layout.approleMount, batch.roleId, secretId);
        return c;
      },
      onProgress: ({ done }) => {
        if (done === KILL_AT && !killed) { killed = true; void bao.node.kill('SIGKILL'); }
      },
    });
    const err = await run1.then(() => undefined, (e: unknown) => e);
    expect(killed, String(err)).toBe(true);
    expect(err).toBeInstanceOf(VaultError);
    expect((err as Error).message).toMatch(/run the same command again to resume/);
    const journalPath = join(outDir, '.fleetvault-unseal-journal.jsonl');
    const journaled1 = new Set(readFileSync(journalPath, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { envelope: string }).envelope.replace('.sealed.json', '')));
    expect(journaled1.size).toBeGreaterThanOrEqual(KILL_AT);
    expect(journaled1.size).toBeLessThan(ENVELOPES);
    // Every journaled envelope has its file (file first, then the journal line).
    for (const n of journaled1) expect(existsSync(join(outDir, `${n}.config.json`))).toBe(true);

    await bao.restart();

    // Run 2: the CLI, as the flasher re-runs it.
    const r = await runCli(['provision', 'unseal-batch', sealedDir, '--out-dir', outDir, '--concurrency', String(CONCURRENCY), '--json'], {
      env: { VAULT_ADDR: bao.address, FLEETVAULT_ROLE_ID: batch.roleId, FLEETVAULT_SECRET_ID: secretId, ...layoutEnv(layout) },
      timeoutMs: 120_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { total: number; unsealed: number; skipped: number };
    expect(report).toMatchObject({ total: ENVELOPES, skipped: journaled1.size, unsealed: ENVELOPES - journaled1.size });

    // Nothing lost: one 0600 file per envelope with exactly the sealed bytes, no temp files.
    const files = readdirSync(outDir).filter((f) => !f.startsWith('.fleetvault-unseal-journal'));
    expect(files.sort()).toEqual(names.map((n) => `${n}.config.json`));
    for (const n of names) {
      const p = join(outDir, `${n}.config.json`);
      expect(readFileSync(p).equals(plaintexts.get(n)!)).toBe(true);
      expect(statSync(p).mode & 0o777).toBe(0o600);
    }
    // The journal lists every envelope exactly once.
    const lines = readFileSync(journalPath, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { envelope: string }).envelope);
    expect(lines).toHaveLength(ENVELOPES);
    expect(new Set(lines).size).toBe(ENVELOPES);

    // Nothing decrypted twice, by the server's own audit log: each journaled-in-run-1 envelope
    // exactly once; the others once, or twice if their decrypt was in flight when the server
    // died (answered, logged, but the answer never reached us) — at most CONCURRENCY of those.
    const counts = decryptsByCiphertext(bao.auditLog, layout.transitMount);
    let total = 0;
    let twice = 0;
    await pool(names, 8, async (n) => {
      const c = counts.get(await auditHash(bao.root, 'file', envelopes.get(n)!.ciphertext)) ?? 0;
      total += c;
      if (journaled1.has(n)) expect(c, `${n} (journaled before the kill)`).toBe(1);
      else {
        expect(c, n).toBeGreaterThanOrEqual(1);
        expect(c, n).toBeLessThanOrEqual(2);
        if (c === 2) twice++;
      }
    });
    expect(twice).toBeLessThanOrEqual(CONCURRENCY);
    expect(total).toBe(ENVELOPES + twice);
    console.log(`factory run: killed at ${KILL_AT}, ${journaled1.size} journaled before the kill, ${twice} decrypted twice (in flight), ${total} decrypts for ${ENVELOPES} envelopes`);
  } finally {
    await bao.stop();
  }
}, 240_000);
