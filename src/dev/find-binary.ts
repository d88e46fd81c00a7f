import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { packageRoot } from '../package-root.js';
import { UsageError } from '../errors.js';


function executable(p: string): boolean {
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
}

/** FLEETVAULT_VAULT_BIN, then `bao` / `vault` on PATH, then the project's .tools/bin/bao. */
export function findVaultBinary(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.FLEETVAULT_VAULT_BIN) return executable(env.FLEETVAULT_VAULT_BIN) ? env.FLEETVAULT_VAULT_BIN : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of ['bao', 'vault']) if (executable(join(dir, name))) return join(dir, name);
  }
  const local = join(packageRoot(), '.tools', 'bin', 'bao');
  return executable(local) ? local : undefined;
}

export function requireVaultBinary(env: Record<string, string | undefined> = process.env): string {
  const bin = findVaultBinary(env);
  if (!bin) {
    throw new UsageError('no OpenBao/Vault server binary found', {
      hint: 'run scripts/install-tools.sh, put bao on PATH, or set FLEETVAULT_VAULT_BIN',
    });
  }
  return bin;
}
