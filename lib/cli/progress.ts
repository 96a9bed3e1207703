/**
 * Progress of a sweep: on a terminal one line rewritten in place (point, step, ETA); otherwise a
 * plain line when each point starts.
 *
 * @module
 */

/** Reports sweep progress. */
export class Progress {
  #total: number;
  #done = 0;
  #started = performance.now();
  #tty: boolean;
  #point = "";
  #steps = 0;
  #encoder = new TextEncoder();

  /**
   * @param total Runs in the sweep.
   * @param tty Whether stdout is a terminal. @default Deno.stdout.isTerminal()
   */
  constructor(total: number, tty = Deno.stdout.isTerminal()) {
    this.#total = total;
    this.#tty = tty;
  }

  /**
   * A run starts.
   *
   * @param label The run.
   * @param steps Its steps.
   */
  start(label: string, steps: number): void {
    this.#point = label;
    this.#steps = steps;
    if (!this.#tty) console.log(`[${this.#done + 1}/${this.#total}] ${label}${this.#eta()}`);
    else this.#draw(0);
  }

  /**
   * A step of the current run ended.
   *
   * @param step Its index.
   */
  step(step: number): void {
    if (this.#tty) this.#draw(step + 1);
  }

  /** The current run ended. */
  finish(): void {
    this.#done++;
    if (this.#tty) Deno.stdout.writeSync(this.#encoder.encode("\r\x1b[2K"));
  }

  #draw(step: number): void {
    const line = `[${
      this.#done + 1
    }/${this.#total}] ${this.#point} step ${step}/${this.#steps}${this.#eta()}`;
    Deno.stdout.writeSync(this.#encoder.encode(`\r\x1b[2K${line}`));
  }

  #eta(): string {
    if (this.#done === 0) return "";
    const perRun = (performance.now() - this.#started) / this.#done;
    const seconds = Math.round((perRun * (this.#total - this.#done)) / 1000);
    return `, ETA ${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  }
}
