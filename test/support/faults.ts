// Helpers shared by the fault and load tests: a bounded worker pool and audit-log counting.
import { readFileSync } from 'node:fs';
import type { VaultClient } from '../../src/vault/client.js';

/** Run fn over items with at most `width` in flight; results in input order. */
export async function pool<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}

interface AuditEntry { type?: string; error?: string; request?: { path?: string; data?: Record<string, unknown> }; response?: { data?: Record<string, unknown> } }

/** Successful transit decrypt responses in an audit log, as HMAC'd ciphertext → count. */
export function decryptsByCiphertext(auditLog: string, transitMount: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (!line.includes('/decrypt/')) continue;
    let e: AuditEntry;
    try { e = JSON.parse(line) as AuditEntry; } catch { continue; } // a line torn by SIGKILL
    if (e.type !== 'response' || e.error || !e.request?.path?.startsWith(`${transitMount}/decrypt/`)) continue;
    if (e.response?.data?.error || e.response?.data?.plaintext === undefined) continue;
    const ct = String(e.request.data?.ciphertext);
    counts.set(ct, (counts.get(ct) ?? 0) + 1);
  }
  return counts;
}

/** The audit log's HMAC of a value (sys/audit-hash), to match HMAC'd request fields. */
export async function auditHash(root: VaultClient, device: string, input: string): Promise<string> {
  const r = (await root.write(`sys/audit-hash/${device}`, { input }, { idempotent: true })) as unknown as { hash?: string; data?: { hash?: string } };
  const h = r.data?.hash ?? r.hash;
  if (!h) throw new Error('sys/audit-hash returned no hash');
  return h;
}
