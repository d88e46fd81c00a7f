// One real OpenBao dev server for the whole run, with a file audit device. Tests get its address
// and root token through inject(); each test builds its own mounts named after itself.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findVaultBinary } from '../../src/dev/find-binary.js';
import { startDevServer, type DevServer } from '../../src/dev/openbao.js';
import { requireTools } from './tools.js';

declare module 'vitest' {
  export interface ProvidedContext {
    // flavour: 'openbao' (the tested default) or 'vault' (FLEETVAULT_VAULT_BIN=…/vault, see
    // docs/compat.md); tests of OpenBao-only features check it and say so.
    vault: { address: string; rootToken: string; auditLog: string; version: string; flavour: 'openbao' | 'vault' };
  }
}

let server: DevServer | undefined;
let dir: string | undefined;
let runTmp: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'jq']);
  // Every temp dir of this run — the tests', the CLI's they spawn, ssh key dirs — goes into one
  // private dir (workers and runCli inherit TMPDIR), so teardown can name what a test failed to
  // remove, even while other runs share /tmp, and nothing (keys included) stays behind.
  runTmp = mkdtempSync(join(tmpdir(), 'fleetvault-run-'));
  // Enterable but not listable by other accounts (the first-contact suite's unprivileged user);
  // each test's own dir inside stays 0700.
  chmodSync(runTmp, 0o711);
  process.env.TMPDIR = runTmp;
  const bin = findVaultBinary();
  if (!bin) {
    // Stop at once: every integration test needs it, and skipping would count as passing.
    throw new Error('OpenBao binary not found (FLEETVAULT_VAULT_BIN, bao/vault on PATH, .tools/bin/bao). Run: bash scripts/install-tools.sh');
  }
  dir = mkdtempSync(join(tmpdir(), 'fleetvault-test-vault-'));
  server = await startDevServer({ dir, bin });
  project.provide('vault', { address: server.address, rootToken: server.rootToken, auditLog: server.auditLog, version: server.version, flavour: server.flavour });
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (runTmp) {
    const left = leftTempDirs(runTmp);
    rmSync(runTmp, { recursive: true, force: true });
    if (left.length) {
      // vitest prints a teardown error but still exits 0: fail the run ourselves.
      process.exitCode = 1;
      throw new Error(`tests left ${left.length} temp dir(s) behind; fix their cleanup: ${left.join(', ')}`);
    }
  }
}

/** fleetvault's and the tests' own temp dirs (fv-*, fvc-* control sockets, fleetvault-*); other tools' files are not ours to judge. */
export function leftTempDirs(root: string): string[] {
  return readdirSync(root).filter((n) => /^(fv-|fvc-|fv\.|fleetvault-)/.test(n)).sort();
}
