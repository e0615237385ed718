#!/usr/bin/env python3
"""`make e2e`: the whole stack on its production code paths, on moto.

1. Starts moto (server mode, loopback) and creates every resource of `infra/template.yaml`
   through the AWS APIs (tests/e2e/stack.py), plus two taps of the harness's own: a queue on a
   rule that matches every event on the bus, and a queue subscribed to every topic.
2. Loads what the scenarios expect (the inventory the local run stocked, the sensor catalogue
   with the project's `sensor-catalogue` tool).
3. Hosts every function's release binary as Lambda does (tests/e2e/lambdas.py): Runtime API,
   the template's environment, SQS event source mappings, scheduled rules, Function URLs. Every
   AWS call the functions make goes through a proxy that counts it and injects faults.
4. Plays every scenario file at once, each on its domain's clock (DOMAINS: the sensors' hour
   runs 20 times faster than the wall clock; each function process reads its domain's clock
   through libfaketime), until every queue has drained.
5. Reads the real resources back, checks the stack's invariants, and compares each domain's
   outcome with the local cloud's of the same file (`localcloud play --outcome`): they may
   differ only in timing.
6. Runs the repair tools (`events dlq ...`, `events parked ...`) on what the run left, while
   the functions still consume (tests/e2e/repair.py).

Faults on the real wire, besides the scenarios' malformed requests and messages:
- a throttled table: the first THROTTLES writes (PutItem) to the orders view table are answered
  with DynamoDB's ProvisionedThroughputExceededException;
- a crash mid-batch: reserve-inventory's process is killed right after its first reservation
  was written, before it answered; the batch comes back after the queue's visibility timeout and
  nothing is done twice (stock and states are compared with the local run's).

usage: run.py BIN_DIR LOCALCLOUD [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import observe  # noqa: E402
import repair  # noqa: E402
from domains import DOMAINS, domain_of  # noqa: E402
import scenario as scenarios  # noqa: E402
from aws import CallProxy, Clients, Faults, LocalAws  # noqa: E402
from lambdas import Clock, EventSourceMapping, LambdaHost, Scheduler  # noqa: E402
from stack import ACCOUNT, REGION, ROOT, Stack, load_template  # noqa: E402


# `localcloud play` fires scheduled rules until this long after the last input; so does e2e.
SCHEDULES_AFTER_MS = 10 * 60 * 1000
# Where `localcloud play` starts a scenario without a `// start:` line.
DEFAULT_START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
# What moto (5.2.5) does not do that AWS would, and what of it the harness does instead.
MOTO_GAPS = [
    "Lambda (moto runs functions only in Docker): the harness hosts every function's release binary, "
    "its Runtime API, the SQS event source mappings, Function URLs and asynchronous invocations",
    "EventBridge schedules: moto stores rate() rules and never fires them; the harness fires them",
    "EventBridge rule targets' RetryPolicy and DeadLetterConfig, bus policies, IAM roles and KMS key "
    "policies: stored, never evaluated (template.rs proves least privilege from the declarations)",
    "X-Ray: moto records no traces and drops the headers AWS hands on (PutEvents' TraceHeader, SNS's "
    "X-Amzn-Trace-Id, SendMessageBatch's AWSTraceHeader); moto_server.py hands them on to SQS's AWSTraceHeader, "
    "the harness gives each invocation a Lambda-Runtime-Trace-Id",
    "DynamoDB TTL: items never expire; SQS and SNS encryption settings: stored, nothing encrypted",
]
SETTLE_LIMIT_SECONDS = 240
PROGRESS_SECONDS = 15


def main() -> int:
    args = parse_args()
    playing = [d for d in DOMAINS if args.only in (None, d.name)]
    for setting in args.speed:
        name, _, speed = setting.partition("=")
        domain = next((d for d in DOMAINS if d.name == name), None)
        if domain is None or not speed.replace(".", "", 1).isdigit() or float(speed) <= 0:
            raise SystemExit(f"e2e: --speed {setting}: expected DOMAIN=N with DOMAIN one of {[d.name for d in DOMAINS]}")
        domain.speed = float(speed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    local = local_outcomes(playing, Path(args.localcloud), out)
    aws = LocalAws(Path(sys.executable).parent, out)
    print(f"moto {aws.rest.version()} on {aws.rest.endpoint}; local outcomes in {time.monotonic() - began:.1f} s")
    try:
        return run(args, playing, aws, local, out, began)
    finally:
        aws.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bin_dir", help="the release binaries (cargo build --release)")
    parser.add_argument("localcloud", help="the localcloud binary, for the local outcomes")
    parser.add_argument("--only", choices=[d.name for d in DOMAINS], help="play one domain's scenario alone")
    parser.add_argument("--speed", action="append", default=[], metavar="DOMAIN=N",
                        help="run a domain's clock N times faster than the wall clock (default: each domain's own)")
    parser.add_argument("--out", default=str(ROOT / "target/e2e"), help="logs and the report")
    return parser.parse_args()


def local_outcomes(playing, localcloud: Path, out: Path) -> dict[str, dict]:
    """Each domain's outcome of its scenario on the local cloud, without faults."""
    outcomes = {}
    for domain, path in ((d.name, d.scenario) for d in playing):
        file = out / f"{domain}.local.json"
        run = subprocess.run(
            [str(localcloud), "play", str(path), "--domain", domain, "--outcome", str(file)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        if run.returncode != 0 or not file.exists():
            raise SystemExit(f"e2e: localcloud play {path.name} --outcome failed: {run.stderr.strip()[-2000:]}")
        outcomes[domain] = json.loads(file.read_text())
        if outcomes[domain].get("violations"):
            raise SystemExit(f"e2e: the local run of {path.name} breaks invariants: {outcomes[domain]['violations']}")
    return outcomes


def run(args, playing, aws: LocalAws, local: dict[str, dict], out: Path, began: float) -> int:
    clients = Clients(aws)
    template = load_template()
    stack = Stack(template, clients)
    stack.create_all()
    taps = add_taps(stack, clients)
    provisioned = time.monotonic() - began
    for domain in playing:
        domain.seed(stack, clients, local[domain.name], Path(args.bin_dir), clients.router.endpoint)

    played = {d.name: scenarios.load(d.scenario) for d in DOMAINS}
    # Every domain's functions run on its clock, played or not.
    clocks = {d.name: Clock(played[d.name].start or DEFAULT_START, d.speed, out / f"{d.name}.clock") for d in DOMAINS}
    log = open(out / "functions.log", "wb")
    functions = stack.functions()
    faults = Faults()
    proxy = CallProxy(aws, faults=faults)
    host = LambdaHost(functions, Path(args.bin_dir), proxy.endpoint, clocks_of(functions, clocks), log)
    for domain in playing:
        domain.inject(stack, host, faults)

    fifo = {m.logical_id: stack.made[stack.logical_id_of_arn(m.queue_arn)].ref.endswith(".fifo") for m in stack.mappings()}
    mappings = [EventSourceMapping(m, clients.sqs, host, fifo[m.logical_id]) for m in stack.mappings()]
    undelivered = stack.queue_url("UndeliveredEventsQueue")

    def on_failure(event: dict, result) -> None:
        clients.sqs.send_message(QueueUrl=undelivered, MessageBody=json.dumps({
            "requestPayload": event, "responseContext": {"functionError": result.kind},
            "requestContext": {"condition": "RetriesExhausted"},
        }))

    # Schedules of the domains played: another domain's functions are deployed, and idle.
    schedulers = [
        Scheduler(s, host, on_failure) for s in stack.schedules()
        if domain_of(functions[s.function].binary) in playing
    ]
    for scheduler in schedulers:
        domain = domain_of(host.functions[scheduler.schedule.function].binary)
        scheduler.until_ms = scheduler.clock.start_ms + played[domain.name].last_at + SCHEDULES_AFTER_MS
    for mapping in mappings:
        mapping.start()
    for scheduler in schedulers:
        scheduler.start()
    players = [scenarios.Player(played[d.name], stack, host, clocks[d.name], clients) for d in playing]
    play_began = time.monotonic()
    for player in players:
        player.start()
    settled = settle(players, schedulers, mappings, host, clients, stack, proxy)
    play_seconds = time.monotonic() - play_began

    exchanges = [e for p in players for e in p.exchanges]
    collected = observe.collect(stack, clients, exchanges, taps)
    labels = {
        domain: {s.get("label") or f"line {s['line']}" for s in p.scenario.steps}
        for domain, p in zip((d.name for d in playing), players)
    }
    e2e = {d.name: d.outcome(stack, collected, labels[d.name]) for d in playing}
    differences = {d.name: d.compare(local[d.name], e2e[d.name]) for d in playing}
    problems = observe.stack_invariants(collected, expected_dead=0)
    if not settled:
        problems.append(f"the run did not settle within {SETTLE_LIMIT_SECONDS} s of its last input")
    for domain in playing:
        problems.extend(domain.problems())
    report = summary(playing, stack, host, mappings, schedulers, proxy, collected, e2e, local, differences, problems,
                     provisioned, play_seconds, time.monotonic() - began, aws)
    # The repair tools on what the run left, while the functions still consume (repair.py).
    repaired = repair.exercise(stack, clients, collected, Path(args.bin_dir), taps,
                               lambda: idle(host, mappings, clients), out)
    report += "\n" + repair.summary(repaired)
    for mapping in mappings:
        mapping.stop()
    for scheduler in schedulers:
        scheduler.stop()
    host.close()
    proxy.close()
    log.close()
    print(report)
    (out / "report.txt").write_text(report)
    (out / "e2e.json").write_text(json.dumps(e2e, indent=2, sort_keys=True))
    # What the real resources held at the end, to read a difference back from.
    (out / "tables.json").write_text(json.dumps(collected.tables, indent=1, sort_keys=True, default=str))
    failed = problems or any(differences.values()) or repaired.problems
    return 1 if failed else 0


def clocks_of(functions, clocks: dict[str, Clock]) -> dict[str, Clock]:
    """Each function's clock: its domain's."""
    return {logical_id: clocks[domain_of(f.binary).name] for logical_id, f in functions.items()}


def add_taps(stack: Stack, clients) -> dict[str, observe.Tap]:
    """The harness's own observers, not part of the stack: a queue on a rule matching every
    event on the bus, and a queue subscribed to every topic (raw delivery off, so each message
    says which topic sent it)."""
    bus = next(m.ref for i, m in stack.made.items() if stack.resources[i]["Type"] == "AWS::Events::EventBus")
    queues = {}
    for name in ("bus", "topics"):
        url = clients.sqs.create_queue(QueueName=f"e2e-tap-{name}")["QueueUrl"]
        queues[name] = url
    bus_tap_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:e2e-tap-bus"
    clients.events.put_rule(Name="e2e-tap", EventBusName=bus, EventPattern=json.dumps({"account": [ACCOUNT]}))
    clients.events.put_targets(Rule="e2e-tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": bus_tap_arn}])
    for topic in observe.topic_ids(stack):
        clients.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:e2e-tap-topics")
    return {name: observe.Tap(clients, url) for name, url in queues.items()}


def progress(players, host, proxy, began: float) -> None:
    """A line every PROGRESS_SECONDS: where each scenario is, what ran, how fast AWS answers."""
    calls = sum(proxy.calls.values())
    ran = ", ".join(
        f"{host.functions[i].binary} {s.invocations}" + (f" ({s.timeouts} timed out)" if s.timeouts else "")
        for i, s in sorted(host.stats.items()) if s.invocations
    )
    sent = ", ".join(f"{p.scenario.path.stem} {p.sent}/{len(p.scenario.steps)}" for p in players)
    print(f"[{time.monotonic() - began:5.0f} s] sent {sent}; {calls} AWS calls; invoked {ran}", flush=True)


def settle(players, schedulers, mappings, host, clients, stack, proxy) -> bool:
    """Waits until every input is sent, the schedules are over, and every queue a function reads
    is empty with nothing in flight, twice in a row."""
    began = time.monotonic()
    last = began
    while not all(p.done.is_set() for p in players):
        time.sleep(0.5)
        if time.monotonic() - last >= PROGRESS_SECONDS:
            last = time.monotonic()
            progress(players, host, proxy, began)
    deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
    urls = [m.mapping.queue_url for m in mappings]
    quiet = 0
    while time.monotonic() < deadline:
        schedules_over = all(not s.thread.is_alive() for s in schedulers)
        sent = all(p.sent == len(p.scenario.steps) for p in players)
        empty = schedules_over and sent and host.busy() == 0 and all(m.idle() for m in mappings) and all(
            queue_empty(clients, url) for url in urls
        )
        quiet = quiet + 1 if empty else 0
        if quiet >= 2:
            return True
        time.sleep(1)
        if time.monotonic() - last >= PROGRESS_SECONDS:
            last = time.monotonic()
            progress(players, host, proxy, began)
    return False


def idle(host, mappings, clients) -> bool:
    """No function running, no batch in flight, every queue a function reads empty."""
    return host.busy() == 0 and all(m.idle() for m in mappings) and all(
        queue_empty(clients, m.mapping.queue_url) for m in mappings
    )


def queue_empty(clients, url: str) -> bool:
    attributes = clients.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    return all(int(v) == 0 for v in attributes.values())


def summary(playing, stack, host, mappings, schedulers, proxy, collected, e2e, local, differences, problems,
            provisioned, play_seconds, total, aws) -> str:
    lines = ["", "== e2e: the stack from infra/template.yaml on moto, the release binaries as Lambda runs them =="]
    kinds = Counter(stack.resources[i]["Type"].split("::", 1)[1] for i in stack.made)
    made = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    lines.append(f"Provisioned {len(stack.made)} resources ({made}) "
                 f"on moto {aws.rest.version()} (SQS, SNS, EventBridge and the rest on one server, each DynamoDB table "
                 f"on its own: {1 + len(aws.dynamodb)} servers) in {provisioned:.1f} s")
    speeds = ", ".join(f"{d.name} at {d.speed:g}x" for d in playing)
    lines.append(f"Played every scenario at once ({speeds}) in {play_seconds:.1f} s, until every queue drained; {total:.1f} s in all")
    lines.append("What moto does not do and the harness does, or leaves undone:")
    lines.extend(f"  - {gap}" for gap in MOTO_GAPS)
    lines.append("")
    lines.append(f"{'function':<20} {'invoked':>7} {'cold':>5} {'errors':>6} {'crashes':>7} {'timeouts':>8} {'peak':>5} {'ms/inv':>7}")
    for logical_id, stats in sorted(host.stats.items(), key=lambda kv: host.functions[kv[0]].binary):
        mean = stats.seconds / stats.invocations * 1000 if stats.invocations else 0
        lines.append(f"{host.functions[logical_id].binary:<20} {stats.invocations:>7} {stats.cold_starts:>5} {stats.errors:>6} "
                     f"{stats.crashes:>7} {stats.timeouts:>8} {stats.peak_concurrency:>5} {mean:>7.1f}")
    lines.append("")
    lines.append(f"{'event source mapping':<36} {'batches':>7} {'records':>7} {'mean':>5} {'retried':>7} {'failed inv.':>11}")
    for mapping in mappings:
        s = mapping.stats
        mean = s.records / s.batches if s.batches else 0
        lines.append(f"{mapping.mapping.logical_id:<36} {s.batches:>7} {s.records:>7} {mean:>5.1f} {s.left_for_retry:>7} {s.failed_invocations:>11}")
    for scheduler in schedulers:
        lines.append(f"{scheduler.schedule.rule}: {scheduler.ticks} ticks, {scheduler.failed} sent to the on-failure destination")
    lines.append("")
    lines.append(f"AWS calls by the functions, {sum(proxy.calls.values())} in all:")
    by_service: dict[str, Counter] = {}
    for (service, operation), n in proxy.calls.items():
        by_service.setdefault(service, Counter())[operation] = n
    for service, operations in sorted(by_service.items()):
        detail = ", ".join(f"{op} {n}" for op, n in operations.most_common())
        lines.append(f"  {service:<8} {sum(operations.values()):>6}  {detail}")
    lines.append("")
    for domain in playing:
        lines.extend(domain.summary(e2e[domain.name], local[domain.name]))
    distinct = len({e["detail"]["metadata"]["id"] for e in collected.bus if "metadata" in e.get("detail", {})})
    lines.append(f"Events on the bus: {len(collected.bus)} ({distinct} distinct: a reading sent twice is one event); "
                 f"in the event store: {len(collected.tables.get('EventStoreTable', []))}")
    lines.append("")
    for domain, found in differences.items():
        if found:
            lines.append(f"{domain}: {len(found)} differences from the local run of the same file:")
            lines.extend(f"  - {d}" for d in found[:40])
        else:
            lines.append(f"{domain}: the same outcome as the local run of the same file (timing aside)")
    if problems:
        lines.append("Stack invariants broken:")
        lines.extend(f"  - {p}" for p in problems)
    else:
        lines.append("Stack invariants hold: every bus event stored once, nothing dead-lettered, every request answered.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
