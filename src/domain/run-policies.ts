/**
 * The empirical policies of runs as Prefect's models fill them in: what a client may
 * leave out (or send in the deprecated spelling) and what the rules then read.
 */
import type { JsonObject } from "../lib/json";
import type { FlowRunPolicy, TaskRunPolicy } from "../orchestration/context";

/** The retry fields both policies share; the deprecated max_retries/retry_delay_seconds fill retries/retry_delay. */
function retrySettings(p: { max_retries?: number; retry_delay_seconds?: number; retries?: number | null }) {
  const maxRetries = p.max_retries ?? 0;
  const retryDelaySeconds = p.retry_delay_seconds ?? 0;
  return {
    max_retries: maxRetries,
    retry_delay_seconds: retryDelaySeconds,
    retries: p.retries ?? (maxRetries !== 0 ? maxRetries : null),
    deprecatedDelay: retryDelaySeconds !== 0 ? retryDelaySeconds : null,
  };
}

/** FlowRunPolicy with its defaults filled in. */
export function flowRunPolicy(json: JsonObject | null | undefined): FlowRunPolicy {
  const p = (json ?? {}) as Partial<FlowRunPolicy>;
  const { deprecatedDelay, ...retries } = retrySettings(p);
  return {
    ...retries,
    retry_delay: p.retry_delay ?? deprecatedDelay,
    pause_keys: [...new Set(p.pause_keys ?? [])],
    resuming: p.resuming ?? false,
    retry_type: p.retry_type ?? null,
  };
}

/** TaskRunPolicy with its defaults filled in. */
export function taskRunPolicy(json: JsonObject | null | undefined): TaskRunPolicy {
  const p = (json ?? {}) as Partial<TaskRunPolicy>;
  const { deprecatedDelay, ...retries } = retrySettings(p);
  return { ...retries, retry_delay: p.retry_delay ?? deprecatedDelay, retry_jitter_factor: p.retry_jitter_factor ?? null };
}
