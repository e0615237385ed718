#!/usr/bin/env python3
"""Cold starts of every function next to a hello-world `lambda_runtime` function, in one run.

Plays the Lambda Runtime API on loopback and starts each function's binary as Lambda starts a
`provided.al2023` bootstrap: `AWS_LAMBDA_RUNTIME_API`, the function's name, memory, region and
credentials, and the template's environment (Globals and the function's own variables) with
every `!Ref`/`!GetAtt` resolved to a resource created in moto (by tests/e2e/stack.py, the one
resolver of the deployed stack), which `AWS_ENDPOINT_URL` reaches through the e2e harness's
proxy (it routes DynamoDB to its own moto server). For each binary, COLD_STARTS times over:

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
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from boto3.dynamodb.types import TypeSerializer

ROOT = Path(__file__).resolve().parents[2]
# One resolver of the deployed stack for every harness: the e2e run's.
sys.path.insert(0, str(ROOT / "tests/e2e"))

from aws import CallProxy, Clients, LocalAws  # noqa: E402
from lambdas import RuntimeApi, lambda_env  # noqa: E402
from stack import Stack, load_template  # noqa: E402

BATCH = 10
HELLO = "hello-world"
SKIPPED_SAMPLE_WORDS = ("bad", "missing", "unknown", "replayed", "invalid")
TABLE_FILES = {"InventoryTable": "events/tables/inventory.json"}


def seed(stack: Stack, clients: Clients, bin_dir: Path, endpoint: str) -> None:
    """What the samples expect to find, loaded as the project loads it: the inventory from
    `events/tables/` (items as they are), the sensors with the `sensor-catalogue` tool."""
    serializer = TypeSerializer()
    for logical_id, file in TABLE_FILES.items():
        table = stack.create(logical_id).ref
        for item in json.loads((ROOT / file).read_text(), parse_float=Decimal):
            clients.dynamodb.put_item(TableName=table, Item={k: serializer.serialize(v) for k, v in item.items()})
    subprocess.run(
        [str(bin_dir / "sensor-catalogue"), "--table", stack.create("SensorCatalogueTable").ref,
         str(ROOT / "events/sensors/catalogue.json")],
        env={**os.environ, **lambda_env("sensor-catalogue", 128, endpoint)}, check=True, stdout=subprocess.DEVNULL,
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


def functions(stack: Stack, bin_dir: Path, endpoint: str) -> list[Function]:
    found = []
    for function in stack.functions().values():
        env = {**function.env, **lambda_env(function.name, function.memory, endpoint)}
        found.append(Function(function.binary, bin_dir / function.binary, env, sample_of(function.binary)))
    found.sort(key=lambda f: f.name)
    hello = Function(HELLO, bin_dir / HELLO, lambda_env(HELLO, 256, endpoint), None)
    return [hello, *found]


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


def calls_per_batch(targets: list[Function], proxy: CallProxy, latency_ms: int, log) -> None:
    """One warm process per function: a batch of 10 new records, the same 10 again, 7 new and
    3 that cannot be read, then a batch of 1 (its time is what the batch of 10 is held to)."""
    print(f"AWS calls per invocation through moto, {latency_ms} ms added to every call; ms are wall time "
          "from handing the batch over to the answer")
    print(f"{'function':<18} {'10 new':>7} {'10 dup':>7} {'7+3 bad':>7} {'ms 10':>7} {'ms 1':>7} {'10/1':>6}  calls of 10 new")
    for function in targets:
        if function.name == HELLO:
            continue
        api = RuntimeApi()
        env = {**function.env, "AWS_LAMBDA_RUNTIME_API": api.address}
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
    aws = LocalAws(Path(sys.executable).parent, Path(tempfile.mkdtemp(prefix="coldstart-")))
    try:
        clients = Clients(aws)
        stack = Stack(load_template(), clients)
        latency_ms = int(sys.argv[3]) if mode == "calls" and len(sys.argv) > 3 else (20 if mode == "calls" else 0)
        # The functions reach both moto servers through one proxy, which routes by service (and,
        # for `calls`, adds the latency and counts).
        proxy = CallProxy(aws, latency=latency_ms / 1000)
        # Only what the functions refer to: each resource is created on its first reference.
        targets = functions(stack, bin_dir, proxy.endpoint)
        seed(stack, clients, bin_dir, clients.router.endpoint)
        with open(Path(__file__).parent / "last-run.log", "wb") as log:
            if mode == "calls":
                calls_per_batch(targets, proxy, latency_ms, log)
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
        aws.stop()


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
