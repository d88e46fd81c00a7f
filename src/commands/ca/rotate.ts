import { fleetAccess, fleetOptions, fleetTargets, type FleetArgs } from './fleet-options.js';
import { render, vaultFrom, note, type GlobalArgs, type Command } from '../common.js';

interface Args extends FleetArgs {
  action?: 'status' | 'abort';
  stage?: string; fleet?: string; devices?: string; port?: number; configPath?: string; identity?: string; concurrency?: number;
  canary?: number; maxFailures?: number; dryRun?: boolean; journal?: string; strictHostKeyChecking?: 'yes' | 'accept-new';
  userKnownHostsFile?: string; principals?: string[]; verifyTimeout?: string; balenaUrl?: string; strategy?: string;
  allowPartial?: boolean; deleteOldIssuer?: boolean; verifySample?: number; newRotation?: boolean; ignorePendingIssuer?: boolean; force?: boolean; scoped?: boolean;
}

export const caRotateCommand: Command = {
  command: 'rotate [action]',
  describe: 'replace the SSH CA in stages: prepare a new CA, distribute it, switch signing, retire the old one',
  builder: (y) => fleetOptions(y)
    .positional('action', { type: 'string', choices: ['status', 'abort'], describe: 'status (read-only) or abort (undo before the switch)' })
    .option('stage', { type: 'string', choices: ['prepare', 'distribute', 'switch', 'retire', 'all'], describe: 'run one stage (the next pending one) or all pending stages in order', defaultDescription: 'all' })
    .option('canary', { type: 'number', describe: 'fleet stages: do this many devices first; stop if any fails', defaultDescription: '0' })
    .option('max-failures', { type: 'number', describe: 'fleet stages: abort once more than this % of devices failed', defaultDescription: '100' })
    .option('dry-run', { type: 'boolean', describe: 'plan the next pending stage; write nothing (Vault, devices, journal)' })
    .option('journal', { type: 'string', describe: 'rotation journal (JSON); per-device journals sit next to it', defaultDescription: '~/.local/state/fleetvault/rotate-<mount>@<cluster id>.json' })
    .option('strategy', { type: 'string', choices: ['auto', 'issuer', 'mount'], describe: 'issuer: a new OpenBao issuer on the same mount; mount: a new SSH mount <mount>-<yyyymmdd>', defaultDescription: 'auto' })
    .option('allow-partial', { type: 'boolean', describe: 'switch even if some devices do not trust the new CA (they lose certificate access)' })
    .option('delete-old-issuer', { type: 'boolean', describe: 'retire: delete the old OpenBao issuer once no device trusts it' })
    .option('verify-sample', { type: 'number', describe: 'switch: log into at most this many devices with a new-CA certificate', defaultDescription: 'all' })
    .option('new-rotation', { type: 'boolean', describe: 'start another rotation when the journal records a completed one' })
    .option('ignore-pending-issuer', { type: 'boolean', describe: 'prepare even though Vault holds a pending rotation issuer no local journal knows (a rotation started elsewhere)' })
    .option('force', { type: 'boolean', describe: 'abort: delete the new CA from Vault even if some devices could not be cleaned (they keep a harmless line of a deleted CA)' })
    .option('principals', { type: 'string', array: true, describe: 'principals of the new CA line', defaultDescription: 'root' })
    .option('scoped', { type: 'boolean', describe: 'the new CA line names each device\'s principals device-<uuid>,fleet-<org>.<fleet>,break-glass; kept in the journal for every later stage; needs fleet grants' })
    .conflicts('scoped', 'principals')
    .option('verify-timeout', { type: 'string', describe: 'how long to retry a verification login', defaultDescription: '20s' })
    .example('$0 ca rotate --devices fleet.txt --identity ~/.ssh/id_ed25519', 'run every pending stage; re-run after a failure to resume')
    .example('$0 ca rotate --stage prepare --devices fleet.txt', 'only create the new CA')
    .example('$0 ca rotate --stage distribute --devices fleet.txt --dry-run', 'which devices would get the new CA line')
    .example('$0 ca rotate --stage retire --devices fleet.txt --delete-old-issuer', 'remove the old CA line, then the old issuer')
    .example('$0 ca rotate status --devices fleet.txt', 'which stage, which devices are done, old and new CA; changes nothing')
    .example('$0 ca rotate abort --devices fleet.txt --identity ~/.ssh/id_ed25519', 'before the switch: remove the new CA line from devices and the new CA from Vault')
    .epilogue('Journals are kept per Vault server (sys/health cluster_id) and mount; a journal of another server is refused. Exit status: 0 when every stage run completed (or there was nothing to do); 2 when a stage (or an abort) stopped (a device failed, coverage below 100%, verification failed, Vault refused) — the next run resumes there; 1 for usage errors, and for an abort after the switch (it cannot be undone: finish with --stage retire).'),
  handler: async (argv: Args) => {
    const { UsageError, PassThroughExit } = await import('../../errors.js');
    const { rolloutPaths } = await import('../../ca/targets.js');
    const { resolveRotationJournal } = await import('../../ca/rotate.js');
    const { knownHosts } = rolloutPaths({ caFingerprint: '', knownHosts: argv.userKnownHostsFile });
    const access = await fleetAccess(argv, knownHosts);

    if (argv.force && argv.action !== 'abort') throw new UsageError('--force is for ca rotate abort only');
    if (argv.action === 'status') {
      if (argv.stage || argv.dryRun) throw new UsageError('ca rotate status takes no --stage or --dry-run: it never changes anything');
      // Status needs no token: sys/health and <mount>/public_key are unauthenticated.
      const { configFrom } = await import('../common.js');
      const { clientFromSettings } = await import('../../vault/connect.js');
      const config = await configFrom(argv);
      const client = clientFromSettings(config);
      const devices = argv.fleet || argv.devices ? await fleetTargets(argv) : undefined;
      const { journalPath, server } = await resolveRotationJournal({ client, mount: config.sshMount, journal: argv.journal });
      const { rotationStatus, renderRotationStatus } = await import('../../ca/rotate-status.js');
      const report = await rotationStatus({ client, mount: config.sshMount, journalPath, server, devices });
      render(argv, report, () => renderRotationStatus(report));
      return;
    }

    const { config, client } = await vaultFrom(argv);
    const { progressBar } = await import('../progress.js');
    if (argv.action === 'abort') {
      if (argv.stage || argv.dryRun) throw new UsageError('ca rotate abort takes no --stage or --dry-run; see what it would undo with fleetvault ca rotate status');
      const devices = argv.fleet || argv.devices ? await fleetTargets(argv) : [];
      const { journalPath, server } = await resolveRotationJournal({ client, mount: config.sshMount, journal: argv.journal });
      const { abortRotation, renderAbortReport } = await import('../../ca/rotate-abort.js');
      const bar = devices.length ? progressBar('abort') : undefined;
      const report = await abortRotation({ client, mount: config.sshMount, journalPath, server, devices, access, concurrency: argv.concurrency, force: argv.force, onProgress: (p) => bar?.update(p) });
      bar?.done();
      render(argv, report, () => renderAbortReport(report));
      if (argv.json) for (const n of report.notes) note(`fleetvault: ${n}`);
      if (!report.complete) throw new PassThroughExit(2);
      return;
    }

    const { durationToSeconds } = await import('../../config.js');
    const { validatePrincipals } = await import('../../ssh/principals.js');
    if (argv.verifySample !== undefined && !(Number.isInteger(argv.verifySample) && argv.verifySample >= 1)) throw new UsageError('--verify-sample must be a whole number ≥ 1');
    const principals = validatePrincipals(argv.principals ?? ['root']);
    (await import('../../ca/scoped.js')).refuseScopedPrincipals(principals, 'ca rotate');
    const verifyTimeoutMs = argv.verifyTimeout ? durationToSeconds(argv.verifyTimeout) * 1000 : undefined;
    const devices = await fleetTargets(argv);
    const { journalPath, server } = await resolveRotationJournal({ client, mount: config.sshMount, journal: argv.journal });
    const { rotateCa, renderRotateReport } = await import('../../ca/rotate.js');
    let bar: ReturnType<typeof progressBar> | undefined;
    let barStage = '';
    const report = await rotateCa({
      client, mount: config.sshMount, role: config.sshRole, devices, journalPath, server, access,
      stage: (argv.stage ?? 'all') as 'all', strategy: (argv.strategy ?? 'auto') as 'auto', principals, scoped: argv.scoped,
      concurrency: argv.concurrency, canary: argv.canary, maxFailuresPercent: argv.maxFailures, verifyTimeoutMs, dryRun: argv.dryRun,
      allowPartial: argv.allowPartial, deleteOldIssuer: argv.deleteOldIssuer, verifySample: argv.verifySample, newRotation: argv.newRotation, ignorePendingIssuer: argv.ignorePendingIssuer,
      onProgress: (stage, p) => {
        if (stage !== barStage) { bar?.done(); bar = progressBar(stage); barStage = stage; }
        bar!.update(p);
      },
    });
    bar?.done();
    render(argv, report, () => renderRotateReport(report));
    if (argv.json) for (const n of report.notes) note(`fleetvault: ${n}`);
    if (report.stages.some((s) => s.status === 'failed')) throw new PassThroughExit(2);
  },
};
