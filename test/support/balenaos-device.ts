// The faithful balenaOS device for tests lives in the product now (src/dev/balenaos/device.ts:
// `fleetvault dev --with-device` runs it too). Tests always want libnss-ato (any login name is
// root): a machine without gcc fails the test loudly instead of quietly logging in only root.
import { startBalenaOsDevice as start, type BalenaOsDevice, type BalenaOsDeviceOptions } from '../../src/dev/balenaos/device.js';

export type { BalenaOsDevice, BalenaOsDeviceOptions };

export function startBalenaOsDevice(o: BalenaOsDeviceOptions): Promise<BalenaOsDevice> {
  return start({ nssAto: 'require', ...o });
}
