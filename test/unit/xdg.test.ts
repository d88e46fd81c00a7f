// One XDG rule for config, state, cache and the agent markers: absolute values are used, relative
// ones are ignored (XDG spec) instead of landing fleetvault's files in the current directory.
import { expect, test } from 'vitest';
import { xdgBaseDir, xdgRuntimeDir } from '../../src/xdg.js';
import { configDir } from '../../src/config.js';
import { devStateDir } from '../../src/dev/state.js';
import { fleetvaultStateDir } from '../../src/ca/targets.js';
import { signingCacheDir } from '../../src/vault/signing-cache.js';

test('absolute XDG values are used, relative ones fall back to HOME', () => {
  expect(xdgBaseDir('XDG_CONFIG_HOME', { HOME: '/h', XDG_CONFIG_HOME: '/x/c' })).toBe('/x/c');
  expect(xdgBaseDir('XDG_STATE_HOME', { HOME: '/h', XDG_STATE_HOME: 'rel' })).toBe('/h/.local/state');
  expect(xdgBaseDir('XDG_CACHE_HOME', { HOME: '/h' })).toBe('/h/.cache');
  expect(xdgRuntimeDir({ XDG_RUNTIME_DIR: 'run' })).toBeUndefined();
  expect(xdgRuntimeDir({ XDG_RUNTIME_DIR: '/run/user/0' })).toBe('/run/user/0');
  const rel = { HOME: '/h', XDG_CONFIG_HOME: 'c', XDG_STATE_HOME: 's', XDG_CACHE_HOME: 'k' };
  expect(configDir(rel)).toBe('/h/.config/fleetvault');
  expect(devStateDir(rel)).toBe('/h/.local/state/fleetvault/dev');
  expect(fleetvaultStateDir(rel)).toBe('/h/.local/state/fleetvault');
  expect(signingCacheDir(rel)).toBe('/h/.cache/fleetvault/signing');
});
