// Run the built CLI (dist/cli.js) as a user would, capturing stdout, stderr and the exit code.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliResult { code: number; stdout: string; stderr: string; signal: NodeJS.Signals | null }

export function runCli(args: string[], o: { env?: Record<string, string | undefined>; input?: string; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // A clean environment: nothing from the developer's shell (VAULT_TOKEN, ~/.vault-token) leaks in.
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' };
    // The run's private temp dir (global setup), so the CLI's own temp dirs are checked for leaks too.
    if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
    for (const [k, v] of Object.entries(o.env ?? {})) if (v !== undefined) env[k] = v; else delete env[k];
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr, signal }); });
    child.stdin.end(o.input ?? '');
  });
}
