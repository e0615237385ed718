"""What the real resources hold after a run, read through the APIs, in the shape of the local
cloud's outcome of the same scenario (`localcloud play --outcome`), and the differences
between the two. Only timing may differ: every difference is reported."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass

from boto3.dynamodb.types import TypeDeserializer

from scenario import Exchange
from stack import Stack

DESERIALIZER = TypeDeserializer()


def scan(clients, table: str) -> list[dict]:
    items = []
    for page in clients.dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend({k: DESERIALIZER.deserialize(v) for k, v in item.items()} for item in page["Items"])
    return items


def drain(clients, url: str) -> list[dict]:
    """Every message in the queue, each received once and left where it is (hidden for ten
    minutes, which outlasts the run)."""
    messages = []
    empty = 0
    while empty < 2:
        got = clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=0,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        messages.extend(got)
        empty = 0 if got else empty + 1
    return messages


def attribute(message: dict, name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return value.get("StringValue") if value else None


class Tap:
    """A queue the harness reads as the run goes: every message kept in memory, deleted from
    the queue at once (moto computes a queue's attributes over all its messages on every send,
    so a queue left to fill makes each send slower than the last)."""

    def __init__(self, clients, url: str) -> None:
        self.clients = clients
        self.url = url
        self.bodies: list[dict] = []
        self.traces: list[str | None] = []  # each body's X-Ray trace root (`AWSTraceHeader`)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True, name=f"tap {url.rsplit('/', 1)[-1]}")
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.take(wait=1)

    def take(self, wait: int) -> int:
        messages = self.clients.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["AWSTraceHeader"],
        ).get("Messages", [])
        if messages:
            self.bodies.extend(json.loads(m["Body"]) for m in messages)
            self.traces.extend(trace_root(m.get("Attributes", {}).get("AWSTraceHeader")) for m in messages)
            self.clients.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return len(messages)

    def stop(self) -> list[dict]:
        """Everything the queue received, to the last message."""
        self.stopping.set()
        self.thread.join()
        while self.take(wait=0):
            pass
        return self.bodies


@dataclass
class Collected:
    """Everything read back from the stack after a run."""

    tables: dict[str, list[dict]]
    queues: dict[str, list[dict]]
    bus: list[dict]  # every event the bus carried (the harness's tap rule)
    notifications: list[dict]  # every message the topics published (the harness's tap subscriptions)
    exchanges: list[Exchange]
    dead_letter_queues: list[str]
    bus_traces: list[str | None]  # the X-Ray trace root each of `bus` arrived in
    notification_traces: list[str | None]  # and each of `notifications`


def collect(stack: Stack, clients, exchanges: list[Exchange], taps: dict[str, Tap]) -> Collected:
    tables = {
        logical_id: scan(clients, stack.made[logical_id].ref)
        for logical_id, r in stack.resources.items()
        if r["Type"] == "AWS::DynamoDB::Table" and logical_id in stack.made
    }
    queues = {
        logical_id: drain(clients, stack.made[logical_id].ref)
        for logical_id, r in stack.resources.items()
        if r["Type"] == "AWS::SQS::Queue" and logical_id in stack.made
    }
    dead = set()
    for logical_id, r in stack.resources.items():
        policy = r.get("Properties", {}).get("RedrivePolicy") if r["Type"] in ("AWS::SQS::Queue", "AWS::SNS::Subscription") else None
        if policy:
            target = policy["deadLetterTargetArn"]
            dead.add(target["Fn::GetAtt"][0] if isinstance(target, dict) else stack.logical_id_of_arn(target))
    dead.add("UndeliveredEventsQueue")
    bus, notifications = taps["bus"].stop(), taps["topics"].stop()
    return Collected(
        tables, queues, bus, notifications, exchanges, sorted(dead), taps["bus"].traces, taps["topics"].traces,
    )


def trace_root(header: str | None) -> str | None:
    """The `Root` of an X-Ray trace header (`Root=1-...;Parent=...;Sampled=1`)."""
    fields = dict(part.split("=", 1) for part in (header or "").split(";") if "=" in part)
    return fields.get("Root")


def topic_ids(stack: Stack) -> dict[str, str]:
    return {
        made.ref: logical_id for logical_id, made in stack.made.items()
        if stack.resources[logical_id]["Type"] == "AWS::SNS::Topic"
    }


def parked(collected: Collected) -> list[dict]:
    """Parked records, each once (parking is at least once: a crash after parking parks the
    record again, with the same original message id)."""
    seen, found = set(), []
    for message in collected.queues.get("ParkingQueue", []):
        original = attribute(message, "original-message-id")
        if original and original in seen:
            continue
        seen.add(original)
        found.append(message)
    return found


def stack_invariants(collected: Collected, expected_dead: int) -> list[str]:
    """What must hold of the stack whatever the domain: every event on the bus is in the event
    store, nothing dead-lettered but what the scenarios send there, every request answered."""
    problems = []
    stored = Counter(item["id"] for item in collected.tables.get("EventStoreTable", []))
    on_bus = {event["detail"]["metadata"]["id"] for event in collected.bus if "metadata" in event.get("detail", {})}
    missing = sorted(on_bus - set(stored))
    if missing:
        problems.append(f"{len(missing)} events on the bus are not in the event store (first: {missing[:3]})")
    twice = [event_id for event_id, n in stored.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} events stored twice (first: {twice[:3]})")
    dead = {q: len(collected.queues.get(q, [])) for q in collected.dead_letter_queues if collected.queues.get(q)}
    if sum(dead.values()) != expected_dead:
        problems.append(f"dead-lettered: {dead} (the scenarios send {expected_dead} there)")
    for exchange in collected.exchanges:
        if exchange.kind == "harness-error":
            problems.append(f"{exchange.label}: could not be sent: {exchange.body}")
        elif exchange.status is None:
            problems.append(f"{exchange.label}: not answered ({exchange.kind})")
    return problems
