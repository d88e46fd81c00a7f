import { fleetAccess, fleetOptions, fleetTargets, type FleetArgs } from './fleet-options.js';
import { render, vaultFrom, note, type GlobalArgs, type Command } from '../common.js';

interface Args extends FleetArgs {
  stage?: string; fleet?: string; devices?: string; port?: number; configPath?: string; identity?: string; concurrency?: number;
  canary?: number; maxFailures?: number; dryRun?: boolean; journal?: string; strictHostKeyChecking?: 'yes' | 'accept-new';
  userKnownHostsFile?: string; principals?: string[]; verifyTimeout?: string; balenaUrl?: string; strategy?: string;
  allowPartial?: boolean; deleteOldIssuer?: boolean; verifySample?: number; newRotation?: boolean;
}

export const caRotateCommand: Command = {
  command: 'rotate',
  describe: 'replace the SSH CA in stages: prepare a new CA, distribute it, switch signing, retire the old one',
  builder: (y) => fleetOptions(y)
    .option('stage', { type: 'string', choices: ['prepare', 'distribute', 'switch', 'retire', 'all'], describe: 'run one stage (the next pending one) or all pending stages in order', defaultDescription: 'all' })
    .option('canary', { type: 'number', describe: 'fleet stages: do this many devices first; stop if any fails', defaultDescription: '0' })
    .option('max-failures', { type: 'number', describe: 'fleet stages: abort once more than this % of devices failed', defaultDescription: '100' })
    .option('dry-run', { type: 'boolean', describe: 'plan the next pending stage; write nothing (Vault, devices, journal)' })
    .option('journal', { type: 'string', describe: 'rotation journal (JSON); per-device journals sit next to it', defaultDescription: '~/.local/state/fleetvault/rotate-<mount>.json' })
    .option('strategy', { type: 'string', choices: ['auto', 'issuer', 'mount'], describe: 'issuer: a new OpenBao issuer on the same mount; mount: a new SSH mount <mount>-<yyyymmdd>', defaultDescription: 'auto' })
    .option('allow-partial', { type: 'boolean', describe: 'switch even if some devices do not trust the new CA (they lose certificate access)' })
    .option('delete-old-issuer', { type: 'boolean', describe: 'retire: delete the old OpenBao issuer once no device trusts it' })
    .option('verify-sample', { type: 'number', describe: 'switch: log into at most this many devices with a new-CA certificate', defaultDescription: 'all' })
    .option('new-rotation', { type: 'boolean', describe: 'start another rotation when the journal records a completed one' })
    .option('principals', { type: 'string', array: true, describe: 'principals of the new CA line', defaultDescription: 'root' })
    .option('verify-timeout', { type: 'string', describe: 'how long to retry a verification login', defaultDescription: '20s' })
    .example('$0 ca rotate --devices fleet.txt --identity ~/.ssh/id_ed25519', 'run every pending stage; re-run after a failure to resume')
    .example('$0 ca rotate --stage prepare --devices fleet.txt', 'only create the new CA')
    .example('$0 ca rotate --stage distribute --devices fleet.txt --dry-run', 'which devices would get the new CA line')
    .example('$0 ca rotate --stage retire --devices fleet.txt --delete-old-issuer', 'remove the old CA line, then the old issuer')
    .epilogue('Exit status: 0 when every stage run completed (or there was nothing to do); 2 when a stage stopped (a device failed, coverage below 100%, verification failed) — the next run resumes there; 1 for usage errors.'),
  handler: async (argv: Args) => {
    const { UsageError, PassThroughExit } = await import('../../errors.js');
    const { durationToSeconds } = await import('../../config.js');
    const { validatePrincipals } = await import('../../ssh/principals.js');
    const { rolloutPaths } = await import('../../ca/targets.js');
    if (argv.verifySample !== undefined && !(Number.isInteger(argv.verifySample) && argv.verifySample >= 1)) throw new UsageError('--verify-sample must be a whole number ≥ 1');
    const principals = validatePrincipals(argv.principals ?? ['root']);
    const verifyTimeoutMs = argv.verifyTimeout ? durationToSeconds(argv.verifyTimeout) * 1000 : undefined;
    const devices = await fleetTargets(argv);
    const { config, client } = await vaultFrom(argv);
    const { defaultRotationJournal, findRotationByNewMount } = await import('../../ca/rotate-journal.js');
    const { existsSync } = await import('node:fs');
    let journal = argv.journal;
    if (!journal) {
      journal = defaultRotationJournal(config.sshMount);
      // After a mount-strategy switch the operator exports the new mount: find the rotation it belongs to.
      if (!existsSync(journal)) journal = findRotationByNewMount(config.sshMount) ?? journal;
    }
    const { knownHosts } = rolloutPaths({ caFingerprint: '', knownHosts: argv.userKnownHostsFile });
    const { rotateCa, renderRotateReport } = await import('../../ca/rotate.js');
    const { progressBar } = await import('../progress.js');
    let bar: ReturnType<typeof progressBar> | undefined;
    let barStage = '';
    const report = await rotateCa({
      client, mount: config.sshMount, role: config.sshRole, devices, journalPath: journal,
      access: await fleetAccess(argv, knownHosts),
      stage: (argv.stage ?? 'all') as 'all', strategy: (argv.strategy ?? 'auto') as 'auto', principals,
      concurrency: argv.concurrency, canary: argv.canary, maxFailuresPercent: argv.maxFailures, verifyTimeoutMs, dryRun: argv.dryRun,
      allowPartial: argv.allowPartial, deleteOldIssuer: argv.deleteOldIssuer, verifySample: argv.verifySample, newRotation: argv.newRotation,
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
