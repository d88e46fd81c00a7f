// Where the device-side programs of the simulated balenaOS device live (systemctl,
// balena-supervisor, fatrw, sync, systemd-run, nss-ato.c). They are shell scripts and C, not
// TypeScript, so tsc does not emit them: in a checkout they are read from src/dev/balenaos/files,
// in the npm package from dist/balenaos-files (scripts/build-device.mjs copies them there). The
// CLI bundle, the tsc output and vitest's src/ each sit at another depth, so the package root is
// the fixed point, not this module's own directory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../package-root.js';

export interface DeviceFiles {
  /** systemctl, balena-supervisor, sync, systemd-run: first on the device's PATH. */
  bin: string;
  /** fatrw alone, so a device "without fatrw" leaves just this directory off its PATH. */
  fatrw: string;
  /** The libnss-ato shim's source, compiled on the machine that runs the device. */
  nssAtoSource: string;
}

let cached: DeviceFiles | undefined;

export function deviceFiles(): DeviceFiles {
  if (cached) return cached;
  const root = packageRoot();
  const dir = [join(root, 'src', 'dev', 'balenaos', 'files'), join(root, 'dist', 'balenaos-files')]
    .find((d) => existsSync(join(d, 'bin', 'systemctl')));
  if (!dir) throw new Error(`the simulated balenaOS device's programs are missing under ${root} (src/dev/balenaos/files or dist/balenaos-files): rebuild fleetvault`);
  return (cached = { bin: join(dir, 'bin'), fatrw: join(dir, 'fatrw'), nssAtoSource: join(dir, 'nss-ato.c') });
}
