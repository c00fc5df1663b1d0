import type { Micros } from "./lib/time";

/** The one source of "now". Services and orchestration take a Clock so tests can drive time. */
export interface Clock {
  now(): Micros;
}

/**
 * Wall clock with microsecond resolution that never goes backwards within the
 * process, so consecutive state timestamps of one run stay ordered.
 */
export class SystemClock implements Clock {
  private last = 0;
  private readonly originMicros = Date.now() * 1000 - Math.round(performance.now() * 1000);

  now(): Micros {
    const t = this.originMicros + Math.round(performance.now() * 1000);
    this.last = t > this.last ? t : this.last + 1;
    return this.last;
  }
}

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  constructor(private current: Micros) {}
  now(): Micros {
    return this.current;
  }
  set(value: Micros): void {
    this.current = value;
  }
  advance(micros: Micros): void {
    this.current += micros;
  }
}
