/**
 * Background services are small objects with a `tick(now)` that does one pass of
 * work. Tests call `tick` directly with a chosen time; `PeriodicService` runs the
 * same tick on a `setInterval` loop inside the server process.
 */
import type { Clock } from "../clock";
import type { Logger } from "../logger";
import type { Micros } from "../lib/time";

export interface Service {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
  tick(now: Micros): Promise<void>;
}

/** How long after start() a service's first pass runs. */
const FIRST_TICK_DELAY_MS = 100;

export abstract class PeriodicService implements Service {
  abstract readonly name: string;
  private timer: ReturnType<typeof setInterval> | null = null;
  private firstRun: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;

  constructor(
    protected readonly clock: Clock,
    protected readonly logger: Logger,
    /** Seconds between ticks. */
    private readonly intervalSeconds: number,
  ) {}

  abstract tick(now: Micros): Promise<void>;

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.intervalSeconds * 1000);
    // The first pass waits a moment, so that the requests arriving as the server starts are
    // answered before the services' first queries run.
    this.firstRun = setTimeout(() => void this.runOnce(), FIRST_TICK_DELAY_MS);
  }

  /** Stops the loop and waits for an in-flight tick, so shutdown never cuts a write short. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.firstRun) clearTimeout(this.firstRun);
    this.timer = null;
    this.firstRun = null;
    await this.running;
  }

  /** One tick at a time: a slow tick is not overlapped by the next one. */
  private async runOnce(): Promise<void> {
    if (this.running) return;
    this.running = this.tick(this.clock.now())
      .catch((error) => this.logger.error(`${this.name} failed`, error))
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }
}
