import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Fail loudly (never skip) when a tool the tests need is missing. */
export function requireTools(names: string[]): void {
  const missing = names.filter((n) => {
    if (n === 'sshd') return !existsSync('/usr/sbin/sshd');
    try { execFileSync('sh', ['-c', `command -v ${n}`], { stdio: 'ignore' }); return false; } catch { return true; }
  });
  if (missing.length) {
    throw new Error(`missing test tools: ${missing.join(', ')}. Run: bash scripts/install-tools.sh`);
  }
}
