// The XDG base directories, one rule for every fleetvault file: $XDG_<KIND> when it is absolute,
// else the spec's default under HOME. A relative value is invalid (XDG base directory spec: ignore
// it); taken as it is, it would put state, keys or caches in whatever directory a command runs in.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

type Env = Record<string, string | undefined>;
const DEFAULTS = { XDG_CONFIG_HOME: ['.config'], XDG_STATE_HOME: ['.local', 'state'], XDG_CACHE_HOME: ['.cache'] } as const;

export function xdgBaseDir(kind: keyof typeof DEFAULTS, env: Env = process.env): string {
  const v = env[kind];
  return v && isAbsolute(v) ? v : join(env.HOME || homedir(), ...DEFAULTS[kind]);
}

/** $XDG_RUNTIME_DIR when set and absolute; it has no default. */
export function xdgRuntimeDir(env: Env = process.env): string | undefined {
  const v = env.XDG_RUNTIME_DIR;
  return v && isAbsolute(v) ? v : undefined;
}
