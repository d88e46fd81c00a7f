// Where a login leaves its token: ~/.vault-token, exactly like Vault's and OpenBao's CLIs (their
// default token helper), so `vault`, `bao` and fleetvault share one login. The config resolver
// reads the same file (src/config.ts tokenFilePath) when VAULT_TOKEN is not set.
import { lstatSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';

/**
 * Write the token atomically with mode 0600 (temp file created 0600, then renamed), so no other
 * user can read it even for an instant and a crash never leaves half a token. Like Vault's helper,
 * no trailing newline.
 */
export function storeToken(opts: { path: string; token: string }): string {
  try {
    // A symlink at ~/.vault-token would be replaced, not followed: say so rather than surprise.
    if (lstatSync(opts.path).isDirectory()) {
      throw new UsageError(`failed to store the token in ${opts.path}: it is a directory`);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // ENOENT: first login, nothing to check.
  }
  writeFileAtomic(opts.path, opts.token, { mode: 0o600 });
  return opts.path;
}
