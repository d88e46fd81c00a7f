// Real OpenTofu with the real hashicorp/vault provider, offline. scripts/install-tofu.sh builds both
// from the Go module proxy into .tools/ (idempotent: ~10 ms once built) and writes .tools/tofurc,
// a CLI config whose only provider source is the filesystem mirror. Each workspace is a temp copy
// of terraform/ + policies/ (the module reads ../policies), so tests never share state, lock files
// or .terraform/ directories, and never write into the repo.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface TofuTools { bin: string; cliConfig: string }

let tools: TofuTools | undefined;

/**
 * Make sure tofu and the provider mirror exist (building them on a fresh machine: minutes), or
 * throw. Never a skip: a missing tool would otherwise turn the terraform tests green by absence.
 */
export function ensureTofu(): TofuTools {
  if (tools) return tools;
  const r = spawnSync('bash', [join(REPO, 'scripts/install-tofu.sh')], { encoding: 'utf8', timeout: 30 * 60_000 });
  const bin = join(REPO, '.tools/bin/tofu');
  const cliConfig = join(REPO, '.tools/tofurc');
  if (r.status !== 0 || !existsSync(bin) || !existsSync(cliConfig)) {
    throw new Error(`OpenTofu is not available (scripts/install-tofu.sh exited ${r.status ?? r.signal}${process.env.CI === 'true' ? ' under CI' : ''}):\n${r.stderr ?? ''}${r.error ? String(r.error) : ''}\nRun: bash scripts/install-tofu.sh (needs Go and the Go module proxy)`);
  }
  tools = { bin, cliConfig };
  return tools;
}

export interface TofuResult { code: number; stdout: string; stderr: string }

export interface TofuWorkspace {
  /** The copy of terraform/ tofu runs in (its sibling policies/ is the copy of policies/). */
  dir: string;
  run(args: string[], o?: { cwd?: string; timeoutMs?: number }): Promise<TofuResult>;
  /** run() that throws with tofu's output on a non-zero exit. */
  must(args: string[], o?: { cwd?: string; timeoutMs?: number }): Promise<TofuResult>;
  /** `tofu output -json` as plain values. */
  outputs(): Promise<Record<string, unknown>>;
}

/**
 * Copy terraform/ and policies/ under `parent` and prepare tofu to run there against one Vault.
 * The token goes to tofu through VAULT_TOKEN in its environment, never argv; variables go in
 * terraform.tfvars.json (auto-loaded by init/plan/apply alike).
 */
export function tofuWorkspace(o: { parent: string; address: string; token: string; vars?: Record<string, unknown> }): TofuWorkspace {
  const t = ensureTofu();
  const skip = (src: string) => !['.terraform', '.terraform.lock.hcl', 'terraform.tfstate', 'terraform.tfstate.backup', 'terraform.tfvars.json'].includes(basename(src));
  mkdirSync(o.parent, { recursive: true });
  cpSync(join(REPO, 'terraform'), join(o.parent, 'terraform'), { recursive: true, filter: skip });
  cpSync(join(REPO, 'policies'), join(o.parent, 'policies'), { recursive: true });
  const dir = join(o.parent, 'terraform');
  if (o.vars) writeFileSync(join(dir, 'terraform.tfvars.json'), JSON.stringify(o.vars, null, 2));
  // A clean environment: the developer's TF_*/VAULT_* settings must not leak in. TF_CLI_CONFIG_FILE
  // is set explicitly because the ambient one may point at a file that does not exist.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '', HOME: o.parent, LANG: 'C.UTF-8',
    TF_CLI_CONFIG_FILE: t.cliConfig, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1',
    VAULT_ADDR: o.address, VAULT_TOKEN: o.token,
  };
  const run = (args: string[], ro: { cwd?: string; timeoutMs?: number } = {}) => new Promise<TofuResult>((resolve, reject) => {
    const child = spawn(t.bin, args, { cwd: ro.cwd ?? dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), ro.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }); });
  });
  const must = async (args: string[], ro?: { cwd?: string; timeoutMs?: number }) => {
    const r = await run(args, ro);
    if (r.code !== 0) throw new Error(`tofu ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-4000)}`);
    return r;
  };
  return {
    dir, run, must,
    outputs: async () => {
      const r = await must(['output', '-json', '-no-color']);
      return Object.fromEntries(Object.entries(JSON.parse(r.stdout) as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
    },
  };
}
