/**
 * Stop signals for long-running commands: SIGINT (Ctrl-C), SIGTERM (`timeout`, `scancel`, a job
 * time limit, CI cancellation) and SIGHUP (a closed terminal or ssh session) all abort the work
 * through one AbortSignal, so the command can record the running point as interrupted, keep its
 * results, stop what it started and exit with 128 + the signal's number.
 *
 * @module
 */

/** The signals that stop a command gracefully. */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** One of {@linkcode STOP_SIGNALS}. */
export type StopSignal = typeof STOP_SIGNALS[number];

const NUMBERS: Record<StopSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * Listens for the stop signals while it is not disposed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StopSignals } from "./stop_signals.ts";
 * using stop = new StopSignals();
 * assert(!stop.signal.aborted && stop.exitCode === undefined);
 * ```
 */
export class StopSignals implements Disposable {
  /** The signal received first, if any. */
  received?: StopSignal;
  #controller = new AbortController();
  #handlers: [StopSignal, () => void][] = [];

  /** @param onSignal Called for every stop signal received (e.g. to print a line). */
  constructor(onSignal?: (signal: StopSignal, first: boolean) => void) {
    for (const name of STOP_SIGNALS) {
      const handler = () => {
        const first = this.received === undefined;
        this.received ??= name;
        onSignal?.(name, first);
        this.#controller.abort(new Error(`interrupted by ${name}`));
      };
      Deno.addSignalListener(name, handler);
      this.#handlers.push([name, handler]);
    }
  }

  /** Aborted at the first stop signal. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** 128 + the signal's number once one arrived (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP). */
  get exitCode(): number | undefined {
    return this.received === undefined ? undefined : 128 + NUMBERS[this.received];
  }

  [Symbol.dispose](): void {
    for (const [name, handler] of this.#handlers) Deno.removeSignalListener(name, handler);
    this.#handlers = [];
  }
}
