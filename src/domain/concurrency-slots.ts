/**
 * Slot accounting of global (v2) concurrency limits, as pure functions of a limit's
 * stored counts: rate-limit decay of held slots, the decay of denied slots that paces
 * Retry-After, and the running average of how long a slot is held.
 */
import { MICROS_PER_SECOND, type Micros } from "../lib/time";

/** The stored counts of a limit that its slot accounting reads. */
export interface SlotCounts {
  name: string;
  limit: number;
  activeSlots: number;
  deniedSlots: number;
  slotDecayPerSecond: number;
  avgSlotOccupancySeconds: number;
  /** When the counts were last settled. */
  updated: Micros;
}

/** Prefect's PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS default. */
const TAG_SLOT_WAIT_SECONDS = 10;
/** Prefect's PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS default. */
const MAXIMUM_SLOT_WAIT_SECONDS = 30;
/** Floor of the per-slot occupancy average, so its inverse (a decay rate) stays finite. */
const MINIMUM_OCCUPANCY_SECONDS_PER_SLOT = 0.1;
/** The occupancy average spans the last `limit × 2` releases. */
const OCCUPANCY_SAMPLES_MULTIPLIER = 2;

/**
 * The longest a client is told to wait for a slot of a limit without decay: tag
 * limits (`tag:<tag>`) use the task setting, every other limit the server-wide cap.
 */
export function slotWaitCapSeconds(name: string): number {
  return name.startsWith("tag:") ? TAG_SLOT_WAIT_SECONDS : MAXIMUM_SLOT_WAIT_SECONDS;
}

/** Seconds since the row last changed; a clock set back never adds slots. */
function secondsSinceUpdate(row: SlotCounts, now: Micros): number {
  return Math.max(0, now - row.updated) / MICROS_PER_SECOND;
}

/** Held slots as of `now`, after rate-limit decay. */
export function activeSlotsAt(row: SlotCounts, now: Micros): number {
  return Math.max(0, row.activeSlots - Math.floor(row.slotDecayPerSecond * secondsSinceUpdate(row, now)));
}

/**
 * Denied slots as of `now`. They decay at the limit's own rate for rate limits and
 * otherwise at one per (capped) average occupancy, the pace at which slots free up.
 */
export function deniedSlotsAt(row: SlotCounts, now: Micros): number {
  const occupancy = Math.max(MINIMUM_OCCUPANCY_SECONDS_PER_SLOT, Math.min(row.avgSlotOccupancySeconds, slotWaitCapSeconds(row.name)));
  const rate = row.slotDecayPerSecond > 0 ? row.slotDecayPerSecond : 1 / occupancy;
  return Math.max(0, row.deniedSlots - Math.floor(rate * secondsSinceUpdate(row, now)));
}

/**
 * The running average of seconds a slot is held, moved one sample's weight toward
 * this release. A zero limit has no samples to weigh (Prefect divides by zero there).
 */
export function occupancyAverage(row: SlotCounts, slots: number, occupancySeconds: number): number {
  if (row.limit === 0) return row.avgSlotOccupancySeconds;
  const perSlot = Math.max(occupancySeconds / slots, MINIMUM_OCCUPANCY_SECONDS_PER_SLOT);
  const samples = row.limit * OCCUPANCY_SAMPLES_MULTIPLIER;
  return row.avgSlotOccupancySeconds + perSlot / samples - row.avgSlotOccupancySeconds / samples;
}

/** The decayed counts as of `now`, to be written with any change that moves `updated`. */
export function settled(row: SlotCounts, now: Micros) {
  return { activeSlots: activeSlotsAt(row, now), deniedSlots: deniedSlotsAt(row, now), updated: now };
}
