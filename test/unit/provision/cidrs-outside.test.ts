import { describe, expect, it } from 'vitest';
import { cidrsOutside } from '../../../src/provision/cidr.js';

describe('cidrsOutside (a batch\'s --cidr against the factory ranges)', () => {
  it('keeps what lies inside one range, names what does not', () => {
    const factory = ['127.0.0.0/8', '203.0.113.0/24', '2001:db8::/32'];
    expect(cidrsOutside(['127.0.0.1/32', '127.1.0.0/16', '203.0.113.128/25', '2001:db8:1::/48'], factory)).toEqual([]);
    expect(cidrsOutside(['10.0.0.0/8', '127.0.0.0/7', '203.0.112.0/23', '2001:db9::/32', '::1/128'], factory))
      .toEqual(['10.0.0.0/8', '127.0.0.0/7', '203.0.112.0/23', '2001:db9::/32', '::1/128']);
  });
  it('a range spanning two adjacent factory ranges is outside (Vault wants one range holding it)', () => {
    expect(cidrsOutside(['10.0.0.0/24'], ['10.0.0.0/25', '10.0.0.128/25'])).toEqual(['10.0.0.0/24']);
  });
  it('bare addresses are /32; no factory ranges restrict nothing; IPv4-in-IPv6 is refused, not crashed on', () => {
    expect(cidrsOutside(['127.0.0.1'], ['127.0.0.1'])).toEqual([]);
    expect(cidrsOutside(['10.0.0.0/8'], [])).toEqual([]);
    expect(cidrsOutside(['::ffff:127.0.0.1/128'], ['127.0.0.0/8'])).toEqual(['::ffff:127.0.0.1/128']);
  });
});
