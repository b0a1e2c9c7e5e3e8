/**
 * Recounts the dead letters and parked rows PostgreSQL holds and reports them
 * (`deadLetters:counted`, `parked:counted`): at start, and whenever the daemon parked rows,
 * released them, or expired them into dead letters. It runs on its own connection, off the
 * daemon's loop (a query sent on the loop's connection could land inside its open transaction),
 * one recount at a time; requests made while one runs are folded into a single next one.
 */
import type { Logger } from "../observe/logger.js";
import { NO_TABLE } from "../observe/metrics.js";
import type { SyncEvents } from "../observe/sync-events.js";
import { messageOf } from "../errors.js";
import type { TargetStore } from "../sink/target-store.js";

export class BacklogRecount {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly store: Pick<TargetStore, "backlogCounts">,
    private readonly events: SyncEvents,
    private readonly log: Logger,
  ) {}

  /** Asks for a recount; returns at once. */
  request(): void {
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      // A request that came after the loop's last check but before this point.
      if (this.again) this.request();
    });
  }

  /** Waits for the recount in flight (and the one requested behind it), if any. */
  async settled(): Promise<void> {
    for (let running = this.running; running !== undefined; running = this.running) await running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const counts = await this.store.backlogCounts();
        this.events.emit("deadLetters:counted", {
          counts: counts.deadLetters.map((d) => ({
            table: d.table ?? NO_TABLE,
            reason: d.reason,
            count: d.count,
          })),
        });
        this.events.emit("parked:counted", { counts: counts.parked });
      } catch (error) {
        // The gauges keep their last values; the next recount corrects them.
        this.log.warn(
          { error: messageOf(error) },
          "recounting dead letters and parked rows failed",
        );
      }
    } while (this.askedAgain());
  }

  /** A method, not the field: requests change it while the loop awaits. */
  private askedAgain(): boolean {
    return this.again;
  }
}
