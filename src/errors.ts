// One error model for the whole tool. Library code throws these; only src/cli.ts turns them into
// an exit code and one line on stderr. Anything else that escapes is a bug and is reported as such.

export const EXIT_OK = 0;
export const EXIT_LOCAL = 1;
export const EXIT_REMOTE = 2;

export class FleetvaultError extends Error {
  readonly exitCode: number;
  /** What the user can do next; printed after the message. */
  readonly hint?: string;
  constructor(message: string, opts: { exitCode: number; hint?: string; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode;
    this.hint = opts.hint;
  }
}

/** Bad flags, bad files, bad input: the user can fix it locally. Exit 1. */
export class UsageError extends FleetvaultError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: EXIT_LOCAL });
  }
}

/** Vault refused or could not be reached. Exit 2. Carries the HTTP status and the API path. */
export class VaultError extends FleetvaultError {
  readonly status?: number;
  readonly path: string;
  readonly errors: string[];
  constructor(
    message: string,
    opts: { path: string; status?: number; errors?: string[]; hint?: string; cause?: unknown },
  ) {
    super(message, { exitCode: EXIT_REMOTE, hint: opts.hint, cause: opts.cause });
    this.path = opts.path;
    this.status = opts.status;
    this.errors = opts.errors ?? [];
  }
}

/** A device (sshd, balena API) refused or could not be reached. Exit 2. */
export class DeviceError extends FleetvaultError {
  readonly device?: string;
  constructor(message: string, opts: { device?: string; hint?: string; cause?: unknown } = {}) {
    super(message, { exitCode: EXIT_REMOTE, hint: opts.hint, cause: opts.cause });
    this.device = opts.device;
  }
}

export const EXIT_DRIFT = 3;

/** `init --dry-run` found the server different from the layout: exit 3, so it can gate CI. */
export class DriftFound extends FleetvaultError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super(message, { exitCode: EXIT_DRIFT, hint: opts.hint });
  }
}

/**
 * Not an error to report: a child's exit status to pass through (`fleetvault ssh` returns ssh's
 * own status). Printed as nothing; only the exit code matters.
 */
export class PassThroughExit extends FleetvaultError {
  constructor(exitCode: number) {
    super('', { exitCode });
  }
}

/**
 * Prefix a lower-level error with what we were doing: "failed to <verb> <subject>: <cause>".
 * Keeps the class (and so the exit code) of the original.
 */
export function failedTo(what: string, err: unknown): Error {
  if (err instanceof VaultError) {
    return new VaultError(`failed to ${what}: ${err.message}`, {
      path: err.path, status: err.status, errors: err.errors, hint: err.hint, cause: err,
    });
  }
  if (err instanceof DeviceError) {
    return new DeviceError(`failed to ${what}: ${err.message}`, { device: err.device, hint: err.hint, cause: err });
  }
  if (err instanceof UsageError) {
    return new UsageError(`failed to ${what}: ${err.message}`, { hint: err.hint, cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Replace terminal control characters so hostile strings (key ids, log fields) cannot drive the
 * terminal; and the invisible ones (zero-width, bidi overrides and isolates, BOM) so they cannot
 * make one name read as another ("Trojan Source").
 */
export function escapeControl(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The single line printed for an error. Stack traces only when FLEETVAULT_DEBUG=1. */
export function formatError(err: unknown, debug = false): string {
  if (err instanceof PassThroughExit) return '';
  if (debug && err instanceof Error && err.stack) return err.stack;
  if (err instanceof FleetvaultError) {
    const line = err.hint ? `${err.message} (${err.hint})` : err.message;
    return `fleetvault: ${escapeControl(line)}`;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return `fleetvault: unexpected error: ${escapeControl(msg)} (rerun with FLEETVAULT_DEBUG=1 and report it)`;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof FleetvaultError ? err.exitCode : EXIT_LOCAL;
}
