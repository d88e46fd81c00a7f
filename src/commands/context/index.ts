import { render, type GlobalArgs, type Command } from '../common.js';

interface AddArgs extends GlobalArgs { name: string; method?: 'token' | 'userpass' | 'oidc'; authPath?: string; use?: boolean }
interface NameArgs extends GlobalArgs { name: string }

const contextListCommand: Command = {
  command: 'list',
  describe: 'list the contexts in the config file; * marks the current one',
  builder: (y) => y.example('$0 context list', '* prod     https://vault.example.com:8200'),
  handler: async (argv: GlobalArgs) => {
    const { listContexts } = await import('../../contexts.js');
    const r = listContexts();
    render(argv, r, () => r.contexts.length === 0
      ? `no contexts in ${r.configFile}; add one with fleetvault context add <name> --address URL, or run fleetvault login`
      : r.contexts.map((c) => `${c.current ? '*' : ' '} ${c.name.padEnd(12)} ${c.address}${c.namespace ? `  namespace ${c.namespace}` : ''}${c.authMethod ? `  login ${c.authMethod}` : ''}`).join('\n'));
  },
};

const contextUseCommand: Command = {
  command: 'use <name>',
  describe: 'make a context the current one (for every new shell)',
  builder: (y) => y.positional('name', { type: 'string', describe: 'context name' }).example('$0 context use staging', ''),
  handler: async (argv: NameArgs) => {
    const { useContext } = await import('../../contexts.js');
    const r = useContext({ name: argv.name });
    render(argv, r, () => `current context: ${r.context.name} (${r.context.address})`);
  },
};

const contextAddCommand: Command = {
  command: 'add <name>',
  describe: 'add a context, or update the settings given of an existing one',
  builder: (y) => y
    .positional('name', { type: 'string', describe: 'context name (letters, digits, - _ .)' })
    .option('method', { type: 'string', choices: ['token', 'userpass', 'oidc'] as const, describe: 'how `fleetvault login` authenticates here' })
    .option('auth-path', { type: 'string', describe: 'auth mount for userpass/oidc', defaultDescription: 'the method name' })
    .option('use', { type: 'boolean', describe: 'also make it the current context' })
    .example('$0 context add prod --address https://vault.example.com:8200 --method oidc --use', '')
    .example('$0 context add staging --address https://vault.staging:8200 --namespace fleet --ssh-mount ssh', 'mounts are shared flags')
    .epilogue('Stored: address, --namespace, --ca-cert, --tls-skip-verify, the layout flags (--ssh-mount, …) and the login method. Never a token: each context\'s token is kept by `fleetvault login` in its own 0600 file.'),
  handler: async (argv: AddArgs) => {
    const { addContext } = await import('../../contexts.js');
    const r = addContext({
      name: argv.name, use: argv.use,
      settings: {
        address: argv.address, namespace: argv.namespace, caCert: argv.caCert, tlsSkipVerify: argv.tlsSkipVerify,
        authMethod: argv.method, authPath: argv.authPath,
        sshMount: argv.sshMount, sshRole: argv.sshRole, transitMount: argv.transitMount, transitKey: argv.transitKey,
        approleMount: argv.approleMount, approleRole: argv.approleRole, kvMount: argv.kvMount, policyPrefix: argv.policyPrefix,
      },
    });
    render(argv, r, () => [
      `${r.created ? 'added' : 'updated'} context ${r.context.name} (${r.context.address})${r.context.current ? ', current' : ''} in ${r.configFile}`,
      ...(r.tokenDropped ? [`the address changed: the token for the old server (${r.tokenDropped}) is no longer used here; run fleetvault --context ${r.context.name} login`] : []),
    ].join('\n'));
  },
};

const contextRemoveCommand: Command = {
  command: 'remove <name>',
  describe: 'remove a context and the token fleetvault stored for it',
  builder: (y) => y.positional('name', { type: 'string', describe: 'context name' }).example('$0 context remove staging', ''),
  handler: async (argv: NameArgs) => {
    const { removeContext } = await import('../../contexts.js');
    const r = removeContext({ name: argv.name });
    render(argv, r, () => `removed context ${r.removed} from ${r.configFile}`);
  },
};

export const contextCommand: Command = {
  command: 'context',
  describe: 'named Vault servers (staging, prod, …) in the config file, and which one is current',
  builder: (y) => y
    .command(contextListCommand).command(contextUseCommand).command(contextAddCommand).command(contextRemoveCommand)
    .demandCommand(1, 'name a context command: list, use, add or remove')
    .epilogue('The config file is $XDG_CONFIG_HOME/fleetvault/config.json (~/.config/fleetvault/config.json), mode 0600. Every setting resolves as: flag > environment (FLEETVAULT_*, VAULT_*, BAO_*) > context > default; --context / FLEETVAULT_CONTEXT pick a context for one command.'),
  handler: () => {},
};
