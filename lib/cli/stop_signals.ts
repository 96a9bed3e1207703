/**
 * Stop signals for long-running commands: SIGINT (Ctrl-C), SIGTERM (`timeout`, `scancel`, a job
 * time limit, CI cancellation) and SIGHUP (a closed terminal or ssh session) all abort the work
 * through one AbortSignal, so the command can record the running point as interrupted, keep its
 * results, stop what it started and exit with 128 + the signal's number. `npx deno task X` puts
 * three launcher processes above the command that pass no signal on; when one of them ends (it
 * was sent SIGTERM or SIGHUP, or its terminal went away) the command stops the same way, as if
 * it had received SIGTERM.
 *
 * @module
 */

import { watchProcesses, wrapperAncestors } from "../system/process.ts";

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
 * using stop = new StopSignals(undefined, false);
 * assert(!stop.signal.aborted && stop.exitCode === undefined);
 * ```
 */
export class StopSignals implements Disposable {
  /** The signal received first, if any. */
  received?: StopSignal;
  /** Why the command stops, for messages (e.g. "SIGTERM", "launcher process 123 ended"). */
  reason?: string;
  #controller = new AbortController();
  #handlers: [StopSignal, () => void][] = [];
  #unwatch: () => void;

  /**
   * @param onSignal Called for every stop received (e.g. to print a line).
   * @param watchLaunchers Also stop when a launcher process above this one ends. @default true
   */
  constructor(onSignal?: (reason: string, first: boolean) => void, watchLaunchers = true) {
    const stop = (signal: StopSignal, reason: string) => {
      const first = this.received === undefined;
      this.received ??= signal;
      this.reason ??= reason;
      onSignal?.(reason, first);
      this.#controller.abort(new Error(`interrupted by ${reason}`));
    };
    for (const name of STOP_SIGNALS) {
      const handler = () => stop(name, name);
      Deno.addSignalListener(name, handler);
      this.#handlers.push([name, handler]);
    }
    this.#unwatch = watchLaunchers
      ? watchProcesses(
        wrapperAncestors(),
        (pid) => stop("SIGTERM", `the launcher process ${pid} ended`),
      )
      : () => {};
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
    this.#unwatch();
  }
}
