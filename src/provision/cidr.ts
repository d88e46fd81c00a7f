import { isIP } from 'node:net';
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
