// SIGINT / SIGTERM / SIGHUP during a fleet run: remove local key material (the verification key
// and its certificate) and control sockets at once, then end the run with 128 + signal. The
// device side needs nothing from us: its own trap or watchdog restarts the supervisor.
import { FleetvaultError } from '../errors.js';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export interface InterruptGuard {
  /** Rejects when a signal arrives; race the run against it. */
  interrupted: Promise<never>;
  /** The signal received, if any (workers stop starting new steps). */
  signal(): NodeJS.Signals | undefined;
  dispose(): void;
}

export function guardInterrupts(cleanup: () => void, what: string): InterruptGuard {
  let received: NodeJS.Signals | undefined;
  let reject: (e: Error) => void = () => {};
  const interrupted = new Promise<never>((_, r) => { reject = r; });
  interrupted.catch(() => {});
  const safeCleanup = () => { try { cleanup(); } catch { /* best effort on the way out */ } };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, () => {
    received = s;
    safeCleanup();
    reject(new FleetvaultError(`${what} interrupted by ${s}; devices finished so far are in the journal, re-run to resume`, { exitCode: SIGNAL_EXIT[s] ?? 1 }));
  }] as const);
  for (const [s, h] of handlers) process.on(s, h);
  process.once('exit', safeCleanup);
  return {
    interrupted,
    signal: () => received,
    dispose: () => {
      for (const [s, h] of handlers) process.removeListener(s, h);
      process.removeListener('exit', safeCleanup);
    },
  };
}
