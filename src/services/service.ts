/**
 * Background services are small objects with a `tick(now)` that does one pass of
 * work. Tests call `tick` directly with a chosen time; `PeriodicService` runs the
 * same tick on a `setInterval` loop inside the server process. A service that must
 * run on one replica at a time is `ledBy` a leadership (src/services/placement.ts):
 * the loop asks it before every pass, and `tick` itself never does.
 */
import type { Clock } from "../clock";
import type { Leadership } from "../db/leadership";
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
  private leadership: Leadership | null = null;
  /** What the last pass found: null before the first. */
  private leading: boolean | null = null;

  constructor(
    protected readonly clock: Clock,
    protected readonly logger: Logger,
    /** Seconds between ticks. */
    private readonly intervalSeconds: number,
  ) {}

  abstract tick(now: Micros): Promise<void>;

  /**
   * What a pass does on a replica that does not lead the service: nothing, unless part of
   * the service's work belongs to every replica (e.g. the events only this replica received).
   */
  protected standbyTick(_now: Micros): Promise<void> {
    return Promise.resolve();
  }

  /** From now on a pass ticks only while this process leads the service, and runs `standbyTick` otherwise. */
  ledBy(leadership: Leadership): void {
    this.leadership = leadership;
  }

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

  /**
   * One pass of the loop (tests call it instead of waiting for the timer). One at a time: a
   * slow pass is not overlapped by the next one.
   */
  async runOnce(): Promise<void> {
    if (this.running) return;
    this.running = this.pass()
      .catch((error) => this.logger.error(`${this.name} failed`, error))
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }

  private async pass(): Promise<void> {
    const leads = this.leadership === null || (await this.leadership.isLeader(this.name));
    if (leads !== this.leading) this.reportLeadership(leads);
    const now = this.clock.now();
    await (leads ? this.tick(now) : this.standbyTick(now));
  }

  /** A change of leader is worth a line; a process that leads from its first pass (any lone server) says nothing. */
  private reportLeadership(leads: boolean): void {
    if (this.leading !== null || !leads) {
      this.logger.info(leads ? `${this.name}: this replica took over as leader` : `${this.name}: standing by, another replica leads (or the database is unreachable)`);
    }
    this.leading = leads;
  }
}
