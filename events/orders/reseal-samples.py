#!/usr/bin/env python3
"""Regenerates the sealed samples, events/orders/*/*-sealed.sqs-eventbridge.json.

Each record's body becomes the event the local cloud puts on the bus, with the same envelope
id, when it plays the orders demo's inputs (events/scenarios/orders-demo.jsonl, seed 1, no
faults): contacts, addresses and tokens sealed under its FieldKey, each for its order. The
local cloud is deterministic, so a run repeats byte for byte. The rest of each record (message
id, receipt handle, attributes) stays; md5OfBody follows the body, as SQS computes it.

Run it when what a sealed value is changes (its associated data, its wire form), from the
repository root:

    cargo build -p localcloud && python3 events/orders/reseal-samples.py

LOCALCLOUD names another localcloud binary (by default the debug one under CARGO_TARGET_DIR,
else target/); arguments are passed on to `localcloud play` (e.g. `--template`). Exits 1
naming any sample event the play no longer publishes.
"""

import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

SCENARIO = "events/scenarios/orders-demo.jsonl"
TABLE = "InventoryTable=events/tables/inventory.json"
SAMPLES = "events/orders/*/*-sealed.sqs-eventbridge.json"


def localcloud():
    if "LOCALCLOUD" in os.environ:
        return os.environ["LOCALCLOUD"]
    return os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "localcloud")


def bus_events():
    """Every envelope the play put on a bus, by envelope id."""
    with tempfile.TemporaryDirectory() as scratch:
        emitted = os.path.join(scratch, "emitted.jsonl")
        subprocess.run(
            [localcloud(), "play", SCENARIO, "--table", TABLE, "--seed", "1", "--emitted", emitted, *sys.argv[1:]],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        events = {}
        with open(emitted, encoding="utf-8") as lines:
            for line in lines:
                put = json.loads(line)
                metadata = put.get("event", {}).get("detail", {}).get("metadata") if "bus" in put else None
                if metadata:
                    events[metadata["id"]] = put["event"]
        return events


def body_of(event):
    """The event as the local cloud writes it: compact, keys sorted (serde_json's order)."""
    return json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def main():
    events = bus_events()
    missing = []
    for path in sorted(glob.glob(SAMPLES)):
        with open(path, encoding="utf-8") as file:
            sample = json.load(file)
        for record in sample["Records"]:
            event_id = json.loads(record["body"])["detail"]["metadata"]["id"]
            if event_id not in events:
                missing.append(f"{path}: {event_id}")
                continue
            record["body"] = body_of(events[event_id])
            record["md5OfBody"] = hashlib.md5(record["body"].encode("utf-8")).hexdigest()
        with open(path, "w", encoding="utf-8") as file:
            file.write(json.dumps(sample, indent=2, ensure_ascii=False) + "\n")
        print(f"resealed {path}")
    if missing:
        sys.exit("the play no longer publishes: " + ", ".join(missing))


if __name__ == "__main__":
    main()
