/**
 * The causal ordering of events for trigger evaluation (prefect/server/events/ordering/memory.py):
 * an event whose `follows` has not been evaluated yet waits for it, up to
 * PRECEDING_EVENT_LOOKBACK; then it is evaluated anyway, in `occurred` order, as a lost
 * follower. Kept in memory, like Prefect's single-server ordering.
 */
import type { ReceivedEvent } from "../events/model";
import type { Micros } from "../lib/time";
import { PRECEDING_EVENT_LOOKBACK } from "./triggers";

/** PROCESSED_EVENT_LOOKBACK (30 min) and PRECEDING_EVENT_LOOKBACK (15 min): how long a seen id is remembered. */
const SEEN_EXPIRATION = 30 * 60 * 1_000_000;
/** At most this many seen ids are remembered (oldest forgotten first), so a busy server's memory stays bounded. */
const MAX_SEEN = 100_000;
/** MAX_DEPTH_OF_PRECEDING_EVENT */
export const MAX_DEPTH_OF_PRECEDING_EVENT = 20;

export class CausalOrdering {
  private readonly seen = new Map<string, Micros>();
  /** Waiting events by the id of the event they follow. */
  private readonly followers = new Map<string, Map<string, ReceivedEvent>>();

  hasBeenSeen(id: string): boolean {
    return this.seen.has(id);
  }

  /** Records an event evaluated elsewhere (before a restart: it is in the events table). */
  markSeen(id: string, now: Micros): void {
    this.seen.delete(id);
    this.seen.set(id, now);
    if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.keys().next().value!);
  }

  /** False (and the event waits) when it follows an event not yet evaluated, unless it is too old to wait. */
  ready(event: ReceivedEvent, now: Micros): boolean {
    if (!event.follows || event.follows === event.id) return true;
    if (now - event.received >= PRECEDING_EVENT_LOOKBACK) return true;
    if (this.seen.has(event.follows)) return true;
    let waiting = this.followers.get(event.follows);
    if (!waiting) this.followers.set(event.follows, (waiting = new Map()));
    waiting.set(event.id, event);
    return false;
  }

  /** Marks the event evaluated; returns the events that were waiting for it, in `occurred` order. */
  evaluated(event: ReceivedEvent, now: Micros): ReceivedEvent[] {
    this.markSeen(event.id, now);
    if (event.follows) this.followers.get(event.follows)?.delete(event.id);
    const waiting = [...(this.followers.get(event.id)?.values() ?? [])];
    this.followers.delete(event.id);
    return waiting.sort((a, b) => a.occurred - b.occurred);
  }

  /** Followers that waited longer than the lookback: their leader is not coming. */
  lostFollowers(now: Micros): ReceivedEvent[] {
    const lost: ReceivedEvent[] = [];
    for (const [leader, waiting] of this.followers) {
      for (const [id, event] of waiting) {
        if (now - event.received < PRECEDING_EVENT_LOOKBACK) continue;
        lost.push(event);
        waiting.delete(id);
      }
      if (waiting.size === 0) this.followers.delete(leader);
    }
    for (const [id, at] of this.seen) if (now - at > SEEN_EXPIRATION) this.seen.delete(id);
    return lost.sort((a, b) => a.occurred - b.occurred);
  }
}
