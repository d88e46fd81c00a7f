// ca status: is a device's line of the current CA scoped (its own principals only) or unscoped?
import { describe, expect, it } from 'vitest';
import { classifyCaScope, classifyDeviceScope, refuseScopedPrincipals, requireScopedTargets, scopedPrincipalsFor } from '../../../src/ca/scoped.js';

const U = '0123456789abcdef0123456789abcdef';
const t = { fleet: 'acme/a', uuid: U };
const mine = `device-${U},fleet-acme.a,break-glass`;

describe('classifyCaScope', () => {
  const cur = (principals?: string) => ({ fingerprint: 'SHA256:cur', principals });

  it('is undefined when the device does not trust the CA', () => {
    expect(classifyCaScope([{ fingerprint: 'SHA256:other', principals: mine }], 'SHA256:cur', t)).toBeUndefined();
  });

  it('scoped: exactly the device\'s principals, in any order', () => {
    expect(classifyCaScope([cur(mine)], 'SHA256:cur', t)).toBe('scoped');
    expect(classifyCaScope([cur(`break-glass,fleet-acme.a,device-${U}`)], 'SHA256:cur', t)).toBe('scoped');
  });

  it('unscoped: root, another fleet, extra principals, no principals', () => {
    for (const p of ['root', `device-${U},fleet-acme.b,break-glass`, `${mine},root`, undefined, '']) {
      expect(classifyCaScope([cur(p)], 'SHA256:cur', t), String(p)).toBe('unscoped');
    }
  });

  it('unscoped while a root line of the CA remains next to the scoped one (mid-migration)', () => {
    expect(classifyCaScope([cur('root'), cur(mine)], 'SHA256:cur', t)).toBe('unscoped');
  });

  it('without a known fleet/uuid: scoped when it names device-/fleet- principals only', () => {
    expect(classifyCaScope([cur(mine)], 'SHA256:cur', {})).toBe('scoped');
    expect(classifyCaScope([cur('fleet-acme.a')], 'SHA256:cur', {})).toBe('scoped');
    expect(classifyCaScope([cur('break-glass')], 'SHA256:cur', {})).toBe('unscoped');
    expect(classifyCaScope([cur('root,fleet-acme.a')], 'SHA256:cur', {})).toBe('unscoped');
  });
});

describe('requireScopedTargets', () => {
  const d = (name: string, o: object = {}) => ({ name, host: 'h', port: 22, configPath: '/c', ...o });

  it('passes when every device has fleet and uuid', () => {
    expect(() => requireScopedTargets([d('a', t)], 'ca rollout')).not.toThrow();
    expect(scopedPrincipalsFor(t)).toEqual(mine.split(','));
  });

  it('refuses in one line with how many lack them', () => {
    expect(() => requireScopedTargets([d('a', t), d('b'), d('c', { fleet: 'acme/a' })], 'ca rollout'))
      .toThrow(/^ca rollout --scoped: 2 of 3 device\(s\) have no known fleet and uuid \(first: b\); no device was touched$/);
  });
});

describe('classifyDeviceScope (review #14 R7)', () => {
  const cur = { fingerprint: 'SHA256:cur', principals: mine };

  it('a device trusting an old or foreign CA for root is not scoped, and says why', () => {
    expect(classifyDeviceScope([cur, { fingerprint: 'SHA256:old', principals: 'root' }], 'SHA256:cur', t))
      .toEqual({ scope: 'unscoped', why: 'also trusts CA SHA256:old for unscoped principals' });
  });

  it('scoped when every CA it trusts is scoped; undefined without the current CA', () => {
    expect(classifyDeviceScope([cur, { fingerprint: 'SHA256:old', principals: mine }], 'SHA256:cur', t)).toEqual({ scope: 'scoped' });
    expect(classifyDeviceScope([{ fingerprint: 'SHA256:old', principals: 'root' }], 'SHA256:cur', t)).toEqual({});
    expect(classifyDeviceScope([{ fingerprint: 'SHA256:cur', principals: 'root' }], 'SHA256:cur', t).scope).toBe('unscoped');
  });
});

describe('refuseScopedPrincipals (review #14b)', () => {
  it('refuses device-, fleet- and break-glass names in --principals, pointing to --scoped; plain users pass', () => {
    for (const p of [`device-${U}`, 'fleet-acme.b', 'break-glass']) {
      expect(() => refuseScopedPrincipals(['root', p], 'ca rollout')).toThrow(new RegExp(`^ca rollout --principals ${p} refused: .*nothing was changed$`));
    }
    expect(() => refuseScopedPrincipals(['root', 'admin', 'devicex'], 'ca rollout')).not.toThrow();
  });
});
