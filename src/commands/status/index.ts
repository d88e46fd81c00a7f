import { configFrom, render, type GlobalArgs, type Command } from '../common.js';

export const statusCommand: Command = {
  command: 'status',
  describe: 'which Vault fleetvault talks to (and why), whether it answers, whether the token works',
  builder: (y) => y.example('$0 status', 'context, address and its source, server version, token').example('$0 status --context prod --json', '')
    .epilogue('Exit codes: 0 the server answers and is unsealed · 2 unreachable or sealed. A missing or rejected token is reported, not an error.'),
  handler: async (argv: GlobalArgs) => {
    const config = await configFrom(argv);
    const { clientFromSettings } = await import('../../vault/connect.js');
    const { serverStatus } = await import('../../auth/session.js');
    const { formatDuration } = await import('../../config.js');
    const s = await serverStatus({ client: clientFromSettings(config, { retries: 0 }), config });
    render(argv, s, () => {
      const t = s.token;
      const token = t.source === null
        ? (config.tokenElsewhere ? `none for this server (the token in ${config.tokenFile} is for ${config.tokenElsewhere}; run fleetvault login)` : 'none (run fleetvault login)')
        : t.valid === true ? `${t.displayName || '(no display name)'}, ttl ${t.ttlSeconds === 0 ? 'never expires' : formatDuration(t.ttlSeconds ?? 0)} (from ${t.source})`
          : t.valid === false ? `rejected (from ${t.source}): ${t.error}` : `not checked (from ${t.source})`;
      return [
        `context:  ${s.context ?? '(none)'}`,
        `address:  ${s.address} (from ${s.addressSource})${s.namespace ? `, namespace ${s.namespace}` : ''}`,
        `server:   ${s.reachable ? `${s.version}${s.sealed ? ', SEALED' : ''}${s.standby ? ', standby' : ''}` : `unreachable: ${s.error}`}`,
        `token:    ${token}`,
      ].join('\n');
    });
    if (!s.reachable || s.sealed) {
      const { VaultError } = await import('../../errors.js');
      // Already rendered; the error line says why the exit code is 2.
      throw new VaultError(s.reachable ? `Vault at ${s.address} is sealed` : `cannot reach Vault at ${s.address}`, { path: 'sys/health', hint: s.reachable ? 'unseal it' : `check the address (from ${s.addressSource}) and that the server runs` });
    }
  },
};
