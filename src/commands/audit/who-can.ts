import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { target: string; fleet?: string }

export const auditWhoCanCommand: Command = {
  command: 'who-can <target>',
  describe: 'list the grants that reach a device (uuid) or a fleet (org/fleet), break-glass included',
  builder: (y) => y
    .positional('target', { type: 'string', describe: 'a balena device uuid or a fleet slug org/fleet' })
    .option('fleet', { type: 'string', describe: 'the device\'s fleet, so fleet grants are included' })
    .example('$0 audit who-can 0123456789abcdef0123456789abcdef --fleet acme/sensors', '')
    .example('$0 audit who-can acme/sensors --json', ''),
  handler: async (argv: Args) => {
    const { UsageError } = await import('../../errors.js');
    const { normalizeFleetSlug, normalizeUuid, describeScope } = await import('../../access/principals.js');
    const { single } = await import('../access/scope-flags.js');
    argv.fleet = await single(argv.fleet, 'fleet');
    const isFleet = argv.target.includes('/');
    if (isFleet && argv.fleet !== undefined) throw new UsageError('--fleet is for a device target; the target is already a fleet');
    const device = isFleet ? undefined : normalizeUuid(argv.target);
    const fleet = isFleet ? normalizeFleetSlug(argv.target) : argv.fleet === undefined ? undefined : normalizeFleetSlug(argv.fleet);
    const { config, client } = await vaultFrom(argv);
    const { whoCan } = await import('../../access/who-can.js');
    const grants = await whoCan({ client, layout: config, device, fleet });
    render(argv, grants, () => (grants.length === 0 ? 'no grant reaches it' : grants.map((g) =>
      `${describeScope(g.scope)}\tgroups: ${g.groups.join(',') || '-'}\tentities: ${g.entities.join(',') || '-'}${g.sourceCidrs.length ? `\tfrom ${g.sourceCidrs.join(',')}` : ''}`).join('\n'))
      + (isFleet ? '\n(device grants inside the fleet are listed per device: fleetvault audit who-can <uuid> --fleet SLUG)' : ''));
  },
};
