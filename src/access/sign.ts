// The client asks for the narrowest scope it needs: one device, one fleet, or break-glass (with a
// reason). Vault decides: the scope's role signs only its principal, and only tokens whose identity
// groups hold the scope's grant may use it. A refusal names the grant that is missing.
import { UsageError, VaultError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { signUserKey, type SignedCertificate } from '../ssh/sign.js';
import { describeScope, scopePrincipal, type Scope } from './principals.js';

export interface SignScopedOptions {
  client: VaultClient;
  mount: string;
  scope: Scope;
  publicKey: string;
  ttlSeconds?: number;
  permitPty?: boolean;
  permitPortForwarding?: boolean;
  reason?: string;
  /** --from: narrow the certificate to these source CIDRs (refused on scopes whose grant binds them). */
  sourceAddress?: string;
}

/** The grant command an administrator would run to let someone ask for this scope. */
export function grantCommandFor(scope: Scope): string {
  const target = scope.kind === 'device' ? `--device ${scope.uuid}` : scope.kind === 'fleet' ? `--fleet ${scope.slug}` : '--break-glass';
  return `fleetvault access grant ${target} --group <your group>`;
}

/** Break-glass is signed only with a reason (the policy demands one too: this makes it clearer). */
export function requireBreakGlassReason(scope: Scope, reason: string | undefined): void {
  if (scope.kind === 'break-glass' && !reason?.trim()) {
    throw new UsageError('--break-glass needs --reason', { hint: 'say why, e.g. --reason "INC-123 fleet offline"; it is recorded in the audit log' });
  }
}

/** Sign `publicKey` for exactly the scope's principal with the scope's role. */
export async function signScoped(o: SignScopedOptions): Promise<SignedCertificate & { principal: string }> {
  const principal = scopePrincipal(o.scope);
  requireBreakGlassReason(o.scope, o.reason);
  try {
    const signed = await signUserKey({
      client: o.client, mount: o.mount, role: principal, publicKey: o.publicKey, principals: [principal],
      ttlSeconds: o.ttlSeconds, permitPty: o.permitPty, permitPortForwarding: o.permitPortForwarding, reason: o.reason, sourceAddress: o.sourceAddress,
    });
    return { ...signed, principal };
  } catch (e) {
    // 403: the token's policies do not reach sign/<principal>; 404: nobody was ever granted it.
    if (e instanceof VaultError && e.status === 403 && o.sourceAddress) {
      throw new VaultError(`failed to sign a certificate for ${describeScope(o.scope)} from ${o.sourceAddress}: no grant for principal ${principal}, or its grant binds source addresses itself`, {
        path: e.path, status: e.status, errors: e.errors, hint: `retry without --from; if still refused, ask an administrator: ${grantCommandFor(o.scope)}`,
      });
    }
    if (e instanceof VaultError && (e.status === 403 || e.status === 404)) {
      throw new VaultError(`failed to sign a certificate for ${describeScope(o.scope)}: your Vault identity has no grant for principal ${principal}`, {
        path: e.path, status: e.status, errors: e.errors, hint: `ask an administrator: ${grantCommandFor(o.scope)}`,
      });
    }
    throw e;
  }
}
