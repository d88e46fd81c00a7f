import { UsageError } from '../errors.js';
import { validatePrincipal } from './principals.js';

function quote(s: string): string {
  if (/["\\\n]/.test(s)) throw new UsageError(`cannot quote ${JSON.stringify(s)} for ssh_config`);
  return `"${s}"`;
}

/** The ssh_config block `fleetvault ssh-config` prints. */
export function sshConfigSnippet(o: { hosts: string[]; port: number; user: string; node: string; cli: string }): string {
  for (const h of o.hosts) if (!/^[A-Za-z0-9.*?!_:\-[\]]+$/.test(h)) throw new UsageError(`invalid host pattern ${JSON.stringify(h)}`);
  // The user is the certificate principal ssh-proxy asks for: the one principal policy applies.
  validatePrincipal(o.user);
  return [
    '# fleetvault: short-lived certificates from Vault for balenaOS devices (fleetvault ssh-config).',
    '# The ProxyCommand puts a valid certificate into ssh-agent (signing one when needed) and relays',
    '# the connection; ssh then logs in with it. Needs a running ssh-agent and VAULT_ADDR/VAULT_TOKEN',
    '# (or `fleetvault login`) in the environment. <uuid>.balena goes through balena\'s tunnel with',
    '# BALENA_TOKEN or your `balena login` (FLEETVAULT_BALENA_TUNNEL / BALENARC_BALENA_URL elsewhere).',
    `Host ${o.hosts.join(' ')}`,
    `  User ${o.user}`,
    `  Port ${o.port}`,
    `  ProxyCommand ${quote(o.node)} ${quote(o.cli)} ssh-proxy --user %r %h %p`,
    '',
  ].join('\n');
}
