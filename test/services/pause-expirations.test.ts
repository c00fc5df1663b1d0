import { afterAll, describe, expect, test } from "bun:test";
import { createServices } from "../../src/services";
import { FailExpiredPauses, PAUSE_EXPIRED_MESSAGE } from "../../src/services/pause-expirations";
import { flowRunOf, iso, newFlowRun, SECOND, serviceApi, setFlowRunState, T0 } from "./fixtures";

describe("FailExpiredPauses", () => {
  const { api } = serviceApi();
  const service = new FailExpiredPauses(api.context);
  afterAll(() => api.close());

  /** A running flow run paused until `timeout` (no timeout when null). */
  async function paused(timeout: number | null, name = "Paused") {
    const id = await newFlowRun(api, { state: { type: "RUNNING" } });
    await setFlowRunState(api, id, { type: "PAUSED", name, state_details: { pause_timeout: timeout === null ? null : iso(timeout) } });
    return id;
  }

  test("a run whose pause timed out is failed; one still within its pause is untouched", async () => {
    const expired = await paused(T0 + 60 * SECOND);
    const waiting = await paused(T0 + 600 * SECOND);

    await service.tick(T0 + 60 * SECOND); // the timeout itself is not yet past
    expect((await flowRunOf(api, expired)).state_type).toBe("PAUSED");

    await service.tick(T0 + 61 * SECOND);
    const failed = await flowRunOf(api, expired);
    expect(failed.state.type).toBe("FAILED");
    expect(failed.state.message).toBe(PAUSE_EXPIRED_MESSAGE);
    expect(failed.end_time).toBe(iso(T0 + 61 * SECOND));
    expect((await flowRunOf(api, waiting)).state_type).toBe("PAUSED");
  });

  test("suspended runs time out the same way, with the same message", async () => {
    const id = await paused(T0 + 1000 * SECOND, "Suspended");
    await service.tick(T0 + 1001 * SECOND);
    expect((await flowRunOf(api, id)).state.message).toBe(PAUSE_EXPIRED_MESSAGE);
  });

  test("a pause without a timeout never expires", async () => {
    const id = await paused(null);
    await service.tick(T0 + 365 * 86_400 * SECOND);
    expect((await flowRunOf(api, id)).state_type).toBe("PAUSED");
  });

  test("a resumed run is not failed by its old pause's timeout", async () => {
    const id = await paused(T0 + 2000 * SECOND);
    expect((await api.post(`/flow_runs/${id}/resume`, {})).body.status).toBe("ACCEPT");
    await service.tick(T0 + 2001 * SECOND);
    expect((await flowRunOf(api, id)).state_type).toBe("RUNNING");
  });

  test("is one of the services the server starts", () => {
    expect(createServices(api.context).some((s) => s instanceof FailExpiredPauses)).toBe(true);
  });
});
