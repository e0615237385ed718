#!/usr/bin/env python3
"""Cold starts of every function next to a hello-world `lambda_runtime` function, in one run.

Plays the Lambda Runtime API on loopback and starts each function's binary as Lambda starts a
`provided.al2023` bootstrap: `AWS_LAMBDA_RUNTIME_API`, the function's name, memory, region and
credentials, and the template's environment (Globals and the function's own variables) with
every `!Ref`/`!GetAtt` resolved to a resource created in moto, which `AWS_ENDPOINT_URL` points
at. For each binary, COLD_STARTS times over:

- init: from exec to the first `GET /runtime/invocation/next`;
- first: the first invocation, a 10-record SQS batch built from the function's sample in
  `events/` (fresh message and event ids), or its Function URL sample, against moto;
- warm: WARM more invocations of fresh batches, median;
- peak RSS: `VmHWM` of the process after them.

Prints a table with each figure's ratio to the hello world's from the same run.

With `calls`, instead: each function warm, behind a proxy that adds a fixed latency to every
AWS call and counts them, the calls and time of a batch of 10 new records, of the same 10
again (duplicates), of 7 new and 3 unreadable (parked), and the time of a batch of 1.

With BASELINE_BIN_DIR set, every function also starts from the binaries there (another
commit's build), in the same run, listed as `<function>@base`.

usage: run.py cold BIN_DIR [COLD_STARTS] [WARM]
       run.py calls BIN_DIR [LATENCY_MS]      (bench/coldstart/run.sh builds and calls it)
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
from boto3.dynamodb.types import TypeSerializer
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
BATCH = 10
HELLO = "hello-world"
SKIPPED_SAMPLE_WORDS = ("bad", "missing", "unknown", "replayed", "invalid")
TABLE_FILES = {"InventoryTable": "events/tables/inventory.json"}


class RuntimeApi:
    """The Runtime API of one execution environment: hands out queued events, collects answers."""

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()
        self.answers: queue.Queue = queue.Queue()
        self.first_poll = threading.Event()
        self.first_poll_at = 0.0
        self.handed_at = 0.0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.send_error(404)
                if not api.first_poll.is_set():
                    api.first_poll_at = time.monotonic()
                    api.first_poll.set()
                event = api.events.get()
                if event is None:
                    return  # shutting down: the process is killed next
                body = json.dumps(event).encode()
                request_id = str(uuid.uuid4())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:coldstart",
                )
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
                self.end_headers()
                api.handed_at = time.monotonic()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                kind = "error" if self.path.endswith("/error") else "response"
                api.answers.put((kind, time.monotonic(), body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: dict) -> tuple[float, str, bytes]:
        """Seconds from handing `event` over to the answer, the answer's kind and body."""
        self.events.put(event)
        kind, answered_at, body = self.answers.get(timeout=30)
        return answered_at - self.handed_at, kind, body

    def close(self) -> None:
        self.events.put(None)
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(venv_bin: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(venv_bin / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("coldstart: moto did not start")


class Deployment:
    """The template's resources that functions refer to, created in moto on first reference."""

    def __init__(self, template: dict, endpoint: str) -> None:
        self.resources = template["Resources"]
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.sns = session.client("sns", endpoint_url=endpoint)
        self.events = session.client("events", endpoint_url=endpoint)
        self.kms = session.client("kms", endpoint_url=endpoint)
        self.created: dict[str, dict[str, str]] = {}

    def resolve(self, value):
        """A template value with `Ref` and `Fn::GetAtt` of created resources resolved."""
        if isinstance(value, dict) and "Ref" in value:
            return self.create(value["Ref"])["Ref"]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            name, attribute = target if isinstance(target, list) else target.split(".", 1)
            return self.create(name)[attribute]
        if isinstance(value, (str, int, float, bool)):
            return str(value)
        raise SystemExit(f"coldstart: cannot resolve {value!r} in a function's environment")

    def create(self, logical_id: str) -> dict[str, str]:
        if logical_id in self.created:
            return self.created[logical_id]
        resource = self.resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            table = {
                "TableName": logical_id,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if props.get("GlobalSecondaryIndexes"):
                table["GlobalSecondaryIndexes"] = [
                    {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                    for index in props["GlobalSecondaryIndexes"]
                ]
            arn = self.dynamodb.create_table(**table)["TableDescription"]["TableArn"]
            made = {"Ref": logical_id, "Arn": arn}
        elif kind == "AWS::SQS::Queue":
            fifo = str(props.get("FifoQueue", "false")).lower() == "true"
            name = logical_id + (".fifo" if fifo else "")
            url = self.sqs.create_queue(
                QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {}
            )["QueueUrl"]
            made = {"Ref": url, "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "QueueName": name}
        elif kind == "AWS::SNS::Topic":
            arn = self.sns.create_topic(Name=logical_id)["TopicArn"]
            made = {"Ref": arn, "TopicArn": arn}
        elif kind == "AWS::KMS::Key":
            metadata = self.kms.create_key(Description=logical_id)["KeyMetadata"]
            made = {"Ref": metadata["KeyId"], "Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}
        elif kind == "AWS::Events::EventBus":
            arn = self.events.create_event_bus(Name=logical_id)["EventBusArn"]
            made = {"Ref": logical_id, "Arn": arn, "Name": logical_id}
        else:
            raise SystemExit(f"coldstart: a function refers to {logical_id} ({kind}), which the harness cannot create")
        self.created[logical_id] = made
        return made


    def seed(self, bin_dir: Path, endpoint: str) -> None:
        """What the samples expect to find, loaded as the project loads it: the inventory from
        `events/tables/` (items as they are), the sensors with the `sensor-catalogue` tool."""
        serializer = TypeSerializer()
        for logical_id, file in TABLE_FILES.items():
            table = self.create(logical_id)["Ref"]
            for item in json.loads((ROOT / file).read_text(), parse_float=Decimal):
                self.dynamodb.put_item(TableName=table, Item={k: serializer.serialize(v) for k, v in item.items()})
        env = {**os.environ, **lambda_env("sensor-catalogue", 128, endpoint)}
        subprocess.run(
            [str(bin_dir / "sensor-catalogue"), "--table", self.create("SensorCatalogueTable")["Ref"],
             str(ROOT / "events/sensors/catalogue.json")],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )


class Function:
    """One binary to start: its environment and how to make a fresh invocation event."""

    def __init__(self, name: str, binary: Path, env: dict[str, str], sample: dict | None) -> None:
        self.name, self.binary, self.env, self.sample = name, binary, env, sample

    def event(self) -> dict:
        sample = self.sample
        if sample is None:  # hello world: any batch of 10
            return {"Records": [{"messageId": str(uuid.uuid4()), "body": "{}"} for _ in range(BATCH)]}
        if "Records" not in sample:  # a Function URL request, as it is
            return copy.deepcopy(sample)
        records = []
        for i in range(BATCH):
            record = copy.deepcopy(sample["Records"][i % len(sample["Records"])])
            record["messageId"] = str(uuid.uuid4())
            body = json.loads(record["body"])
            metadata = (body.get("detail") or body).get("metadata")
            if metadata is not None:
                metadata["id"] = str(uuid.uuid4())
            record["body"] = json.dumps(body)
            records.append(record)
        return {"Records": records}


def functions(template: dict, deployment: Deployment, bin_dir: Path, endpoint: str) -> list[Function]:
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        variables = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
        env = {key: deployment.resolve(value) for key, value in variables.items()}
        memory = props.get("MemorySize", template["Globals"]["Function"].get("MemorySize", 128))
        env.update(lambda_env(logical_id, memory, endpoint))
        found.append(Function(binary, bin_dir / binary, env, sample_of(binary)))
    found.sort(key=lambda f: f.name)
    hello = Function(HELLO, bin_dir / HELLO, lambda_env(HELLO, 256, endpoint), None)
    return [hello, *found]


def lambda_env(function_name: str, memory: int, endpoint: str) -> dict[str, str]:
    return {
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/30/[$LATEST]coldstart",
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


def sample_of(binary: str) -> dict:
    """The function's sample: an SQS batch for a queue's consumer, else a Function URL POST."""
    for pattern in ("*.sqs-eventbridge.json", "post-*.function-url.json"):
        candidates = sorted(
            (p for p in ROOT.glob(f"events/*/{binary}/{pattern}") if not any(w in p.name for w in SKIPPED_SAMPLE_WORDS)),
            key=lambda p: (len(p.name), p.name),
        )
        if candidates:
            return json.loads(candidates[0].read_text())
    raise SystemExit(f"coldstart: no SQS or Function URL POST sample for {binary} in events/")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cold_start(function: Function, warm: int, log) -> dict:
    api = RuntimeApi()
    env = {**function.env, "AWS_LAMBDA_RUNTIME_API": api.address}
    started = time.monotonic()
    proc = subprocess.Popen([str(function.binary)], env=env, stdout=log, stderr=log, cwd="/tmp")
    try:
        if not api.first_poll.wait(timeout=30):
            raise SystemExit(f"coldstart: {function.name} never asked for work (log: bench/coldstart/last-run.log)")
        init = api.first_poll_at - started
        first, kind, body = api.invoke(function.event())
        if kind != "response":
            raise SystemExit(f"coldstart: {function.name} failed its first invocation: {body[:300]!r}")
        failures = len(json.loads(body or b"{}").get("batchItemFailures", []) or []) if body.startswith(b"{") else 0
        warms = [api.invoke(function.event())[0] for _ in range(warm)]
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        api.close()
    return {"init": init, "first": first, "warm": statistics.median(warms) if warms else float("nan"),
            "rss": rss, "failures": failures}


class LatencyProxy:
    """Sits between the functions and moto: adds `latency` seconds to every AWS call, and
    counts calls by operation (`X-Amz-Target` for JSON protocols, `Action=` for SNS's query)."""

    def __init__(self, upstream: str, latency: float) -> None:
        self.calls: list[str] = []
        host, port = upstream.removeprefix("http://").split(":")
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.headers.get("X-Amz-Target") or next(
                    (p.split("=", 1)[1] for p in body.decode(errors="replace").split("&") if p.startswith("Action=")),
                    self.command,
                )
                proxy.calls.append(target.split(".")[-1])
                time.sleep(latency)
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def counted(self, action):
        """What `action()` returns, and the calls it made, as `Operation xN` text."""
        before = len(self.calls)
        result = action()
        made = self.calls[before:]
        names = sorted(set(made), key=made.index)
        return result, len(made), " ".join(f"{n}x{made.count(n)}" if made.count(n) > 1 else n for n in names)


def calls_per_batch(targets: list[Function], proxy: LatencyProxy, latency_ms: int, log) -> None:
    """One warm process per function: a batch of 10 new records, the same 10 again, 7 new and
    3 that cannot be read, then a batch of 1 (its time is what the batch of 10 is held to)."""
    print(f"AWS calls per invocation through moto, {latency_ms} ms added to every call; ms are wall time "
          "from handing the batch over to the answer")
    print(f"{'function':<18} {'10 new':>7} {'10 dup':>7} {'7+3 bad':>7} {'ms 10':>7} {'ms 1':>7} {'10/1':>6}  calls of 10 new")
    for function in targets:
        if function.name == HELLO:
            continue
        api = RuntimeApi()
        env = {**function.env, "AWS_ENDPOINT_URL": proxy.endpoint, "AWS_LAMBDA_RUNTIME_API": api.address}
        proc = subprocess.Popen([str(function.binary)], env=env, stdout=log, stderr=log, cwd="/tmp")
        try:
            api.first_poll.wait(timeout=30)
            api.invoke(function.event())  # warm: clients connected, caches filled
            fresh = function.event()
            (ms10, _, _), new, detail = proxy.counted(lambda: api.invoke(fresh))
            _, dup, _ = proxy.counted(lambda: api.invoke(fresh))
            mixed = function.event()
            if "Records" in mixed:
                for record in mixed["Records"][BATCH - 3:]:
                    record["body"] = "{not json"
            else:
                mixed["body"] = "{not json"
            _, mix, _ = proxy.counted(lambda: api.invoke(mixed))
            one = function.event()
            if "Records" in one:
                one["Records"] = one["Records"][:1]
            (ms1, _, _), _, _ = proxy.counted(lambda: api.invoke(one))
        finally:
            proc.kill()
            proc.wait()
            api.close()
        ratio = f"{ms10 / ms1:.2f}x" if "Records" in fresh else "-"
        print(f"{function.name:<18} {new:>7} {dup:>7} {mix:>7} {ms10 * 1000:>7.1f} {ms1 * 1000:>7.1f} {ratio:>6}  {detail}")


def main() -> None:
    mode = sys.argv[1]
    bin_dir = Path(sys.argv[2]).resolve()
    template, problems = decode(str(ROOT / "infra/template.yaml"))
    if template is None:
        raise SystemExit(f"coldstart: the template does not load: {problems}")
    moto, endpoint = start_moto(Path(sys.executable).parent)
    try:
        deployment = Deployment(template, endpoint)
        targets = functions(template, deployment, bin_dir, endpoint)
        deployment.seed(bin_dir, endpoint)
        with open(Path(__file__).parent / "last-run.log", "wb") as log:
            if mode == "calls":
                latency_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 20
                calls_per_batch(targets, LatencyProxy(endpoint, latency_ms / 1000), latency_ms, log)
                return
            cold_starts = int(sys.argv[3]) if len(sys.argv) > 3 else 10
            warm = int(sys.argv[4]) if len(sys.argv) > 4 else 5
            baseline = os.environ.get("BASELINE_BIN_DIR")
            if baseline:
                # The same functions built from another commit, started in the same run.
                targets += [
                    Function(f"{f.name}@base", Path(baseline).resolve() / f.binary.name, f.env, f.sample)
                    for f in targets
                    if f.name != HELLO
                ]
            runs: dict[str, list[dict]] = {f.name: [] for f in targets}
            # Interleaved, so the machine's noise falls on every binary alike.
            for _ in range(cold_starts):
                for function in targets:
                    runs[function.name].append(cold_start(function, warm, log))
            report(runs, cold_starts, warm)
    finally:
        moto.kill()
        moto.wait()


def report(runs: dict[str, list[dict]], cold_starts: int, warm: int) -> None:
    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    def span(name: str, key: str) -> str:
        values = [run[key] * 1000 for run in runs[name]]
        return f"{min(values):.1f}-{max(values):.1f}"

    base_init, base_rss = median(HELLO, "init"), median(HELLO, "rss")
    print(f"{cold_starts} cold starts each, interleaved, {warm} warm invocations after each; ms as min-max, "
          f"ratios of medians to {HELLO}'s")
    print(f"{'function':<23} {'init ms':>11} {'x hello':>8} {'first ms':>12} {'warm ms':>10} "
          f"{'peak RSS MB':>11} {'x hello':>8} {'failed':>6}")
    worst = 0.0
    for name in runs:
        init_ratio = median(name, "init") / base_init
        if name != HELLO and "@" not in name:
            worst = max(worst, init_ratio)
        print(f"{name:<23} {span(name, 'init'):>11} {init_ratio:>7.2f}x {span(name, 'first'):>12} "
              f"{median(name, 'warm') * 1000:>10.2f} {median(name, 'rss'):>11.1f} "
              f"{median(name, 'rss') / base_rss:>7.2f}x {runs[name][0]['failures']:>6}")
    print(f"worst init: {worst:.2f}x the hello world's (goal of issue 15: at most 1.25x); "
          f"largest peak RSS: {max(median(n, 'rss') for n in runs if '@' not in n):.1f} MB (goal: at most 32 MB)")


if __name__ == "__main__":
    main()
