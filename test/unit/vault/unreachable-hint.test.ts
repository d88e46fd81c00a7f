// No address configured: the connection error says so, and names a running fleetvault dev server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { spawn } from 'node:child_process';
import { resolveConfig } from '../../../src/config.js';
import { writeDevState } from '../../../src/dev/state.js';
import { VaultClient } from '../../../src/vault/client.js';
import { unreachableHint } from '../../../src/vault/connect.js';

const h = mkdtempSync(join(tmpdir(), 'fv-unreach-'));
afterAll(() => rmSync(h, { recursive: true, force: true }));
const env = { HOME: h, FLEETVAULT_DEV_DIR: join(h, 'dev') };

describe('unreachableHint', () => {
  it('names the running dev server when no address is configured', () => {
    expect(unreachableHint(resolveConfig({}, env), env)).toMatch(/^no Vault address is configured \(http:\/\/127\.0\.0\.1:8200 is the default\)/);
    // A dev server recorded as running: a process whose command line names <dir>/server.hcl stands in.
    const dir = env.FLEETVAULT_DEV_DIR;
    const server = spawn('sh', ['-c', 'sleep 30', join(dir, 'server.hcl')], { stdio: 'ignore' });
    onTestFinished(() => { server.kill(); });
    writeDevState(dir, { address: 'http://127.0.0.1:41234', rootToken: 'x', serverPid: server.pid!, auditLog: '', dir, startedAt: '' });
    expect(unreachableHint(resolveConfig({}, env), env)).toBe('no Vault address is configured; the fleetvault dev server runs at http://127.0.0.1:41234: export VAULT_ADDR=http://127.0.0.1:41234');
    // A recorded pid that now belongs to another process (a reboot, pid reuse): no dev server named.
    writeDevState(dir, { address: 'http://127.0.0.1:41234', rootToken: 'x', serverPid: process.pid, auditLog: '', dir, startedAt: '' });
    expect(unreachableHint(resolveConfig({}, env), env)).toMatch(/^no Vault address is configured \(http/);
    // An address the user chose: the usual hint.
    expect(unreachableHint(resolveConfig({}, { ...env, VAULT_ADDR: 'http://x:1' }), env)).toBeUndefined();
  });

  it('is the hint of the connection error', async () => {
    const c = new VaultClient({ address: 'http://127.0.0.1:1', retries: 0, unreachableHint: 'HINT' });
    await expect(c.read('sys/mounts')).rejects.toMatchObject({ message: expect.stringMatching(/cannot reach Vault/), hint: 'HINT' });
  });
});
