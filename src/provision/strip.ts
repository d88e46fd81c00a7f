// Remove the provisioning `apiKey` a registered device no longer needs. Once config.json holds a
// deviceApiKey the device authenticates with that alone; a leftover provisioning key is what lets
// anyone who copies the image register (paid) devices into the fleet.
import { UsageError } from '../errors.js';

export interface StripResult {
  config: Record<string, unknown>;
  removed: boolean;
}

export function stripProvisioningKey(config: Record<string, unknown>, source = 'config.json'): StripResult {
  const deviceKey = config.deviceApiKey;
  if (typeof deviceKey !== 'string' || deviceKey === '') {
    throw new UsageError(`failed to strip ${source}: it has no deviceApiKey yet`, {
      hint: 'the provisioning apiKey is still needed to register this device; strip after it registered',
    });
  }
  if (!('apiKey' in config)) return { config, removed: false };
  const { apiKey: _drop, ...rest } = config;
  return { config: rest, removed: true };
}
