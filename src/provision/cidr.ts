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

/**
 * The ranges of `inner` that do not lie inside a single range of `outer` (both validated CIDR
 * lists; an empty `outer` restricts nothing). What Vault checks for a secret_id's cidr_list against
 * its role ("failed to verify subset relationship"), said before anything is written.
 */
export function cidrsOutside(inner: string[], outer: string[]): string[] {
  if (outer.length === 0) return [];
  const blocks = validateCidrs(outer).map((c) => cidrSet([c])!);
  return validateCidrs(inner).filter((c) => {
    const ends = rangeEnds(c);
    // CIDR blocks nest or are disjoint: a block holding both ends holds the whole range.
    return !ends || !blocks.some((b) => b.contains(ends[0]) && b.contains(ends[1]));
  });
}

/** First and last address of a CIDR; undefined for a form this does not expand (IPv4-in-IPv6). */
function rangeEnds(cidr: string): [string, string] | undefined {
  const [ip, bitsText] = cidr.split('/') as [string, string];
  const bits = Number(bitsText);
  if (isIP(ip) === 4) {
    const n = ip.split('.').reduce((a, b) => (a << 8n) | BigInt(Number(b)), 0n);
    const host = (1n << BigInt(32 - bits)) - 1n;
    const lo = n & ~host & 0xffffffffn;
    const fmt = (v: bigint) => [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
    return [fmt(lo), fmt(lo | host)];
  }
  if (ip.includes('.')) return undefined;
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...(ip.includes('::') ? Array(8 - h.length - t.length).fill('0') : []), ...t];
  const n = BigInt('0x' + groups.map((g) => g.padStart(4, '0')).join(''));
  const host = (1n << BigInt(128 - bits)) - 1n;
  const lo = n & ~host & ((1n << 128n) - 1n);
  const fmt = (v: bigint) => v.toString(16).padStart(32, '0').match(/.{4}/g)!.join(':');
  return [fmt(lo), fmt(lo | host)];
}
