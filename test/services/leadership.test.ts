/**
 * The loop's leadership gate, on a fake leadership and a manual clock: each pass is driven
 * with `runOnce()`, nothing waits for a timer.
 */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { ManualClock } from "../../src/clock";
import type { Leadership } from "../../src/db/leadership";
import type { Logger } from "../../src/logger";
import type { Micros } from "../../src/lib/time";
import { createServices } from "../../src/services";
import { placeServices, SERVICE_PLACEMENT } from "../../src/services/placement";
import { PeriodicService } from "../../src/services/service";
import { AutomationTriggers } from "../../src/automations/service";
import { createTestApi } from "../support/api";
import { T0 } from "./fixtures";

/** One advisory lock per name, shared by the "replicas" of a test, as PostgreSQL's would be. */
class FakeLocks {
  readonly holders = new Map<string, FakeReplica>();
}

class FakeReplica implements Leadership {
  readonly asked: string[] = [];
  up = true;

  constructor(private readonly locks: FakeLocks) {}

  async isLeader(name: string): Promise<boolean> {
    this.asked.push(name);
    if (!this.up) return false;
    const holder = this.locks.holders.get(name);
    if (holder === undefined) this.locks.holders.set(name, this);
    return (holder ?? this) === this;
  }

  /** The replica's connection dropped: the database releases every lock it held. */
  drop(): void {
    this.up = false;
    for (const [name, holder] of this.locks.holders) if (holder === this) this.locks.holders.delete(name);
  }
}

const quiet: Logger = { debug() {}, info() {}, warning() {}, error() {} };

function recordingLogger() {
  const lines: string[] = [];
  const logger: Logger = { debug() {}, info: (m) => lines.push(`info ${m}`), warning: (m) => lines.push(`warning ${m}`), error: (m) => lines.push(`error ${m}`) };
  return { lines, logger };
}

class Probe extends PeriodicService {
  readonly name = "Probe";
  readonly ticks: Micros[] = [];
  readonly standbyTicks: Micros[] = [];

  async tick(now: Micros): Promise<void> {
    this.ticks.push(now);
  }

  protected override async standbyTick(now: Micros): Promise<void> {
    this.standbyTicks.push(now);
  }
}

describe("PeriodicService under a leadership", () => {
  test("a pass ticks while this replica leads and runs the standby pass otherwise, asking by the service's name", async () => {
    const clock = new ManualClock(T0);
    const locks = new FakeLocks();
    const other = new FakeReplica(locks);
    const mine = new FakeReplica(locks);
    await other.isLeader("Probe");
    const probe = new Probe(clock, quiet, 10);
    probe.ledBy(mine);

    await probe.runOnce();
    expect(probe.ticks).toEqual([]);
    expect(probe.standbyTicks).toEqual([T0]);
    expect(mine.asked).toEqual(["Probe"]);

    other.drop();
    clock.advance(10_000_000);
    await probe.runOnce();
    expect(probe.ticks).toEqual([T0 + 10_000_000]);
    expect(probe.standbyTicks).toEqual([T0]);
  });

  test("without a leadership every pass ticks (the services that run on every replica)", async () => {
    const probe = new Probe(new ManualClock(T0), quiet, 10);
    await probe.runOnce();
    await probe.runOnce();
    expect(probe.ticks).toEqual([T0, T0]);
    expect(probe.standbyTicks).toEqual([]);
  });

  test("three replicas: one ticks per round; when the leader drops, a standby ticks on its next pass; never two", async () => {
    const clock = new ManualClock(T0);
    const locks = new FakeLocks();
    const replicas = [0, 1, 2].map(() => {
      const leadership = new FakeReplica(locks);
      const probe = new Probe(clock, quiet, 5);
      probe.ledBy(leadership);
      return { leadership, probe };
    });
    const tickedIn = async (order: number[]) => {
      const before = replicas.map((r) => r.probe.ticks.length);
      for (const i of order) await replicas[i]!.probe.runOnce();
      return replicas.flatMap((r, i) => (r.probe.ticks.length > before[i]! ? [i] : []));
    };

    expect(await tickedIn([1, 0, 2])).toEqual([1]);
    expect(await tickedIn([0, 2, 1])).toEqual([1]);
    replicas[1]!.leadership.drop();
    expect(await tickedIn([2, 0, 1])).toEqual([2]);
    expect(await tickedIn([0, 1, 2])).toEqual([2]);
    replicas[2]!.leadership.drop();
    expect(await tickedIn([1, 2, 0])).toEqual([0]);
  });

  test("a leader that loses its leadership stops ticking at its next pass", async () => {
    const locks = new FakeLocks();
    const mine = new FakeReplica(locks);
    const probe = new Probe(new ManualClock(T0), quiet, 5);
    probe.ledBy(mine);
    await probe.runOnce();
    mine.drop();
    await probe.runOnce();
    expect(probe.ticks).toHaveLength(1);
    expect(probe.standbyTicks).toHaveLength(1);
  });

  test("a failing leadership check is logged and the pass does nothing; the next pass asks again", async () => {
    const { lines, logger } = recordingLogger();
    let failing = true;
    const flaky: Leadership = {
      isLeader: async () => {
        if (failing) throw new Error("check failed");
        return true;
      },
    };
    const probe = new Probe(new ManualClock(T0), logger, 5);
    probe.ledBy(flaky);
    await probe.runOnce();
    expect(probe.ticks).toEqual([]);
    expect(probe.standbyTicks).toEqual([]);
    expect(lines).toEqual(["error Probe failed"]);
    failing = false;
    await probe.runOnce();
    expect(probe.ticks).toEqual([T0]);
  });

  test("changes of leader are logged; leading from the first pass is not", async () => {
    const { lines, logger } = recordingLogger();
    const locks = new FakeLocks();
    const first = new FakeReplica(locks);
    const second = new FakeReplica(locks);
    const [a, b] = [first, second].map((leadership) => {
      const probe = new Probe(new ManualClock(T0), logger, 5);
      probe.ledBy(leadership);
      return probe;
    });
    await a!.runOnce();
    await a!.runOnce();
    expect(lines).toEqual([]);
    await b!.runOnce();
    expect(lines).toEqual(["info Probe: standing by, another replica leads (or the database is unreachable)"]);
    first.drop();
    await b!.runOnce();
    await a!.runOnce();
    expect(lines.slice(1)).toEqual(["info Probe: this replica took over as leader", "info Probe: standing by, another replica leads (or the database is unreachable)"]);
  });
});

describe("service placement", () => {
  let close: (() => void) | null = null;
  afterEach(() => {
    close?.();
    close = null;
  });

  function services() {
    const api = createTestApi({ clock: new ManualClock(T0) });
    close = api.close;
    return { api, services: createServices(api.context) };
  }

  test("every service the server runs has a placement, and the table names no other", () => {
    const names = services().services.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.toSorted()).toEqual(Object.keys(SERVICE_PLACEMENT).toSorted());
  });

  test("on SQLite every service leads (one process owns the file)", async () => {
    const { api } = services();
    expect(await api.context.store.leadership.isLeader("Scheduler")).toBe(true);
  });

  test("the leader-only services tick only when their leadership says so; the others on every pass", async () => {
    const standby = new FakeReplica(new FakeLocks());
    standby.up = false;
    const placed = placeServices(services().services, standby);
    const ticked: string[] = [];
    for (const service of placed) {
      if (!(service instanceof PeriodicService)) continue;
      spyOn(service, "tick").mockImplementation(async () => void ticked.push(service.name));
      await service.runOnce();
    }
    const everyReplica = Object.entries(SERVICE_PLACEMENT).flatMap(([name, p]) => (p.runsOn === "every replica" ? [name] : []));
    const leaderOnly = Object.entries(SERVICE_PLACEMENT).flatMap(([name, p]) => (p.runsOn === "leader" ? [name] : []));
    expect(ticked.toSorted()).toEqual(everyReplica.filter((name) => name !== "AutomationActions").toSorted());
    expect(standby.asked.toSorted()).toEqual(leaderOnly.toSorted());
  });

  test("a service without a placement is refused", () => {
    const probe = new Probe(new ManualClock(T0), quiet, 5);
    expect(() => placeServices([probe], new FakeReplica(new FakeLocks()))).toThrow("Probe has no placement in SERVICE_PLACEMENT");
  });

  test("AutomationTriggers on a standby evaluates this replica's events but leaves proactive triggers to the leader", async () => {
    const { api } = services();
    const triggers = new AutomationTriggers(api.context);
    const standby = new FakeReplica(new FakeLocks());
    standby.up = false;
    triggers.ledBy(standby);
    const proactive = spyOn(triggers.evaluator, "proactive");
    const flush = spyOn(triggers, "flush");
    await triggers.runOnce();
    expect(flush).toHaveBeenCalledTimes(1);
    expect(proactive).not.toHaveBeenCalled();
    standby.up = true;
    await triggers.runOnce();
    expect(flush).toHaveBeenCalledTimes(2);
    expect(proactive).toHaveBeenCalledTimes(1);
  });
});
