import { BlockList, isIP } from 'node:net';
import { UsageError } from '../errors.js';

/** Factory ranges: IPv4/IPv6 CIDRs, validated before Vault sees them. A bare address becomes /32 (/128). */
export function validateCidrs(list: string[]): string[] {
  if (list.length === 0) throw new UsageError('at least one --cidr is required');
  return list.flatMap((s) => s.split(',')).map((raw) => {
    const c = raw.trim();
    const [ip, bits, extra] = c.split('/');
    const fam = isIP(ip ?? '');
    const max = fam === 4 ? 32 : 128;
    if (!fam || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > max))) {
      throw new UsageError(`invalid CIDR "${c}"`, { hint: 'expected e.g. 203.0.113.0/24' });
    }
    return bits === undefined ? `${ip}/${max}` : c;
  });
}

/** A set of CIDR ranges an address can be tested against (factory ranges in audit reports). */
export interface CidrSet {
  /** False for a missing address: an unknown source is never "inside". */
  contains(address: string | undefined): boolean;
}

/** Ranges validated by validateCidrs; undefined when the list is empty (no restriction known). */
export function cidrSet(cidrs: string[]): CidrSet | undefined {
  if (cidrs.length === 0) return undefined;
  const blocks = new BlockList();
  for (const c of validateCidrs(cidrs)) {
    const [ip, bits] = c.split('/');
    blocks.addSubnet(ip!, Number(bits), isIP(ip!) === 6 ? 'ipv6' : 'ipv4');
  }
  return {
    contains: (address) => {
      const fam = isIP(address ?? '');
      return !!address && fam !== 0 && blocks.check(address, fam === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
