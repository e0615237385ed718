"""The repair tools (`events dlq ...`, `events parked ...`) against the stack the run left, with
its functions still consuming: after both scenarios played and their outcomes were read back.

1. The parked records and dead letters the run left are made visible again (reading them back
   hid them for ten minutes).
2. `dlq list` names every dead-letter queue of the template; `parked list` the records the
   scenarios parked; `parked show` the malformed one with the queue it came from.
3. `parked resubmit` of the malformed record is refused without an edit (so is `--reason
   too-late`); with a fixed body (the event the sender meant: an order already placed) it is
   sent back to its queue, claimed in the idempotency table, and unparked. A second parked copy
   of the same record (a redelivery parked twice) is then refused by the ledger, "already
   resubmitted", and its leftover deleted.
4. A copy of an already-processed OrderPlaced is put in reserve-inventory's DLQ; `dlq show`
   decodes it, `dlq redrive --rate 10` moves it back with SQS's message move task.
5. Consumers absorb both as duplicates: nothing new on the bus or the topics (the harness's
   taps, counted before and after), nothing parked anew.

A problem found is a line of `problems`; the run fails on any.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import observe
from stack import ACCOUNT, REGION, STACK, Stack

QUIET_LIMIT_SECONDS = 90


@dataclass
class Repaired:
    """What the repair tools did, and what was wrong."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, holds: bool, problem: str) -> None:
        if not holds:
            self.problems.append(problem)


class Events:
    """The `events` binary against the stack, as an operator runs it."""

    def __init__(self, binary: Path, stack: Stack, endpoint: str, log: list[str]) -> None:
        self.binary = binary
        self.log = log
        bus = next(m.ref for i, m in stack.made.items() if stack.resources[i]["Type"] == "AWS::Events::EventBus")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": endpoint,
            "STACK_NAME": STACK,
            "EVENT_BUS_NAME": bus,
            "PARKING_QUEUE_URL": stack.queue_url("ParkingQueue"),
            "IDEMPOTENCY_TABLE": stack.made["IdempotencyTable"].ref,
        }

    def __call__(self, *args: str) -> tuple[int, str]:
        run = subprocess.run([str(self.binary), *args], env=self.env, capture_output=True, text=True, timeout=120)
        text = (run.stdout + run.stderr).strip()
        self.log.append(f"$ events {' '.join(args)}  (exit {run.returncode})")
        self.log.extend(f"  {line}" for line in text.splitlines()[:12])
        return run.returncode, text


def exercise(stack: Stack, clients, collected: observe.Collected, bin_dir: Path, taps: dict[str, observe.Tap],
             quiet: Callable[[], bool], out: Path) -> Repaired:
    """Runs the repair tools on the stack the run left; `quiet` says when the functions are idle."""
    repaired = Repaired()
    say = repaired.lines
    events = Events(bin_dir / "events", stack, clients.router.endpoint, say)
    parking_url = stack.queue_url("ParkingQueue")
    for logical_id in ["ParkingQueue", *collected.dead_letter_queues]:
        restore(clients, stack.queue_url(logical_id), collected.queues.get(logical_id, []))
    bus_tap = observe.Tap(clients, taps["bus"].url)
    topics_tap = observe.Tap(clients, taps["topics"].url)

    code, text = events("dlq", "list")
    listed = [line.split()[0] for line in text.splitlines()]
    expected = {stack.made[d].ref.rsplit("/", 1)[-1] for d in collected.dead_letter_queues}
    repaired.check(code == 0 and expected <= set(listed),
                   f"dlq list: expected every DLQ {sorted(expected)}, got (exit {code}): {text[-400:]}")

    code, text = events("parked", "list")
    parked = parked_ids(text)
    repaired.check(code == 0 and parked, f"parked list found nothing (exit {code}): {text[-400:]}")
    malformed = [i for i, kind in parked if kind == "malformed-json"]
    if malformed:
        resubmit_fixed(events, clients, stack, collected, parking_url, malformed[0], repaired, out)
    if any(kind == "too-late" for _, kind in parked):
        code, text = events("parked", "resubmit", "--reason", "too-late")
        repaired.check(code == 1 and "cannot succeed as it is" in text,
                       f"resubmit --reason too-late was not refused as needing an edit (exit {code}): {text[-400:]}")
    redrive_processed(events, clients, stack, collected, repaired)

    settled = wait(quiet)
    repaired.check(settled, f"the functions did not go quiet within {QUIET_LIMIT_SECONDS} s of the repairs")
    new_events, notifications = bus_tap.stop(), topics_tap.stop()
    repaired.check(not new_events, f"consumers put {len(new_events)} new events on the bus after the repairs: "
                                   f"{[e.get('detail-type') for e in new_events][:10]}")
    repaired.check(not notifications, f"consumers published {len(notifications)} notifications after the repairs")
    say.append(f"after the resubmit and the redrive: {len(new_events)} new events on the bus, "
               f"{len(notifications)} notifications: both absorbed as duplicates")
    parked_after = observe.drain(clients, parking_url)
    left = sorted(observe.attribute(m, "parked-kind") or "?" for m in parked_after)
    expected_left = sorted(kind for i, kind in parked if kind != "malformed-json")
    repaired.check(left == expected_left, f"parked after the repairs: {left}, expected {expected_left}")
    return repaired


def restore(clients, url: str, drained: list[dict]) -> None:
    """Makes the messages `observe.drain` hid visible again."""
    for message in drained:
        clients.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def parked_ids(listing: str) -> list[tuple[str, str]]:
    """(id, kind) of each message `parked list` printed: lines `<id>  [<kind>] by ...`."""
    found = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("[") and parts[1].endswith("]"):
            found.append((parts[0], parts[1][1:-1]))
    return found


def processed_order_placed(collected: observe.Collected) -> dict:
    """An OrderPlaced the bus carried (so reserve-inventory handled it), as a rule delivers it."""
    for event in collected.bus:
        if event.get("detail-type") == "OrderPlaced":
            return event
    raise LookupError("the bus carried no OrderPlaced")


def resubmit_fixed(events: Events, clients, stack: Stack, collected: observe.Collected, parking_url: str,
                   malformed: str, repaired: Repaired, out: Path) -> None:
    code, text = events("parked", "show", malformed)
    source = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{stack.made['ReserveInventoryQueue'].ref.rsplit('/', 1)[-1]}"
    repaired.check(code == 0 and "kind: malformed-json" in text and f"came from: {source}" in text,
                   f"parked show {malformed}: expected malformed-json from {source} (exit {code}): {text[-600:]}")
    code, text = events("parked", "resubmit", malformed)
    repaired.check(code == 1 and "cannot succeed as it is" in text and "--body" in text,
                   f"resubmit of the malformed record without an edit was not refused (exit {code}): {text[-400:]}")
    # A second parked copy of the same record: what a redelivery parked again leaves.
    copy = copy_parked(clients, parking_url, malformed)
    fixed = out / "fixed-order-placed.json"
    fixed.write_text(json.dumps(processed_order_placed(collected)))
    code, text = events("parked", "resubmit", malformed, "--body", str(fixed))
    repaired.check(code == 0 and "resubmitted to" in text,
                   f"resubmit with a fixed body failed (exit {code}): {text[-400:]}")
    code, text = events("parked", "resubmit", copy, "--body", str(fixed))
    repaired.check(code == 0 and "already resubmitted at" in text and "deleted the leftover" in text,
                   f"the ledger did not refuse a second resubmit of the same record (exit {code}): {text[-400:]}")


def copy_parked(clients, parking_url: str, parked_id: str) -> str:
    """Puts a copy of parked message `parked_id` (body and attributes) on the parking queue."""
    for message in observe.drain(clients, parking_url):
        clients.sqs.change_message_visibility(QueueUrl=parking_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
        if message["MessageId"] == parked_id:
            original = message
    attributes = {
        name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
        for name, value in original.get("MessageAttributes", {}).items()
    }
    return clients.sqs.send_message(QueueUrl=parking_url, MessageBody=original["Body"],
                                    MessageAttributes=attributes)["MessageId"]


def redrive_processed(events: Events, clients, stack: Stack, collected: observe.Collected, repaired: Repaired) -> None:
    dlq = stack.made["ReserveInventoryDeadLetterQueue"].ref
    name = dlq.rsplit("/", 1)[-1]
    try:
        event = processed_order_placed(collected)
    except LookupError:
        repaired.lines.append("dlq redrive: skipped, the orders scenario was not played")
        return
    clients.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(event))
    code, text = events("dlq", "show", name)
    repaired.check(code == 0 and "OrderPlaced" in text and "received" in text,
                   f"dlq show {name} did not decode the dead letter (exit {code}): {text[-600:]}")
    code, text = events("dlq", "redrive", name, "--rate", "10")
    repaired.check(code == 0 and "COMPLETED: 1 moved of 1" in text,
                   f"dlq redrive {name} did not complete moving one message (exit {code}): {text[-600:]}")


def wait(quiet: Callable[[], bool]) -> bool:
    """Until the functions are idle twice in a row, at most QUIET_LIMIT_SECONDS."""
    deadline = time.monotonic() + QUIET_LIMIT_SECONDS
    streak = 0
    time.sleep(2)
    while time.monotonic() < deadline:
        streak = streak + 1 if quiet() else 0
        if streak >= 2:
            return True
        time.sleep(1)
    return False


def summary(repaired: Repaired) -> str:
    """The report's section on the repair tools."""
    lines = ["", "== repair tools (events dlq / events parked) on what the run left =="]
    lines.extend(repaired.lines)
    if repaired.problems:
        lines.append("Repair tools FAILED:")
        lines.extend(f"  - {p}" for p in repaired.problems)
    else:
        lines.append("Repair tools work: malformed record refused unedited, resubmitted fixed once (the ledger refused "
                     "the second), a processed message redriven from its DLQ; consumers absorbed both as duplicates.")
    return "\n".join(lines)
