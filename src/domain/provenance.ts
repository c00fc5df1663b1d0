/** Who made a write (Prefect's CreatedBy / UpdatedBy): an automation, a schedule, or nobody in particular. */
import type { JsonObject } from "../lib/json";

export interface Provenance {
  createdBy: JsonObject | null;
  updatedBy: JsonObject | null;
}

export const NO_PROVENANCE: Provenance = { createdBy: null, updatedBy: null };
