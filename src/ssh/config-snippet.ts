import { UsageError } from '../errors.js';
import { validatePrincipal } from './principals.js';
import { describeScope, scopePrincipal, type Scope } from '../access/principals.js';

function quote(s: string): string {
  if (/["\\\n]/.test(s)) throw new UsageError(`cannot quote ${JSON.stringify(s)} for ssh_config`);
  return `"${s}"`;
}

/** The ssh_config block `fleetvault ssh-config` prints. */
export function sshConfigSnippet(o: { hosts: string[]; port: number; user: string; node: string; cli: string; scope?: SnippetScope }): string {
  for (const h of o.hosts) if (!/^[A-Za-z0-9.*?!_:\-[\]]+$/.test(h)) throw new UsageError(`invalid host pattern ${JSON.stringify(h)}`);
  // The user is the certificate principal ssh-proxy asks for: the one principal policy applies.
  validatePrincipal(o.user);
  // The scope travels in the ProxyCommand itself: the snippet, not the environment ssh happens to
  // run in, decides which principal plain ssh asks for. Without one the line is what it always was.
  let scopeArgs = '';
  const scopeLines: string[] = [];
  if (o.scope?.kind === 'device') {
    scopeArgs = ' --scope device';
    scopeLines.push('# Scope device: each <uuid>.balena login asks for principal device-<uuid> (needs a grant per device).');
  } else if (o.scope?.kind === 'fleet') {
    // scopePrincipal refuses slugs that would break the principal; the normalized slug is only
    // [a-z0-9._/-]: nothing ssh (%-tokens) or the shell would read.
    const principal = scopePrincipal(o.scope);
    if (!/^[a-z0-9._/-]+$/.test(o.scope.slug)) throw new UsageError(`cannot put fleet ${JSON.stringify(o.scope.slug)} into a ProxyCommand`);
    scopeArgs = ` --scope fleet --fleet ${o.scope.slug}`;
    scopeLines.push(`# Scope ${describeScope(o.scope)}: logins ask for principal ${principal}; it opens only that fleet's devices.`);
  }
  return [
    '# fleetvault: short-lived certificates from Vault for balenaOS devices (fleetvault ssh-config).',
    '# The ProxyCommand puts a valid certificate into ssh-agent (signing one when needed) and relays',
    '# the connection; ssh then logs in with it. Needs a running ssh-agent and VAULT_ADDR/VAULT_TOKEN',
    '# (or `fleetvault login`) in the environment. <uuid>.balena goes through balena\'s tunnel with',
    '# BALENA_TOKEN or your `balena login` (FLEETVAULT_BALENA_TUNNEL / BALENARC_BALENA_URL elsewhere).',
    ...scopeLines,
    `Host ${o.hosts.join(' ')}`,
    `  User ${o.user}`,
    `  Port ${o.port}`,
    `  ProxyCommand ${quote(o.node)} ${quote(o.cli)} ssh-proxy --user %r${scopeArgs} %h %p`,
    '',
  ].join('\n');
}

/** What ssh-config may write: one device per connection (from its host name), or one fleet. */
export type SnippetScope = { kind: 'device' } | Extract<Scope, { kind: 'fleet' }>;
