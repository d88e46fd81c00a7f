import { fleetAccess, fleetOptions, fleetTargets, type FleetArgs } from './fleet-options.js';
import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends FleetArgs {
  fleet?: string; devices?: string; configPath?: string; identity?: string; concurrency?: number; port?: number;
  userKnownHostsFile?: string; balenaUrl?: string;
}

export const caStatusCommand: Command = {
  command: 'status',
  describe: 'which CA fingerprints each device trusts: coverage of the current CA and drift',
  builder: (y) => fleetOptions(y)
    .example('$0 ca status --devices fleet.txt --identity ~/.ssh/id_ed25519', '')
    .epilogue('Exit status: 0 when every device trusts the current CA; 2 otherwise.'),
  handler: async (argv: Args) => {
    const { PassThroughExit, escapeControl } = await import('../../errors.js');
    const { rolloutPaths } = await import('../../ca/targets.js');
    const devices = await fleetTargets(argv);
    const { config, client } = await vaultFrom(argv);
    const { getCaPublicKey } = await import('../../ca/public-key.js');
    const { caStatus } = await import('../../ca/status.js');
    const ca = await getCaPublicKey({ client, mount: config.sshMount });
    const { knownHosts } = rolloutPaths({ caFingerprint: ca.fingerprint, knownHosts: argv.userKnownHostsFile });
    const r = await caStatus({ devices, caFingerprint: ca.fingerprint, access: await fleetAccess(argv, knownHosts), concurrency: argv.concurrency });
    render(argv, r, () => [
      ...r.devices.map((d) => `${d.name.padEnd(20)} ${(d.host + ':' + d.port).padEnd(22)} ${d.reachable ? (d.trustsCurrent ? 'trusts current CA' : 'MISSING current CA') : 'unreachable'}${d.cas.length ? '  [' + d.cas.map((c) => c.fingerprint.slice(0, 19) + (c.fleetvault ? '' : ' (foreign)')).join(', ') + ']' : ''}${d.error ? '  ' + escapeControl(d.error) : ''}`),
      '',
      `${r.trustingCurrent}/${r.total} devices trust ${ca.fingerprint}; ${r.unreachable} unreachable; other CAs: ${Object.entries(r.otherCas).map(([f, n]) => `${f} (${n})`).join(', ') || 'none'}`,
    ].join('\n'));
    if (r.trustingCurrent < r.total) throw new PassThroughExit(2);
  },
};
