/** Helpers for services that walk runs in batches and propose states to them. */
import type { RunStateRef } from "../db/repos/run-mapping";
import type { OrchestrationResult } from "../orchestration/context";

/**
 * Yields every row `fetch` selects, one page at a time in id order. The next page is
 * read only after the caller has handled the current one, so a tick works through any
 * backlog while rows it already changed drop out of the selection behind the cursor.
 */
export async function* inPages<T extends { id: string }>(
  pageSize: number,
  fetch: (afterId: string | null, limit: number) => Promise<T[]>,
): AsyncGenerator<T> {
  let afterId: string | null = null;
  for (;;) {
    const page = await fetch(afterId, pageSize);
    yield* page;
    if (page.length < pageSize) return;
    afterId = page[page.length - 1]!.id;
  }
}

/**
 * Whether a service's proposal changed the run's state: accepted, or replaced by a rule
 * with another state that was written (e.g. Cancelling answered with Cancelled).
 */
export function changedState(run: RunStateRef, result: OrchestrationResult | null): boolean {
  return result?.state != null && result.state.id !== run.stateId;
}
