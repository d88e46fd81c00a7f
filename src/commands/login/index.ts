import { configFrom, note, render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs {
  method?: string;
  username?: string;
  path?: string;
  role?: string;
  store?: boolean;
  listen?: string;
  callbackPort?: number;
  callbackTimeout?: string;
  browser?: boolean;
}

const METHODS = ['token', 'userpass', 'oidc'] as const;

export const loginCommand: Command = {
  command: 'login',
  describe: 'log in to Vault and store the token in ~/.vault-token (like vault login)',
  builder: (y) => y
    .option('method', { type: 'string', choices: METHODS, defaultDescription: 'token', describe: 'how to authenticate' })
    .option('username', { type: 'string', describe: 'userpass: the user name (prompted on a TTY when absent)' })
    .option('path', { type: 'string', describe: 'auth mount path', defaultDescription: 'the method name (userpass, oidc)' })
    .option('role', { type: 'string', describe: 'oidc: the Vault role', defaultDescription: 'the mount\'s default_role' })
    .option('store', { type: 'boolean', defaultDescription: 'true', describe: 'write the token to ~/.vault-token (--no-store: only verify; the token is printed only with --json)' })
    .option('listen', { type: 'string', group: 'OIDC:', defaultDescription: '127.0.0.1:8250', describe: 'oidc: where the browser callback listens (port 0: any free port)' })
    .option('callback-port', { type: 'number', group: 'OIDC:', defaultDescription: 'the listening port', describe: 'oidc: port written into redirect_uri (behind a port forward)' })
    .option('callback-timeout', { type: 'string', group: 'OIDC:', defaultDescription: '2m', describe: 'oidc: how long to wait for the browser' })
    .option('browser', { type: 'boolean', group: 'OIDC:', defaultDescription: 'true', describe: 'oidc: open a browser (--no-browser or FLEETVAULT_NO_BROWSER=1 only prints the URL)' })
    .example('$0 login < token.txt', 'verify a token from a file and store it')
    .example('$0 login --method userpass --username alice', 'asks for the password without echo')
    .example('$0 login --method oidc --role engineer', 'signs in through the browser')
    .example('$0 login --method oidc --no-store --json', 'prints {…, token} instead of storing it')
    .epilogue('The token and password are read from the terminal without echo or from stdin when piped, never from arguments.\nExit codes: 0 logged in · 1 bad flags, no token/password given, cannot write ~/.vault-token · 2 Vault or the identity provider refused, or timed out.'),
  handler: async (argv: Args) => {
    const config = await configFrom(argv);
    // The context remembers how to log in to its server: `fleetvault login` alone does it again.
    const method = (argv.method ?? config.authMethod ?? 'token') as (typeof METHODS)[number];
    if (argv.path === undefined && argv.method === undefined && config.authPath) argv.path = config.authPath;
    const { clientFromSettings } = await import('../../vault/connect.js');
    // Anonymous on purpose: whatever token the environment holds must not sway the login.
    const client = clientFromSettings({ ...config, token: undefined });
    const { readSecret, readLine } = await import('../../auth/secret-input.js');
    let result;
    if (method === 'token') {
      const token = await readSecret({ prompt: 'Token (will be hidden): ', what: 'token' });
      const { loginWithToken } = await import('../../auth/login.js');
      result = await loginWithToken({ client, token });
    } else if (method === 'userpass') {
      const { loginWithUserpass, validateUsername } = await import('../../auth/login.js');
      let username = argv.username;
      if (username === undefined) {
        const { UsageError } = await import('../../errors.js');
        if (!process.stdin.isTTY) throw new UsageError('--username is required when stdin is not a terminal', { hint: 'or set FLEETVAULT_USERNAME' });
        username = await readLine({ prompt: 'Username: ', what: 'username' });
      }
      validateUsername(username);
      const password = await readSecret({ prompt: `Password for ${username} (will be hidden): `, what: 'password' });
      result = await loginWithUserpass({ client, mount: argv.path, username, password });
    } else {
      const { loginWithOidc, parseListenAddress, DEFAULT_OIDC_LISTEN, DEFAULT_OIDC_TIMEOUT_MS } = await import('../../auth/oidc.js');
      const { durationToSeconds } = await import('../../config.js');
      const listen = argv.listen === undefined ? DEFAULT_OIDC_LISTEN : parseListenAddress(argv.listen);
      const timeoutMs = argv.callbackTimeout === undefined ? DEFAULT_OIDC_TIMEOUT_MS : durationToSeconds(argv.callbackTimeout, 'callback-timeout') * 1000;
      const openIt = argv.browser ?? !['1', 'true', 'yes'].includes((process.env.FLEETVAULT_NO_BROWSER ?? '').toLowerCase());
      result = await loginWithOidc({
        client, mount: argv.path, role: argv.role, listen, callbackPort: argv.callbackPort, timeoutMs,
        onAuthUrl: async (url) => {
          let opened = false;
          if (openIt) opened = (await import('../../auth/browser.js')).openBrowser(url);
          // Always printed: headless boxes and SSH sessions copy it into a browser elsewhere.
          // One note() per line: note() escapes control characters, newlines included.
          for (const line of [opened ? 'Opening your browser to sign in; if it does not open, visit:' : 'Sign in by opening this URL in a browser:', '', `    ${url}`, '', 'Waiting for the OIDC callback…']) note(line);
        },
        onNotice: (m) => note(`fleetvault: ${m}`),
      });
    }

    let stored: string | undefined;
    let context: string | undefined;
    if (argv.store !== false) {
      const { storeToken } = await import('../../auth/token-store.js');
      // Remember the server (and how we logged in) so a new shell talks to it, not the default.
      const { rememberLogin } = await import('../../contexts.js');
      let tokenFile = config.tokenFile;
      try {
        const remembered = rememberLogin({ config, method, authPath: argv.path });
        context = remembered.context;
        tokenFile = remembered.tokenFile;
      } catch (e) {
        // The login itself worked: keep the token where it always went, and say what was not saved.
        note(`fleetvault: note: the server was not remembered (${e instanceof Error ? e.message : String(e)}); set VAULT_ADDR in new shells`);
      }
      stored = storeToken({ path: tokenFile, token: result.token });
      // The file now holds this server's token: it is never to be sent to another one.
      const { recordTokenServer } = await import('../../token-servers.js');
      try {
        recordTokenServer({ path: stored, address: config.address, token: result.token });
      } catch (e) {
        note(`fleetvault: note: could not record which server ${stored} is for (${e instanceof Error ? e.message : String(e)}); check that the config directory is writable`);
      }
      if (config.tokenSource && config.tokenSource !== config.tokenFile) {
        note(`fleetvault: note: ${config.tokenSource} is set and takes precedence over ${stored}; unset it to use this login`);
      }
    }
    const { formatDuration, addressOrigin } = await import('../../config.js');
    const ttl = result.ttlSeconds === 0 ? 'never expires' : formatDuration(result.ttlSeconds);
    const { token, ...info } = result;
    render(argv, { ...info, storedIn: stored ?? null, context: context ?? null, ...(stored ? {} : { token }) }, () => [
      `logged in to ${config.address}${context ? ` (context ${context})` : ` ${addressOrigin(config)}`} as ${result.displayName || '(no display name)'} (${result.method})`,
      `policies: ${result.policies.join(', ') || '(none)'}`,
      `token ttl: ${ttl}${result.renewable ? ', renewable' : ''}`,
      stored ? `token stored in ${stored}` : 'token not stored (--no-store); use --json to receive it',
    ].join('\n'));
  },
};
