// Reading a secret (token, password) the only safe ways: from the terminal without echo, or from
// a pipe. Never argv (world-readable in /proc) and never an env dump.
import { UsageError } from '../errors.js';

export interface KeystrokeState {
  value: string;
  done: boolean;
  cancelled: boolean;
}

/**
 * Apply raw-mode keystrokes to the hidden input: Enter ends, Ctrl-C / Ctrl-D (on an empty line)
 * cancel, Backspace/DEL erase, Ctrl-U clears, other control characters and escape sequences
 * (arrow keys) are ignored rather than becoming part of the secret.
 */
export function applyKeystrokes(state: KeystrokeState, chunk: string): KeystrokeState {
  let { value } = state;
  for (let i = 0; i < chunk.length; i++) {
    const ch = chunk[i]!;
    if (ch === '\r' || ch === '\n') return { value, done: true, cancelled: false };
    if (ch === '\u0003') return { value: '', done: true, cancelled: true };
    if (ch === '\u0004') {
      if (value === '') return { value: '', done: true, cancelled: true };
      return { value, done: true, cancelled: false };
    }
    if (ch === '\u007f' || ch === '\b') { value = [...value].slice(0, -1).join(''); continue; }
    if (ch === '\u0015') { value = ''; continue; }
    if (ch === '\u001b') {
      // CSI / SS3 sequences: ESC [ params final, ESC O x.
      if (chunk[i + 1] === '[') { i += 2; while (i < chunk.length && !/[@-~]/.test(chunk[i]!)) i++; }
      else if (chunk[i + 1] === 'O') i += 2;
      continue;
    }
    if (ch < ' ') continue;
    value += ch;
  }
  return { value, done: false, cancelled: false };
}

/** The first line of a pipe, without its line ending. Extra lines are ignored. */
export function firstLine(text: string): string {
  const nl = text.search(/\r?\n/);
  return nl === -1 ? text : text.slice(0, nl);
}

export interface ReadSecretOptions {
  /** Shown on the TTY (stderr) only. */
  prompt: string;
  /** What is being read, for errors ("token", "password"). */
  what: string;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
}

/** Read a secret: hidden on a TTY, the first line when piped. */
export async function readSecret(o: ReadSecretOptions): Promise<string> {
  const input = o.input ?? process.stdin;
  const output = o.output ?? process.stderr;
  const value = input.isTTY ? await readHidden(input, output, o.prompt) : firstLine(await readAll(input, 64 * 1024, o.what));
  if (value === '') throw new UsageError(`no ${o.what} given`, { hint: input.isTTY ? 'type it at the prompt' : `pipe the ${o.what} on stdin` });
  return value;
}

/** A visible answer (a username) from the TTY, or the first line of a pipe. */
export async function readLine(o: ReadSecretOptions): Promise<string> {
  const input = o.input ?? process.stdin;
  const output = o.output ?? process.stderr;
  if (!input.isTTY) return firstLine(await readAll(input, 4096, o.what)).trim();
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question(o.prompt, (a) => resolve(a.trim())));
  } finally {
    rl.close();
  }
}

function readAll(input: NodeJS.ReadStream, maxBytes: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    input.on('data', (d: Buffer | string) => {
      const b = typeof d === 'string' ? Buffer.from(d) : d;
      size += b.length;
      if (size > maxBytes) {
        input.destroy();
        reject(new UsageError(`failed to read the ${what} from stdin: more than ${maxBytes} bytes`));
        return;
      }
      chunks.push(b);
    });
    input.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    input.once('error', (e) => reject(new UsageError(`failed to read the ${what} from stdin: ${e.message}`)));
  });
}

function readHidden(input: NodeJS.ReadStream, output: NodeJS.WriteStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    output.write(prompt);
    // Raw mode: the terminal stops echoing and hands us each keystroke (Ctrl-C included).
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.resume();
    let state: KeystrokeState = { value: '', done: false, cancelled: false };
    const finish = () => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      output.write('\n');
    };
    const onData = (chunk: string) => {
      state = applyKeystrokes(state, chunk);
      if (!state.done) return;
      finish();
      if (state.cancelled) reject(new UsageError('login cancelled'));
      else resolve(state.value);
    };
    input.on('data', onData);
  });
}
