"""Automations created with the SDK's `Automation` API fire:

1. an event trigger on `prefect.flow-run.Failed` calls a Webhook block pointing at an HTTP
   receiver in this script: the receiver gets the rendered payload within 5 s of the failure;
2. a proactive trigger (no `Completed` within 10 s of `Running`) sends a notification through a
   Custom Webhook notification block to the same receiver;
3. a `pause-work-pool` action on a custom event pauses the pool, as the API then shows.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _common import check, check_equal, client, main, step, suffix, wait_for

received: list[tuple[str, float, str]] = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        received.append((self.path, time.monotonic(), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def bodies(path: str) -> list[str]:
    return [body for p, _, body in received if p == path]


def scenario() -> None:
    from prefect import flow
    from prefect.automations import Automation
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.blocks.webhook import Webhook
    from prefect.events import emit_event
    from prefect.events.actions import CallWebhook, PauseWorkPool, SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    tag = suffix()
    try:
        webhook_id = Webhook(url=f"{base}/failed", method="POST").save(f"s13-hook-{tag}")
        notifier_id = CustomWebhookNotificationBlock(
            name="s13", url=f"{base}/late", json_data={"text": "{{subject}}: {{body}}"}
        ).save(f"s13-notify-{tag}")

        Automation(
            name=f"s13-failed-{tag}",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Failed"},
                match={"prefect.resource.name": f"s13-fails-{tag}"},
                posture=Posture.Reactive,
                threshold=1,
            ),
            actions=[CallWebhook(block_document_id=webhook_id, payload='{"run": "{{ flow_run.name }}", "state": "{{ flow_run.state.name }}", "flow": "{{ flow.name }}"}')],
        ).create()
        Automation(
            name=f"s13-late-{tag}",
            trigger=EventTrigger(
                after={"prefect.flow-run.Running"},
                expect={"prefect.flow-run.Completed"},
                match={"prefect.resource.name": f"s13-slow-{tag}"},
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=10,
            ),
            actions=[SendNotification(block_document_id=notifier_id, subject="late", body="{{ flow_run.name }} did not complete within 10 s")],
        ).create()
        with client() as c:
            from prefect.client.schemas.actions import WorkPoolCreate

            pool = c.create_work_pool(WorkPoolCreate(name=f"s13-pool-{tag}", type="process"))
        Automation(
            name=f"s13-pause-{tag}",
            trigger=EventTrigger(expect={"s13.pause"}, match={"prefect.resource.id": f"s13.{tag}"}, posture=Posture.Reactive, threshold=1),
            actions=[PauseWorkPool(source="selected", work_pool_id=pool.id)],
        ).create()
        step("created three automations with the SDK")

        @flow(name=f"s13-fails-{tag}", flow_run_name=f"s13-fails-{tag}", retries=0)
        def fails() -> None:
            raise ValueError("boom")

        fails(return_state=True)
        failed_at = time.monotonic()
        step("the failing flow failed")
        payload = wait_for("the webhook call for the failed run", lambda: bodies("/failed"), timeout=5, interval=0.1)
        latency = received[[p for p, _, _ in received].index("/failed")][1] - failed_at
        check_equal(json.loads(payload[0]), {"run": f"s13-fails-{tag}", "state": "Failed", "flow": f"s13-fails-{tag}"}, "the webhook payload")
        step(f"the receiver got the rendered payload {latency:.2f}s after the failure")

        emit_event(event="s13.pause", resource={"prefect.resource.id": f"s13.{tag}"})
        with client() as c:
            wait_for("the work pool to be paused by the automation", lambda: c.read_work_pool(f"s13-pool-{tag}").is_paused, timeout=10)
        step("pause-work-pool paused the pool")

        @flow(name=f"s13-slow-{tag}", flow_run_name=f"s13-slow-{tag}")
        def slow() -> None:
            time.sleep(16)

        started = time.monotonic()
        threading.Thread(target=lambda: slow(return_state=True), daemon=True).start()
        notes = wait_for("the late-run notification", lambda: bodies("/late"), timeout=35, interval=0.2)
        check_equal(json.loads(notes[0]), {"text": f"late: s13-slow-{tag} did not complete within 10 s"}, "the notification body")
        waited = time.monotonic() - started
        check(10 <= waited < 30, f"the proactive notification came {waited:.1f}s after the start (expected after the 10 s window)")
        step(f"the proactive trigger notified {waited:.1f}s after the slow run started")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main(scenario)
