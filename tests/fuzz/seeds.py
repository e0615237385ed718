#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the project's own inputs (events/, the template):
decode gets every sample payload; pattern every rule's EventPattern of infra/template.yaml, each
with a sample EventBridge event; template the template itself and each of its resources alone; api_bodies the body of every
Function URL sample of the API functions. usage: seeds.py OUT_DIR"""

import base64
import json
import sys
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]


def write(directory: Path, name: str, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def main() -> None:
    out = Path(sys.argv[1])
    samples = [
        p for p in sorted(ROOT.glob("events/**/*.json"))
        if not any(part in ("schemas", "tables") for part in p.relative_to(ROOT / "events").parts)
    ]
    events = []
    for path in samples:
        text = path.read_bytes()
        write(out / "decode", path.name, text)
        payload = json.loads(text)
        for record in payload.get("Records", []) if isinstance(payload, dict) else []:
            body = record.get("body")
            if body and '"detail-type"' in body:
                events.append(body)
        if path.name.endswith(".function-url.json") and payload.get("body"):
            body = payload["body"]
            data = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode()
            write(out / "api_bodies", path.name, data)

    template, problems = decode(str(ROOT / "infra/template.yaml"))
    if template is None:
        raise SystemExit(f"seeds: the template does not load: {problems}")
    write(out / "template", "template.yaml", (ROOT / "infra/template.yaml").read_bytes())
    # Small ones too, each resource alone (as JSON, which YAML reads), so that most runs are fast.
    for name, resource in template["Resources"].items():
        small = {"Transform": template.get("Transform"), "Resources": {name: resource}}
        write(out / "template", f"{name}.json", json.dumps(small, default=str).encode())
    rules = [
        (name, resource["Properties"]["EventPattern"])
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Events::Rule" and "EventPattern" in resource.get("Properties", {})
    ]
    for i, (name, pattern) in enumerate(rules):
        event = events[i % len(events)]
        write(out / "pattern", f"{name}.txt", (json.dumps(pattern) + "\n" + event).encode())
    for target in ("decode", "pattern", "template", "api_bodies"):
        if not any((out / target).iterdir()):
            raise SystemExit(f"seeds: no seed for {target}")


if __name__ == "__main__":
    main()
