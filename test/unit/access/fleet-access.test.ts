// `init --fleet-access FILE`: the terraform fleet_access shape, every entry checked before any write.
import { describe, expect, it } from 'vitest';
import { parseFleetAccess } from '../../../src/access/fleet-access.js';
import { UsageError } from '../../../src/errors.js';

describe('parseFleetAccess', () => {
  it('reads fleet, device and break-glass entries', () => {
    expect(parseFleetAccess(JSON.stringify([
      { fleet: 'Acme/Sensors', groups: ['acme-oncall'], source_cidrs: ['10.0.0.0/8'] },
      { device: 'AB'.repeat(16), groups: ['g'], max_ttl: 900 },
      { break_glass: true, groups: ['security'] },
    ]), 'f.json')).toEqual([
      { scope: { kind: 'fleet', slug: 'acme/sensors' }, groups: ['acme-oncall'], maxTtlSeconds: undefined, sourceCidrs: ['10.0.0.0/8'] },
      { scope: { kind: 'device', uuid: 'ab'.repeat(16) }, groups: ['g'], maxTtlSeconds: 900, sourceCidrs: undefined },
      { scope: { kind: 'break-glass' }, groups: ['security'], maxTtlSeconds: undefined, sourceCidrs: undefined },
    ]);
  });

  it('refuses anything else with one line naming the entry', () => {
    const bad: unknown[] = [
      '{', {}, [{ groups: ['g'] }], [{ fleet: 'a/b', device: 'ab'.repeat(16), groups: ['g'] }], [{ fleet: 'a/b,c', groups: ['g'] }],
      [{ fleet: 'a/b', groups: [] }], [{ fleet: 'a/b', groups: ['g'], max_ttl: -1 }], [{ fleet: 'a/b', groups: ['g'], extra: 1 }],
      [{ device: 'nope', groups: ['g'] }], [{ fleet: 'a/b', groups: ['g'], source_cidrs: ['10.0.0.0/33'] }], [{ break_glass: false, groups: ['g'] }],
    ];
    for (const b of bad) {
      const text = typeof b === 'string' ? b : JSON.stringify(b);
      expect(() => parseFleetAccess(text, 'f.json'), text).toThrow(UsageError);
      try { parseFleetAccess(text, 'f.json'); } catch (e) { expect((e as Error).message).not.toContain('\n'); }
    }
  });
});
