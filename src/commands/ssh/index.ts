import { render, vaultFrom, note, type GlobalArgs, type Command } from '../common.js';

interface SshArgs extends GlobalArgs {
  device: string; host?: string; port?: number; user?: string; ttl?: string; reason?: string;
  strictHostKeyChecking?: 'yes' | 'no' | 'ask' | 'accept-new'; userKnownHostsFile?: string; agent?: boolean;
  balenaUrl?: string; '--'?: (string | number)[];
}

export const sshCommand: Command = {
  command: 'ssh <device>',
  describe: 'log into a device with a fresh short-lived certificate (exit status is ssh\'s own)',
  builder: (y) => y
    .positional('device', { type: 'string', describe: 'balena UUID (full or short), or an address' })
    .option('host', { type: 'string', describe: 'connect to this address, without asking the balena API (offline devices)' })
    .option('port', { type: 'number', describe: 'SSH port', defaultDescription: '22222' })
    .option('user', { type: 'string', describe: 'device user (the certificate principal)', defaultDescription: 'root' })
    .option('ttl', { type: 'string', describe: 'certificate validity', defaultDescription: 'the role\'s ttl (30m)' })
    .option('reason', { type: 'string', describe: 'why you need access; recorded in the Vault audit log' })
    .option('strict-host-key-checking', { type: 'string', choices: ['yes', 'no', 'ask', 'accept-new'], describe: 'passed to ssh' })
    .option('user-known-hosts-file', { type: 'string', describe: 'passed to ssh' })
    .option('agent', { type: 'boolean', describe: 'keep the key+certificate in ssh-agent for the certificate\'s lifetime; reuse it while valid' })
    .option('balena-url', { type: 'string', describe: 'balena API URL for device lookup', defaultDescription: 'https://api.balena-cloud.com' })
    .example('$0 ssh 7f3a2b1 --reason "INC-42 wifi"', 'look the device up in balena, log in as root for 30 minutes')
    .example('$0 ssh mydevice --host 10.0.3.17', 'offline: connect straight to the address')
    .example('$0 ssh 10.0.3.17 -- cat /mnt/boot/config.json', 'run one command; exit status is the command\'s')
    .epilogue('Exit status: ssh\'s own (255 when ssh itself fails); 1 for usage errors, 2 when Vault refuses before ssh runs.'),
  handler: async (argv: SshArgs) => {
    const { durationToSeconds } = await import('../../config.js');
    const { resolveDevice } = await import('../../ssh/resolve-device.js');
    const { runSshSession } = await import('../../ssh/session.js');
    const { PassThroughExit } = await import('../../errors.js');
    const ttlSeconds = argv.ttl === undefined ? undefined : durationToSeconds(argv.ttl, 'ttl');
    const command = (argv['--'] ?? []).map(String);
    const { config, client } = await vaultFrom(argv);
    const device = await resolveDevice({ device: argv.device, host: argv.host, balenaApiUrl: argv.balenaUrl, balenaToken: process.env.BALENA_TOKEN });
    const r = await runSshSession({
      client, mount: config.sshMount, role: config.sshRole, host: device.host, port: argv.port ?? 22222, user: argv.user ?? 'root',
      ttlSeconds, reason: argv.reason, strictHostKeyChecking: argv.strictHostKeyChecking, userKnownHostsFile: argv.userKnownHostsFile,
      agent: argv.agent, command,
    });
    if (r.diagnosis) note(`fleetvault: ${r.diagnosis}`);
    if (argv.json) render(argv, { exitCode: r.exitCode, host: device.host, via: device.via, serial: r.serial, reusedAgentCertificate: r.reusedAgentCertificate, diagnosis: r.diagnosis }, () => '');
    if (r.exitCode !== 0) throw new PassThroughExit(r.exitCode);
  },
};
