"""Scenario files (`events/scenarios/*.jsonl`, the ones `localcloud play` takes) played on the
real wire: each step at its virtual offset on the harness's clock, a Function URL request to
the function's release binary, a PutEvents entry to the bus, or a SendMessage to a queue."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lambdas import Clock, LambdaHost
from stack import Stack

START_PREFIX = "// start:"
# As the local cloud's HTTP client (emulator::cloud::lambda::CLIENT_RETRIES).
CLIENT_RETRIES = 20


@dataclass
class Scenario:
    path: Path
    steps: list[dict]
    start: datetime | None

    @property
    def last_at(self) -> int:
        return max((s["at"] for s in self.steps), default=0)


def load(path: Path) -> Scenario:
    """The steps of a scenario file, each with its line for errors."""
    steps, start = [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if text.startswith(START_PREFIX):
            start = datetime.fromisoformat(text[len(START_PREFIX):].strip().replace("Z", "+00:00"))
            continue
        if not text or text.startswith("//"):
            continue
        try:
            step = json.loads(text)
        except ValueError as err:
            raise SystemExit(f"{path}:{number}: not JSON: {err}") from None
        if not isinstance(step.get("at"), int) or step["at"] < 0:
            raise SystemExit(f"{path}:{number}: `at` must be a whole number of ms, 0 or more")
        inputs = [k for k in ("http", "event", "message") if k in step]
        if len(inputs) != 1:
            raise SystemExit(f"{path}:{number}: a step is one of http, event or message")
        step["line"] = number
        steps.append(step)
    # In time order; steps at one instant keep the file's order, as `localcloud play` does.
    steps.sort(key=lambda s: s["at"])
    return Scenario(path, steps, start)


def body_text(body: Any) -> str | None:
    if body is None:
        return None
    return body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))


def function_url_request(request: dict, clock: Clock) -> dict:
    """A Function URL request (payload format 2.0), as Lambda delivers it."""
    now = datetime.fromtimestamp(clock.now_ms() / 1000, timezone.utc)
    request_id = str(uuid.uuid4())
    headers = {
        "content-type": "application/json",
        "host": "e2e0local.lambda-url.eu-west-1.on.aws",
        "x-amzn-trace-id": f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}",
        "x-forwarded-proto": "https",
        "x-forwarded-for": "127.0.0.1",
        "user-agent": "e2e",
        **{k.lower(): v for k, v in request.get("headers", {}).items()},
    }
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request["path"],
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "e2e0local",
            "domainName": "e2e0local.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "e2e0local",
            "http": {
                "method": request["method"],
                "path": request["path"],
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "e2e",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
        "body": body_text(request.get("body")),
    }


@dataclass
class Exchange:
    label: str
    function: str
    status: int | None
    body: Any
    kind: str
    traces: list[str] = field(default_factory=list)  # the X-Ray trace root of each attempt


@dataclass
class Player:
    """Plays one scenario on the stack; keeps every HTTP exchange."""

    scenario: Scenario
    stack: Stack
    host: LambdaHost
    clock: Clock
    clients: Any
    exchanges: list[Exchange] = field(default_factory=list)
    sent: int = 0
    retries: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self.run, daemon=True, name=self.scenario.path.name).start()

    def run(self) -> None:
        # Requests at one instant go at once, as many clients would send them.
        with ThreadPoolExecutor(max_workers=16) as pool:
            for step in self.scenario.steps:
                wait = self.clock.real_at(step["at"]) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                pool.submit(self.step, step)
        self.done.set()

    def step(self, step: dict) -> None:
        label = step.get("label") or f"line {step['line']}"
        try:
            if "http" in step:
                self.request(label, step["http"])
            elif "event" in step:
                self.put_event(label, step["event"])
            else:
                self.send(label, step["message"])
        except Exception as err:  # a step that could not be sent fails the run, naming it
            self.exchanges.append(Exchange(label, "?", None, f"{type(err).__name__}: {err}", "harness-error"))
        self.sent += 1

    def request(self, label: str, request: dict) -> None:
        function = next(
            (f for f in self.host.functions.values() if f.url and request["function"] in (f.binary, f.logical_id)),
            None,
        )
        if function is None:
            raise SystemExit(f"{self.scenario.path}: {label}: no function {request['function']} with a Function URL")
        # The client the local cloud plays: the same request again while it fails or is answered
        # 5xx or 409, backing off from 100 ms (doubling, at most 5 s) of its clock, 20 times.
        traces = []
        for attempt in range(CLIENT_RETRIES + 1):
            status, body, kind, trace = self.invoke(function, request)
            traces.append(trace)
            if not (status is None or status >= 500 or status == 409) or attempt == CLIENT_RETRIES:
                break
            self.retries += 1
            time.sleep(min(100 << min(attempt, 6), 5_000) / 1000 / self.clock.speed)
        self.exchanges.append(Exchange(label, function.binary, status, body, kind, traces))

    def invoke(self, function, request: dict) -> tuple[int | None, Any, str, str]:
        """Status, body, how the invocation ended, and the trace root the request went in."""
        event = function_url_request(request, self.clock)
        result = self.host.invoke(function.logical_id, event)
        answer = result.answer()
        status, body = None, None
        if isinstance(answer, dict) and "statusCode" in answer:
            status = int(answer["statusCode"])
            try:
                body = json.loads(answer.get("body") or "null")
            except ValueError:
                body = answer.get("body")
        elif result.kind == "response":
            status, body = 200, answer  # a Function URL infers 200 for any other JSON
        else:
            status, body = 502, result.body.decode(errors="replace")  # Lambda answers a failed invocation 502
        return status, body, result.kind, event["headers"]["x-amzn-trace-id"].split(";")[0].removeprefix("Root=")

    def put_event(self, label: str, event: dict) -> None:
        bus = event.get("bus") or next(
            made.ref for logical_id, made in self.stack.made.items()
            if self.stack.resources[logical_id]["Type"] == "AWS::Events::EventBus"
        )
        entry = {"Source": event["source"], "DetailType": event["detail-type"],
                 "Detail": json.dumps(event["detail"]), "EventBusName": bus}
        answer = self.clients.events.put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents refused {label}: {answer['Entries']}")

    def send(self, label: str, message: dict) -> None:
        request = {"QueueUrl": self.stack.queue_url(message["queue"]), "MessageBody": body_text(message["body"])}
        if message.get("attributes"):
            request["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": v} for k, v in message["attributes"].items()
            }
        if message.get("group"):
            request["MessageGroupId"] = message["group"]
        self.clients.sqs.send_message(**request)

