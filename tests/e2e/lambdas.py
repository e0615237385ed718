"""Lambda, played on loopback: each function's release binary started as Lambda starts a
`provided.al2023` bootstrap (the Runtime API, the template's environment, one process per
execution environment, a new one when every other is busy), SQS event source mappings that
behave as AWS's, and scheduled rules that invoke their function asynchronously.

What the harness does because moto does not (moto runs Lambda functions only in Docker, which
this machine does not have): all of the above. Each is built to AWS's documented behaviour:
- Runtime API: `GET /runtime/invocation/next` with the request id, deadline, function ARN and
  trace id headers; `POST .../response` and `.../error`; a process that exits or overruns its
  timeout fails its invocation and is replaced.
- SQS mappings: long-polled receives of up to `BatchSize` records, gathered for at most
  `MaximumBatchingWindowInSeconds`; at most `MaximumConcurrency` invocations at once; with
  `ReportBatchItemFailures`, the records the function names stay in the queue and the rest are
  deleted, an unknown or empty identifier fails the whole batch; a failed invocation deletes
  nothing. The queue (moto) makes failed records visible again after its visibility timeout and
  moves them to its DLQ after `maxReceiveCount` receives.
- Schedules: EventBridge's `Scheduled Event` every rate, invoked asynchronously: retried as the
  function's EventInvokeConfig says, then sent to its on-failure destination.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Callable

from aws import QuietServer
from stack import ACCOUNT, REGION, Function, Mapping, Schedule

# Debian's faketime package puts it here (`make e2e` installs it and passes its path).
LIBFAKETIME = Path(os.environ.get("FAKETIME_LIB", "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"))


class Clock:
    """The instant the functions live at: `start`, running `speed` times faster than the wall
    clock. A scenario of an hour (the sensors') plays in minutes. Every function process reads
    this clock through libfaketime: its wall clock follows the modification time of a file the
    harness moves on every few milliseconds, so every process, whenever it started, reads the
    same instant; its monotonic clock, and so every timeout and budget, runs at the real rate,
    as Lambda's do. (libfaketime's own speed-up, `x20`, also divides every sleep and poll timeout
    by 20: tokio's timers then spin, and each process burns five times the CPU.)"""

    TICK_SECONDS = 0.005

    def __init__(self, start: datetime, speed: float, file: Path) -> None:
        self.start_ms = int(start.timestamp() * 1000)
        self.speed = speed
        self.file = file
        self.real_start = time.monotonic()
        self.file.touch()
        self._tick()
        threading.Thread(target=self._run, daemon=True, name=f"clock {file.name}").start()

    def now_ms(self) -> int:
        return self.start_ms + int((time.monotonic() - self.real_start) * self.speed * 1000)

    def real_at(self, offset_ms: float) -> float:
        """The monotonic instant at which `offset_ms` of virtual time has passed."""
        return self.real_start + offset_ms / 1000 / self.speed

    def _tick(self) -> None:
        now_ns = self.now_ms() * 1_000_000
        os.utime(self.file, ns=(now_ns, now_ns))

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK_SECONDS)
            self._tick()

    def process_env(self) -> dict[str, str]:
        """libfaketime's settings for a process on this clock."""
        if not LIBFAKETIME.exists():
            raise SystemExit(f"e2e: {LIBFAKETIME} is missing: install Debian's faketime package (make e2e does)")
        return {
            "LD_PRELOAD": str(LIBFAKETIME),
            "FAKETIME": "%",
            "FAKETIME_FOLLOW_FILE": str(self.file),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME_NO_CACHE": "1",
        }


def lambda_env(function_name: str, memory: int, endpoint: str) -> dict[str, str]:
    """What Lambda sets in a `provided.al2023` environment (credentials pointing at the local AWS)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"2026/03/29/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_ENDPOINT_URL": endpoint,
        "_HANDLER": "bootstrap",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin/:/bin",
    }


class RuntimeApi:
    """The Runtime API of one execution environment: hands out one event at a time, collects
    its answer."""

    def __init__(self, function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:coldstart") -> None:
        self.events: queue.Queue = queue.Queue()
        self.answers: queue.Queue = queue.Queue()
        self.first_poll = threading.Event()
        self.first_poll_at = 0.0
        self.handed_at = 0.0
        api = self

        class Handler(BaseHTTPRequestHandler):
            # Headers and body go out in two writes: with Nagle's algorithm on, the client's
            # delayed ACK holds the body back 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.send_error(404)
                if not api.first_poll.is_set():
                    api.first_poll_at = time.monotonic()
                    api.first_poll.set()
                item = api.events.get()
                if item is None:
                    return  # shutting down: the process is killed next
                event, request_id, deadline_ms, trace = item
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", trace)
                self.end_headers()
                api.handed_at = time.monotonic()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if self.path.endswith("/init/error"):
                    kind = "init-error"
                elif self.path.endswith("/error"):
                    kind = "error"
                else:
                    kind = "response"
                api.answers.put((kind, time.monotonic(), body))

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: dict, deadline_ms: int = 0, timeout: float = 30.0) -> tuple[float, str, bytes]:
        """Seconds from handing `event` over to the answer, the answer's kind and body."""
        deadline_ms = deadline_ms or int(time.time() * 1000) + int(timeout * 1000)
        self.events.put((event, str(uuid.uuid4()), deadline_ms, trace_id(event)))
        kind, answered_at, body = self.answers.get(timeout=timeout)
        return answered_at - self.handed_at, kind, body

    def close(self) -> None:
        self.events.put(None)
        self.server.shutdown()
        self.server.server_close()


def trace_id(event: dict | None = None) -> str:
    """The `Lambda-Runtime-Trace-Id` of an invocation with `Tracing: Active`: a new root, or
    for a Function URL request the root of its `x-amzn-trace-id` header, which Lambda continues;
    the parent is the function's segment."""
    headers = (event or {}).get("headers") or {}
    fields = dict(part.split("=", 1) for part in headers.get("x-amzn-trace-id", "").split(";") if "=" in part)
    root = fields.get("Root") or f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    return f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=1"


@dataclass
class Result:
    """How an invocation ended: `response` (with the function's answer), `error` (the function
    reported one), `timeout` or `crash` (the process overran or exited; Lambda's
    `Sandbox.Timedout` and `Runtime.ExitError`)."""

    kind: str
    body: bytes
    seconds: float
    cold: bool

    def answer(self) -> dict | None:
        if self.kind != "response":
            return None
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


class Environment:
    """One execution environment: a process of the function's binary and its Runtime API."""

    def __init__(self, function: Function, binary: Path, env: dict[str, str], log) -> None:
        self.function = function
        self.api = RuntimeApi(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function.name}")
        full = {**env, "AWS_LAMBDA_RUNTIME_API": self.api.address}
        self.process = subprocess.Popen([str(binary)], env=full, stdout=log, stderr=log, cwd="/tmp")
        self.invocations = 0

    def invoke(self, event: dict, deadline_ms: int, kill_after: float | None = None) -> Result:
        cold = self.invocations == 0
        self.invocations += 1
        self.api.events.put((event, str(uuid.uuid4()), deadline_ms, trace_id(event)))
        started = time.monotonic()
        limit = started + self.function.timeout
        killer = None
        if kill_after is not None:
            killer = threading.Timer(kill_after, self.process.kill)
            killer.start()
        try:
            while True:
                try:
                    kind, _, body = self.api.answers.get(timeout=0.05)
                    return Result(kind, body, time.monotonic() - started, cold)
                except queue.Empty:
                    pass
                if self.process.poll() is not None:
                    return Result("crash", b"Runtime.ExitError", time.monotonic() - started, cold)
                if time.monotonic() > limit:
                    self.process.kill()
                    return Result("timeout", b"Sandbox.Timedout", time.monotonic() - started, cold)
        finally:
            if killer:
                killer.cancel()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        self.api.close()


@dataclass
class FunctionStats:
    invocations: int = 0
    cold_starts: int = 0
    errors: int = 0
    crashes: int = 0
    timeouts: int = 0
    in_flight: int = 0
    peak_concurrency: int = 0
    seconds: float = 0.0


class LambdaHost:
    """Every function of the stack, invoked as Lambda invokes them."""

    def __init__(self, functions: dict[str, Function], bin_dir: Path, endpoint: str, clocks: dict[str, Clock], log) -> None:
        self.functions = functions
        self.bin_dir = bin_dir
        self.endpoint = endpoint
        # Each function lives on its domain's clock (the scenario it serves).
        self.clocks = clocks
        self.log = log
        self.idle: dict[str, list[Environment]] = {name: [] for name in functions}
        self.all: list[Environment] = []
        self.stats: dict[str, FunctionStats] = {name: FunctionStats() for name in functions}
        self.kill_next: dict[str, float] = {}
        self.in_flight: dict[str, list[Environment]] = {name: [] for name in functions}
        self.lock = threading.Lock()

    def invoke(self, logical_id: str, event: dict) -> Result:
        function = self.functions[logical_id]
        with self.lock:
            environment = self.idle[logical_id].pop() if self.idle[logical_id] else None
            stats = self.stats[logical_id]
            stats.invocations += 1
            stats.in_flight += 1
            stats.peak_concurrency = max(stats.peak_concurrency, stats.in_flight)
            kill_after = self.kill_next.pop(logical_id, None)
        if environment is None:
            env = {
                **function.env,
                **lambda_env(function.name, function.memory, self.endpoint),
                **self.clocks[logical_id].process_env(),
            }
            environment = Environment(function, self.bin_dir / function.binary, env, self.log)
            with self.lock:
                self.all.append(environment)
                stats.cold_starts += 1
        with self.lock:
            self.in_flight[logical_id].append(environment)
        deadline_ms = self.clocks[logical_id].now_ms() + function.timeout * 1000
        try:
            result = environment.invoke(event, deadline_ms, kill_after)
        finally:
            with self.lock:
                self.in_flight[logical_id].remove(environment)
                stats.in_flight -= 1
        with self.lock:
            stats.seconds += result.seconds
            stats.errors += result.kind == "error"
            stats.crashes += result.kind == "crash"
            stats.timeouts += result.kind == "timeout"
            if environment.alive and result.kind in ("response", "error"):
                self.idle[logical_id].append(environment)
        if result.kind in ("crash", "timeout"):
            environment.close()
        return result

    def kill_in_flight(self, logical_id: str) -> bool:
        """Kills the process of an invocation of `logical_id` that is running now (a crash
        mid-batch), if any."""
        with self.lock:
            running = list(self.in_flight[logical_id])
        for environment in running:
            environment.process.kill()
            return True
        return False

    def busy(self) -> int:
        with self.lock:
            return sum(s.in_flight for s in self.stats.values())

    def close(self) -> None:
        for environment in self.all:
            environment.close()


def sqs_record(message: dict, queue_arn: str) -> dict:
    """An SQS message as Lambda's SQS event carries it."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


@dataclass
class MappingStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    left_for_retry: int = 0
    failed_invocations: int = 0
    sizes: list[int] = field(default_factory=list)


class EventSourceMapping:
    """An SQS queue feeding a function, as Lambda's pollers do (see the module's docs)."""

    def __init__(self, mapping: Mapping, sqs, host: LambdaHost, fifo: bool) -> None:
        self.mapping = mapping
        self.sqs = sqs
        self.host = host
        # A FIFO queue's batches run one at a time here: AWS keeps one batch of a message group
        # in flight, and the template's FIFO queue has one group.
        self.slots = threading.Semaphore(1 if fifo else mapping.max_concurrency)
        self.workers = ThreadPoolExecutor(max_workers=1 if fifo else mapping.max_concurrency)
        self.stopping = threading.Event()
        self.stats = MappingStats()
        self.running = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.poll, daemon=True, name=mapping.logical_id)

    def start(self) -> None:
        self.thread.start()

    def poll(self) -> None:
        while not self.stopping.is_set():
            self.slots.acquire()
            batch = self.gather()
            if not batch:
                self.slots.release()
                continue
            with self.lock:
                self.running += 1
            self.workers.submit(self.deliver, batch)

    def gather(self) -> list[dict]:
        """One batch: long-poll until a record arrives, then gather until the batch is full or
        the batching window has passed since the first record."""
        batch: list[dict] = []
        window_ends = None
        while len(batch) < self.mapping.batch_size and not self.stopping.is_set():
            wait = 1 if window_ends is None else max(0, min(1, round(window_ends - time.monotonic())))
            answer = self.sqs.receive_message(
                QueueUrl=self.mapping.queue_url,
                MaxNumberOfMessages=min(10, self.mapping.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            batch.extend(messages)
            if window_ends is None:
                if not messages:
                    return batch
                window_ends = time.monotonic() + self.mapping.window_seconds
            if time.monotonic() >= window_ends or (not messages and self.mapping.window_seconds == 0):
                break
        return batch

    def deliver(self, batch: list[dict]) -> None:
        try:
            event = {"Records": [sqs_record(m, self.mapping.queue_arn) for m in batch]}
            result = self.host.invoke(self.mapping.function, event)
            failed = self.failures(result, batch)
            done = [m for m in batch if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                entries = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])
                ]
                self.sqs.delete_message_batch(QueueUrl=self.mapping.queue_url, Entries=entries)
            with self.lock:
                self.stats.batches += 1
                self.stats.records += len(batch)
                self.stats.sizes.append(len(batch))
                self.stats.deleted += len(done)
                self.stats.left_for_retry += len(failed)
                self.stats.failed_invocations += result.kind != "response"
        finally:
            with self.lock:
                self.running -= 1
            self.slots.release()

    def failures(self, result: Result, batch: list[dict]) -> set[str]:
        """The records that stay in the queue after `result`."""
        every = {m["MessageId"] for m in batch}
        if result.kind != "response":
            return every
        answer = result.answer()
        if not self.mapping.report_failures or not isinstance(answer, dict):
            return set()
        named = set()
        for failure in answer.get("batchItemFailures") or []:
            identifier = (failure or {}).get("itemIdentifier")
            if not identifier or identifier not in every:
                return every  # Lambda fails the whole batch on an empty or unknown identifier
            named.add(identifier)
        return named

    def idle(self) -> bool:
        with self.lock:
            return self.running == 0

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.workers.shutdown(wait=True)


class Scheduler:
    """A scheduled rule: every `rate` of virtual time until `until_ms`, EventBridge's
    `Scheduled Event`, invoked asynchronously (retried, then to the on-failure destination)."""

    def __init__(self, schedule: Schedule, host: LambdaHost, on_failure: Callable[[dict, Result], None]) -> None:
        self.schedule = schedule
        self.host = host
        self.clock = host.clocks[schedule.function]
        self.on_failure = on_failure
        self.until_ms: int | None = None
        self.ticks = 0
        self.failed = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True, name=schedule.rule)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        rate_ms = self.schedule.rate_seconds * 1000
        # Fires on the rate's boundaries, as EventBridge's rate schedules do once started.
        next_ms = (self.clock.now_ms() // rate_ms + 1) * rate_ms
        while not self.stopping.is_set():
            if self.until_ms is not None and next_ms > self.until_ms:
                return
            wait = (next_ms - self.clock.now_ms()) / 1000 / self.clock.speed
            if wait > 0 and self.stopping.wait(wait):
                return
            self.fire(next_ms)
            next_ms += rate_ms

    def fire(self, at_ms: int) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": datetime.fromtimestamp(at_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [self.schedule.rule_arn],
            "detail": {},
        }
        self.ticks += 1
        for _ in range(1 + self.schedule.retries):
            result = self.host.invoke(self.schedule.function, event)
            if result.kind == "response":
                return
        self.failed += 1
        self.on_failure(event, result)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
