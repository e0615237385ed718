"""The kit's batch benchmark (`cargo bench -p handler-kit --bench batch`, group `batch-of-10`)
done the Powertools way: a 10-record SQS batch of EventBridge-carried envelopes through
`BatchProcessor` with `process_partial_response`, each record's work under
`idempotent_function` on an in-memory persistence layer, a trivial handler emitting one
derived event, and one batched in-memory publish of the batch's outputs.

As in the Rust benchmark, each batch gets a fresh store and processor (set up outside the
timed part), so every record is new work. Prints records per second.
"""

from __future__ import annotations

import copy
import json
import sys
import time
import uuid
from datetime import datetime, timezone

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer, DataRecord

# The kit derives ids of caused events with UUIDv5 over the cause's id and the type.
DERIVED = uuid.UUID("6f1c2a4e-9b3d-5e70-8a21-c4d5e6f70819")


class InMemoryPersistence(BasePersistenceLayer):
    """Records in a dict, with the conditional put DynamoDB does."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None and not existing.is_expired:
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


def batch(records: int) -> dict:
    """An SQS event of `records` EventBridge events, each carrying an OrderPlaced envelope."""
    time_text = "2026-11-23T09:00:00Z"
    out = []
    for i in range(records):
        event_id = str(uuid.uuid4())
        envelope = {
            "metadata": {
                "id": event_id,
                "type": "OrderPlaced",
                "version": 1,
                "source": "shop.orders",
                "time": time_text,
                "subject": f"o-{i}",
                "correlationId": event_id,
            },
            "data": {"order_id": f"o-{i}"},
        }
        body = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "OrderPlaced",
            "source": "shop.orders",
            "account": "123456789012",
            "time": time_text,
            "region": "eu-west-1",
            "resources": [],
            "detail": envelope,
        }
        out.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": json.dumps(body, separators=(",", ":")),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795404300123",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1795404300200",
                },
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:bench",
                "awsRegion": "eu-west-1",
            }
        )
    return {"Records": out}


class Context:
    """What the idempotency layer reads of a Lambda context: the time left."""

    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 3_600_000


def handler_for(persistence: InMemoryPersistence, outputs: list):
    config = IdempotencyConfig(event_key_jmespath="metadata.id", payload_validation_jmespath="data")
    config.register_lambda_context(Context())

    @idempotent_function(data_keyword_argument="envelope", persistence_store=persistence, config=config)
    def forward(envelope: dict) -> dict:
        # The least a real handler does: read the event, emit one caused by it.
        metadata = envelope["metadata"]
        if metadata["type"] != "OrderPlaced" or metadata["version"] != 1:
            raise ValueError(f"unexpected {metadata['type']} v{metadata['version']}")
        datetime.fromisoformat(metadata["time"].replace("Z", "+00:00")).astimezone(timezone.utc)
        caused = dict(metadata)
        caused["id"] = str(uuid.uuid5(DERIVED, metadata["id"] + "OrderPlaced\x00" + "0"))
        caused["causationId"] = metadata["id"]
        return {"metadata": caused, "data": dict(envelope["data"])}

    def record_handler(record) -> dict:
        event = json.loads(record.body)
        envelope = event["detail"]
        if event["detail-type"] != envelope["metadata"]["type"] or event["source"] != envelope["metadata"]["source"]:
            raise ValueError("the carrier disagrees with the envelope")
        caused = forward(envelope=envelope)
        outputs.append(caused)
        return caused

    return record_handler


def run(seconds: float) -> float:
    """Records per second over batches of 10 for about `seconds`."""
    timed = 0.0
    records = 0
    template = batch(10)
    while timed < seconds:
        event = copy.deepcopy(template)
        for record in event["Records"]:
            # New ids each batch, as new records, as in the Rust benchmark.
            body = json.loads(record["body"])
            new_id = str(uuid.uuid4())
            body["detail"]["metadata"]["id"] = new_id
            record["body"] = json.dumps(body, separators=(",", ":"))
        persistence = InMemoryPersistence()
        outputs: list = []
        published: list = []
        processor = BatchProcessor(event_type=EventType.SQS)
        handler = handler_for(persistence, outputs)
        start = time.perf_counter()
        response = process_partial_response(event=event, record_handler=handler, processor=processor, context=Context())
        # One batched publish of the batch's outputs, as the kit's in-memory publisher keeps them.
        published.extend(outputs)
        timed += time.perf_counter() - start
        if response["batchItemFailures"]:
            raise SystemExit(f"unexpected failures: {response}")
        records += 10
    return records / timed


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    run(0.5)  # warm up
    print(f"powertools {run(seconds):.0f} records/s")
