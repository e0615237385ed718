"""The local AWS every harness talks to: moto in server mode on a free loopback port, the
boto3 clients of the harness itself, and a proxy between the functions and moto that counts
every call by service and operation, can add a fixed latency to each, and injects faults."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import boto3
from botocore.config import Config

from stack import REGION

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server that does not print a traceback when a client goes away (a
    function killed mid-call, an SDK that gave up waiting): that is the run, not a fault."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """moto's server (tests/e2e/moto_server.py: moto_server made cheaper on hot spots) with the
    venv's Python, on a free loopback port."""

    def __init__(self, venv_bin: Path, log: Path | None = None) -> None:
        port = free_port()
        output = open(log, "wb") if log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(venv_bin / "python"), str(Path(__file__).with_name("moto_server.py")), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=output,
        )
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("moto did not start on loopback within 30 s")

    def version(self) -> str:
        from importlib.metadata import version

        return version("moto")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


class LocalAws:
    """The local AWS: moto servers on loopback. SQS, SNS and EventBridge share one (moto delivers
    between them in memory); each DynamoDB table gets a server of its own, started when the table
    is first named, reached through the proxy, which routes a call by the tables it names.

    Why: moto serves one request at a time per process (Python's GIL), and its
    TransactWriteItems deep-copies every table of its server for a rollback, so on one server a
    transaction on the windows table costs as much as the whole event store."""

    def __init__(self, venv_bin: Path, logs: Path) -> None:
        self.venv_bin = venv_bin
        self.logs = logs
        self.rest = Moto(venv_bin, logs / "moto.log")
        self.tables: dict[str, Moto] = {}
        self.lock = threading.Lock()

    def endpoint(self, service: str, body: bytes = b"") -> str:
        if service != "dynamodb":
            return self.rest.endpoint
        return self.table_server(tables_of(body)).endpoint

    def table_server(self, tables: set[str]) -> Moto:
        """The server of `tables`, started for a table not seen before."""
        with self.lock:
            servers = {id(self.tables[t]): self.tables[t] for t in tables if t in self.tables}
            if len(servers) > 1:
                raise ValueError(f"one call names tables on two moto servers: {sorted(tables)}")
            if servers:
                server = next(iter(servers.values()))
            elif tables:
                server = Moto(self.venv_bin, self.logs / f"moto-{min(tables)}.log")
            else:  # ListTables and the like: any server answers for its own tables alone
                server = next(iter(self.tables.values()), self.rest)
            for table in tables:
                self.tables.setdefault(table, server)
            return server

    @property
    def dynamodb(self) -> list[Moto]:
        return list({id(s): s for s in self.tables.values()}.values())

    def stop(self) -> None:
        for server in [self.rest, *self.dynamodb]:
            server.stop()


def tables_of(body: bytes) -> set[str]:
    """The tables a DynamoDB call names."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return set()
    tables = {request["TableName"]} if "TableName" in request else set()
    tables.update(request.get("RequestItems", {}))
    for item in request.get("TransactItems", []):
        tables.update(action["TableName"] for action in item.values() if "TableName" in action)
    return tables


class Clients:
    """boto3 clients of the harness, straight to the local AWS (not counted)."""

    def __init__(self, aws: LocalAws) -> None:
        session = boto3.Session(region_name=REGION, **CREDENTIALS)
        config = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=50)
        # DynamoDB through a router that counts nothing: the tables live on several servers.
        self.router = CallProxy(aws, counted=False)
        for service in ("dynamodb", "sqs", "sns", "events", "kms", "logs", "cloudwatch", "iam"):
            endpoint = self.router.endpoint if service == "dynamodb" else aws.endpoint(service)
            setattr(self, service, session.client(service, endpoint_url=endpoint, config=config))


@dataclass
class Throttle:
    """Answers `count` calls of `operation` naming `table` with DynamoDB's throttling error,
    as a table over its capacity does; the SDK retries it, then the function's own policy."""

    operation: str
    table: str
    count: int
    done: int = 0

    def applies(self, service: str, operation: str, body: bytes) -> bool:
        return (
            service == "dynamodb"
            and operation == self.operation
            and self.done < self.count
            and f'"{self.table}"'.encode() in body
        )


@dataclass
class AfterCall:
    """Runs `action` once, right after the first call of `operation` naming `table` succeeded."""

    operation: str
    table: str
    action: Callable[[], None]
    fired: bool = False


@dataclass
class Faults:
    throttles: list[Throttle] = field(default_factory=list)
    after_calls: list[AfterCall] = field(default_factory=list)


class CallProxy:
    """Sits between the functions and the local AWS (their one `AWS_ENDPOINT_URL`): sends each
    call to its service's server, counts calls by service and operation (the service from
    SigV4's credential scope, the operation from `X-Amz-Target` for JSON protocols or `Action=`
    for query ones), adds `latency` seconds to each, and injects `faults`."""

    def __init__(self, aws: LocalAws, latency: float = 0.0, faults: Faults | None = None, counted: bool = True) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.log: list[str] = []
        self.faults = faults or Faults()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm on, the client's
            # delayed ACK holds the body back 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                service, operation = call_of(self.headers, body)
                with proxy.lock:
                    if counted:
                        proxy.calls[(service, operation)] += 1
                        proxy.log.append(operation)
                    throttle = next((t for t in proxy.faults.throttles if t.applies(service, operation, body)), None)
                    if throttle:
                        throttle.done += 1
                if latency:
                    time.sleep(latency)
                if throttle:
                    return self.answer(400, throttled(), [("Content-Type", "application/x-amz-json-1.0")])
                try:
                    host, port = aws.endpoint(service, body).removeprefix("http://").split(":")
                except ValueError as err:
                    return self.answer(400, json.dumps({"__type": "ValidationException", "message": str(err)}).encode(),
                                       [("Content-Type", "application/x-amz-json-1.0")])
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                connection.close()
                kept = [
                    (k, v) for k, v in answer.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date")
                ]
                self.answer(answer.status, payload, kept)
                if answer.status < 300:
                    proxy.after(service, operation, body)

            def answer(self, status, payload, headers):
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def after(self, service: str, operation: str, body: bytes) -> None:
        for hook in self.faults.after_calls:
            with self.lock:
                due = (
                    not hook.fired and service == "dynamodb" and operation == hook.operation
                    and f'"{hook.table}"'.encode() in body
                )
                hook.fired |= due
            if due:
                hook.action()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def counted(self, action):
        """What `action()` returns, the calls it made, and them as `Operation xN` text."""
        before = len(self.log)
        result = action()
        made = self.log[before:]
        names = sorted(set(made), key=made.index)
        return result, len(made), " ".join(f"{n}x{made.count(n)}" if made.count(n) > 1 else n for n in names)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def call_of(headers, body: bytes) -> tuple[str, str]:
    """(service, operation) of a signed AWS request."""
    authorization = headers.get("Authorization") or ""
    # Credential=AKID/20260329/eu-west-1/dynamodb/aws4_request
    scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    service = scope[3] if len(scope) >= 5 else "?"
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.split(".")[-1]
    for part in body.decode(errors="replace").split("&"):
        if part.startswith("Action="):
            return service, part.split("=", 1)[1]
    return service, headers.get("X-Amz-Target") or "?"


def throttled() -> bytes:
    return json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded (injected by the e2e harness)",
    }).encode()
