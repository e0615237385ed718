"""The domains the e2e run plays: each one's scenario and functions, the clock it runs on, what
it loads before and injects during the run, and its outcome read from the real resources in
the shape of the local cloud's (`localcloud play --domain D --outcome`), compared with it."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections import Counter, defaultdict
from pathlib import Path

import observe
from aws import AfterCall, Faults, Throttle
from lambdas import LambdaHost, lambda_env
from observe import Collected
from stack import ROOT, STACK, Stack

# Writes to the orders view table answered "throttled" before one goes through.
THROTTLES = 4


class Domain:
    """What every domain gives the run."""

    name: str
    scenario: Path
    functions: frozenset[str]
    # Virtual seconds per real second of the domain's clock (its scenario and its functions).
    speed: float

    def seed(self, stack: Stack, clients, local: dict, bin_dir: Path, endpoint: str) -> None:
        """Loads what the scenario expects to find."""

    def inject(self, stack: Stack, host: LambdaHost, faults: Faults) -> None:
        """Arms the faults of the real wire this domain's run takes."""

    def problems(self) -> list[str]:
        """Faults that were armed and never happened."""
        return []

    def outcome(self, stack: Stack, collected: Collected, labels: set[str]) -> dict:
        raise NotImplementedError

    def compare(self, local: dict, e2e: dict) -> list[str]:
        raise NotImplementedError

    def summary(self, e2e: dict, local: dict) -> list[str]:
        raise NotImplementedError


class Orders(Domain):
    """Half a second of requests and a minute of retries: played in real time, as clients send
    them. event-archive serves both domains; its clock stamps only when an event was archived."""

    name = "orders"
    scenario = ROOT / "events/scenarios/orders-demo.jsonl"
    functions = frozenset({
        "order-api", "reserve-inventory", "process-payment", "release-inventory", "ship-order",
        "order-projection", "notify-customer", "event-archive",
    })
    speed = 1.0

    def __init__(self) -> None:
        self.crashed = threading.Event()

    def seed(self, stack: Stack, clients, local: dict, bin_dir: Path, endpoint: str) -> None:
        """The stock the local run stocked (`stock_initial`), as the deployed table holds it."""
        table = stack.made["InventoryTable"].ref
        for sku, available in local["stock_initial"].items():
            clients.dynamodb.put_item(TableName=table, Item={"id": {"S": sku}, "available": {"N": str(available)}})

    def inject(self, stack: Stack, host: LambdaHost, faults: Faults) -> None:
        """A throttled table (the view's first writes), and reserve-inventory's process killed
        right after its first reservation was written, before it answered: the batch comes back
        after the queue's visibility timeout and nothing is done twice."""
        faults.throttles.append(Throttle("PutItem", stack.made["OrdersTable"].ref, THROTTLES))

        def crash() -> None:
            if host.kill_in_flight("ReserveInventory"):
                self.crashed.set()

        faults.after_calls.append(AfterCall("TransactWriteItems", stack.made["InventoryTable"].ref, crash))

    def problems(self) -> list[str]:
        if self.crashed.is_set():
            return []
        return ["the crash mid-batch was never injected (no reservation was written)"]

    def outcome(self, stack: Stack, collected: Collected, labels: set[str]) -> dict:
        """The orders domain's outcome as the local cloud writes it, from the real resources."""
        topics = observe.topic_ids(stack)
        notifications: dict[str, dict[str, int]] = {}
        decisions: dict[str, set] = defaultdict(set)
        for note in collected.notifications:
            topic = topics.get(note.get("TopicArn"), note.get("TopicArn"))
            if topic != "NotificationsTopic":
                continue
            entry = notifications.setdefault(topic, {"sent": 0, "decisions": 0})
            entry["sent"] += 1
            message = json.loads(note["Message"])
            decisions[topic].add(message.get("metadata", {}).get("id"))
        for topic, ids in decisions.items():
            notifications[topic]["decisions"] = len(ids)
        return {
            "domain": "orders",
            "orders": {item["orderId"]: item["status"] for item in collected.tables.get("OrdersTable", [])},
            "stock": {
                item["id"]: {"available": int(item.get("available", 0)), "reserved": int(item.get("reserved", 0))}
                for item in collected.tables.get("InventoryTable", [])
                if not str(item["id"]).startswith("reservation#")
            },
            "parked": sorted(
                ({"kind": observe.attribute(m, "parked-kind"), "reason": observe.attribute(m, "parked-reason")}
                 for m in observe.parked(collected) if function_of(observe.attribute(m, "parked-by")) in self.functions),
                key=lambda p: (p["kind"] or "", p["reason"] or ""),
            ),
            "dead_letters": sum(len(collected.queues.get(q, [])) for q in collected.dead_letter_queues),
            "notifications": notifications,
            "answers": {e.label: e.status for e in collected.exchanges if e.label in labels},
            "traces": order_traces(collected, topics),
        }

    def compare(self, local: dict, e2e: dict) -> list[str]:
        differences = [
            *differing("order", local["orders"], e2e["orders"], "view table"),
            *differing("stock", local["stock"], e2e["stock"], "inventory table"),
            *differing("topic", local["notifications"], e2e["notifications"], "sent, distinct decisions"),
            *differing("answer to", local["answers"], e2e["answers"], "HTTP status"),
        ]
        if masked(local["parked"]) != masked(e2e["parked"]):
            differences.append(f"parked: local {masked(local['parked'])}, e2e {masked(e2e['parked'])}")
        if local["dead_letters"] != e2e["dead_letters"]:
            differences.append(f"dead letters: local {local['dead_letters']}, e2e {e2e['dead_letters']}")
        # Not a comparison: the local cloud checks the same rule as its own invariant.
        differences.extend(e2e["traces"]["violations"])
        return differences

    def summary(self, e2e: dict, local: dict) -> list[str]:
        states = Counter(e2e["orders"].values())
        traces = e2e["traces"]
        return [
            f"Orders: {len(e2e['orders'])} orders ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}); "
            f"parked {[p['kind'] for p in e2e['parked']]}; notifications {e2e['notifications']}",
            f"  traces: {traces['one_trace']} of {len(traces['orders'])} orders one X-Ray trace from POST /orders "
            f"to their last notification; e.g. {traces['example']}",
            f"  faults: {THROTTLES} throttled view writes; reserve-inventory "
            f"{'killed mid-batch' if self.crashed.is_set() else 'NOT killed'}",
        ]


class Sensors(Domain):
    """An hour of readings, played 20 times faster than the wall clock: about three minutes."""

    name = "sensors"
    scenario = ROOT / "events/scenarios/sensors-demo.jsonl"
    functions = frozenset({"sensor-api", "detect-anomaly", "raise-alert"})
    speed = 20.0
    catalogue = ROOT / "events/sensors/catalogue.json"

    def seed(self, stack: Stack, clients, local: dict, bin_dir: Path, endpoint: str) -> None:
        """The sensor catalogue, loaded with the project's own tool."""
        subprocess.run(
            [str(bin_dir / "sensor-catalogue"), "--table", stack.made["SensorCatalogueTable"].ref, str(self.catalogue)],
            env=lambda_env("sensor-catalogue", 128, endpoint), check=True, stdout=subprocess.DEVNULL,
        )

    def outcome(self, stack: Stack, collected: Collected, labels: set[str]) -> dict:
        """The sensors domain's outcome as the local cloud writes it, from the real resources."""
        # The bus's last word on each window: its latest revision.
        windows: dict[tuple, tuple[int, dict]] = {}
        for event in collected.bus:
            if event.get("detail-type") not in ("AnomalyDetected", "AnomalyCleared"):
                continue
            data = event["detail"]["data"]
            key = (data["sensorId"], data["metric"], data["windowStart"])
            revision = int(data.get("revision", 0))
            if key not in windows or revision >= windows[key][0]:
                windows[key] = (revision, event)
        topics = observe.topic_ids(stack)
        alerts: Counter[str] = Counter()
        for note in collected.notifications:
            if topics.get(note.get("TopicArn")) != "AlertsTopic":
                continue
            message = json.loads(note["Message"])
            if message.get("metadata", {}).get("type") == "AlertTriggered":
                alerts[message["data"]["alertId"]] += 1
        refused: Counter[str] = Counter()
        for exchange in collected.exchanges:
            if exchange.function != "sensor-api" or not isinstance(exchange.body, dict):
                continue
            for refusal in exchange.body.get("refusals") or []:
                refused[str(refusal.get("field", "")).rsplit(".", 1)[-1]] += 1
        too_late = sorted(
            json.loads(m["Body"]).get("detail", {}).get("metadata", {}).get("id", "?")
            for m in observe.parked(collected) if observe.attribute(m, "parked-kind") == "too-late"
        )
        return {
            "domain": "sensors",
            "windows": {
                " ".join(key): {"detail-type": event["detail-type"], "direction": event["detail"]["data"].get("direction"),
                      "count": event["detail"]["data"].get("count"), "revision": revision}
                for key, (revision, event) in windows.items()
            },
            "alerts": dict(alerts),
            "refused_by_field": dict(refused),
            "too_late_ids": too_late,
            "revised": sum(1 for revision, _ in windows.values() if revision > 1),
        }

    def compare(self, local: dict, e2e: dict) -> list[str]:
        """Final verdicts and alerts against the local run's, which the domain's own computation
        over every counted reading checked; refusals and readings parked as too late likewise.
        Revisions are timing: reported, not compared."""
        differences = []
        for window in local["windows"]:
            key = " ".join((window["sensorId"], window["metric"], window["windowStart"]))
            said = e2e["windows"].get(key)
            if window["direction"] is None:
                ok = said is None or said["detail-type"] == "AnomalyCleared"
            else:
                ok = (said is not None and said["detail-type"] == "AnomalyDetected"
                      and said["direction"] == window["direction"] and said["count"] == window["count"])
            if not ok:
                differences.append(
                    f"window {key}: final verdict {window['direction']} of {window['count']} readings, "
                    f"the bus last said {said and (said['detail-type'], said['direction'], said['count'])}"
                )
        known = {" ".join((w["sensorId"], w["metric"], w["windowStart"])) for w in local["windows"]}
        for key, said in e2e["windows"].items():
            if key not in known:
                differences.append(f"window {key}: the bus said {said['detail-type']}, no such window locally")
        expected = set(local["alerts"])
        for alert in sorted(expected - set(e2e["alerts"])):
            differences.append(f"alert {alert}: expected, never told")
        for alert, times in sorted(e2e["alerts"].items()):
            if alert not in expected:
                differences.append(f"alert {alert}: told, not expected")
            elif times > 1:
                differences.append(f"alert {alert}: told {times} times")
        if local["refused_by_field"] != e2e["refused_by_field"]:
            differences.append(f"refusals by field: local {local['refused_by_field']}, e2e {e2e['refused_by_field']}")
        if sorted(local["too_late_ids"]) != e2e["too_late_ids"]:
            differences.append(f"parked as too late: local {len(local['too_late_ids'])}, e2e {len(e2e['too_late_ids'])}")
        return differences

    def summary(self, e2e: dict, local: dict) -> list[str]:
        anomalous = sum(1 for w in e2e["windows"].values() if w["detail-type"] == "AnomalyDetected")
        return [
            f"Sensors: {len(e2e['windows'])} windows spoken of on the bus, {anomalous} anomalous in the end "
            f"(local: {sum(1 for w in local['windows'] if w['direction'])}), {e2e['revised']} revised; "
            f"{sum(e2e['alerts'].values())} alerts (local: {len(local['alerts'])}); "
            f"{len(e2e['too_late_ids'])} parked as too late (local: {len(local['too_late_ids'])}); "
            f"refusals {e2e['refused_by_field']}",
        ]


DOMAINS: list[Domain] = [Orders(), Sensors()]


def domain_of(binary: str) -> Domain:
    for domain in DOMAINS:
        if binary in domain.functions:
            return domain
    raise SystemExit(f"e2e: the function {binary} serves no domain: add it to its domain in {__file__}")


def function_of(name: str | None) -> str:
    """A function's crate name from its deployed name (`<stack>-<crate>`)."""
    return (name or "").removeprefix(f"{STACK}-")


def differing(what: str, local: dict, e2e: dict, source: str) -> list[str]:
    """Each key whose value differs between the two runs, with both values."""
    return [
        f"{what} {key}: local {local.get(key)}, e2e {e2e.get(key)} ({source})"
        for key in sorted(set(local) | set(e2e))
        if local.get(key) != e2e.get(key)
    ]


def masked(parked: list[dict]) -> list[dict]:
    """Parked records with the queue's message ids masked: moto's are UUIDs, the local cloud's
    its own counters."""
    return [{**p, "reason": re.sub(r"message id '[^']*'", "message id '...'", p["reason"] or "")} for p in parked]


def order_traces(collected: Collected, topics: dict[str, str]) -> dict:
    """Each order's flow as X-Ray sees it, from the trace headers AWS handed on: the `Root` of
    its POST /orders, of every event of it on the bus and of every notification about it. The
    rule (the local cloud's invariant too): its OrderPlaced went in the trace of its request,
    and everything after it in that trace (in one of them, if a retried request put it again)."""
    orders = {item["orderId"] for item in collected.tables.get("OrdersTable", [])}
    seen: dict[str, dict[str, set]] = {order: defaultdict(set) for order in orders}
    hops: dict[str, list[str]] = {order: [] for order in orders}
    for event, root in zip(collected.bus, collected.bus_traces):
        subject = event.get("detail", {}).get("metadata", {}).get("subject")
        if subject in seen:
            seen[subject][event["detail-type"]].add(root)
            hops[subject].append(event["detail-type"])
    for note, root in zip(collected.notifications, collected.notification_traces):
        if topics.get(note.get("TopicArn")) != "NotificationsTopic":
            continue
        subject = json.loads(note["Message"]).get("metadata", {}).get("subject")
        if subject in seen:
            seen[subject]["(notification)"].add(root)
            hops[subject].append("notification")
    requested: dict[str, set] = defaultdict(set)
    for exchange in collected.exchanges:
        order = exchange.body.get("orderId") if isinstance(exchange.body, dict) else None
        if order:
            requested[order].update(exchange.traces)
    violations, one_trace, example = [], 0, ""
    for order in sorted(orders):
        began = seen[order].get("OrderPlaced", set())
        if not began or None in began:
            violations.append(f"{order}: its OrderPlaced went in no trace ({began})")
            continue
        if not began & requested[order]:
            violations.append(f"{order}: its OrderPlaced went in {began}, not in its POST /orders's {requested[order]}")
        strays = {kind: roots - began for kind, roots in seen[order].items() if roots - began}
        if strays:
            violations.append(f"{order}: not in the trace its request began ({began}): {strays}")
            continue
        if len(began) == 1:
            one_trace += 1
            if not example and "notification" in hops[order]:
                example = f"{order} = {next(iter(began))}: POST /orders -> {' -> '.join(hops[order])}"
    return {"orders": sorted(orders), "one_trace": one_trace, "example": example, "violations": violations}
