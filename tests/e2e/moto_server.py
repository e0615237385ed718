#!/usr/bin/env python3
"""moto's server, as `moto_server` runs it, with four hot spots made cheap (what it answers is
unchanged, only how long it takes) and one race fixed. Measured with py-spy on the sensors scenario (moto 5.2.5):

- EventBridge: every target of every matching rule builds a JSONPath parser (a yacc table) for
  the default input paths, once per event: a third of the server's time. Parsed once here.
- SQS: every message sent reads its queue's ContentBasedDeduplication, and every message
  received its retention period, through all of the queue's attributes, three of which count
  every message the queue holds: a queue with a backlog makes each send and receive slower.
  Read without the counts here.
- DynamoDB: TransactWriteItems deep-copies every table it names, whole, to roll back on a
  failed condition: a transaction on the sensors' windows table cost as much as the table.
  Here the copy shares the items the transaction leaves alone (a put or delete replaces an item
  in the table's dict; only an update changes an item in place, so those are copied).
- werkzeug logs a line per request to the server's log.

And X-Ray's trace headers handed on from hop to hop, which moto drops (`hand_on_traces`).

And one fix: moto's DynamoDB serves requests on many threads with no lock, so a transaction
that fails restores its tables as they were when it began, over what other requests wrote
meanwhile (the e2e run lost a reservation this way, and so stock no longer added up). Here a
server's DynamoDB requests run one at a time, as Python's GIL nearly makes them anyway.

usage: moto_server.py [moto_server's arguments]
"""

import functools
import logging
import sys
import threading


def serialise_dynamodb() -> None:
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    call_action = DynamoHandler.call_action

    def one_at_a_time(self, *args, **kwargs):
        with lock:
            return call_action(self, *args, **kwargs)

    DynamoHandler.call_action = one_at_a_time


def patch() -> None:
    import jsonpath_ng.ext
    from moto.core.utils import unix_time
    from moto.sqs.models import Queue, SQSBackend

    # A parsed JSONPath is immutable: `find` does not change it.
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

    # While a message is sent, a queue's attributes are only what send reads (a FIFO queue's
    # ContentBasedDeduplication, as the whole attributes write it); everywhere else, whole.
    sending = threading.local()
    whole = Queue.attributes.fget

    def attributes(self):
        if not getattr(sending, "active", False):
            return whole(self)
        if not self.fifo_queue:
            return {}
        return {"ContentBasedDeduplication": str(getattr(self, "content_based_deduplication", False)).lower()}

    Queue.attributes = property(attributes)
    patch_transactions()
    serialise_dynamodb()
    send_message = SQSBackend.send_message

    def send_message_without_counts(self, *args, **kwargs):
        sending.active = True
        try:
            return send_message(self, *args, **kwargs)
        finally:
            sending.active = False

    SQSBackend.send_message = send_message_without_counts
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def patch_transactions() -> None:
    import copy

    import moto.dynamodb.models as dynamodb
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    updating = threading.local()

    class Copier:
        """`copy` as moto.dynamodb.models uses it, with a table copied for rollback cheaply."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            keys = getattr(updating, "keys", None)
            if keys is None or not isinstance(value, Table):
                return copy.deepcopy(value, memo)
            snapshot = copy.copy(value)
            snapshot.items = type(value.items)(value.items.default_factory) if hasattr(value.items, "default_factory") else {}
            for hash_key, held in value.items.items():
                snapshot.items[hash_key] = dict(held) if value.has_range_key else held
            for hash_key, range_key in keys.get(value.name, ()):
                if hash_key not in value.items:
                    continue
                if value.has_range_key:
                    if range_key in value.items[hash_key]:
                        snapshot.items[hash_key][range_key] = copy.deepcopy(value.items[hash_key][range_key])
                else:
                    snapshot.items[hash_key] = copy.deepcopy(value.items[hash_key])
            return snapshot

    dynamodb.copy = Copier()
    transact = dynamodb.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        keys = {}
        for item in transact_items:
            kind, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            if kind != "Update" or table is None:
                continue
            key = op["Key"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            keys.setdefault(table.name, []).append((hash_key, range_key))
        updating.keys = keys
        try:
            return transact(self, transact_items)
        finally:
            updating.keys = None

    dynamodb.DynamoDBBackend.transact_write_items = transact_write_items


# --- SQS message move tasks (the repair tools' `dlq redrive`) --------------------------------
# moto 5.2.5 answers StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask with
# "not implemented". Added here as AWS documents them
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html):
# the source must be a dead-letter queue (some queue's RedrivePolicy names it); one task at a
# time per source; without DestinationArn each message goes back to the queue it was
# dead-lettered from, which moto does not record, so to the DLQ's source queue when it has only
# one (every queue of this stack has its own DLQ), else the task fails; messages move in order,
# at most MaxNumberOfMessagesPerSecond (default 500) a second, on a thread; the task is RUNNING
# until the messages there at its start have moved, then COMPLETED; a moved message arrives
# visible, its receive count reset. ListMessageMoveTasks lists a source's tasks newest first.


def patch_message_move_tasks() -> None:
    import time
    import uuid

    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import InvalidParameterValue, SQSException
    from moto.sqs.models import SQSBackend
    from moto.sqs.responses import SQSResponse

    tasks: dict[str, list[dict]] = {}  # source ARN -> its tasks, newest first
    lock = threading.Lock()

    def queue_of(backend: SQSBackend, arn: str):
        for queue in backend.queues.values():
            if queue.queue_arn == arn:
                return queue
        raise SQSException("ResourceNotFoundException", f"The resource that you specified for the SourceArn parameter doesn't exist: {arn}")

    def move(task: dict, batch: list, source, destination, rate: int) -> None:
        for message in batch:
            if task["Status"] == "CANCELLING":
                task["Status"] = "CANCELLED"
                return
            with source._messages_lock:
                if message not in source._messages:
                    continue  # deleted meanwhile
                source._messages.remove(message)
                source.pending_messages.discard(message)
            message.approximate_receive_count = 0
            message.approximate_first_receive_timestamp = None
            message.visible_at = 0.0
            message.receipt_handle = None
            destination.add_message(message)
            task["ApproximateNumberOfMessagesMoved"] += 1
            time.sleep(1.0 / rate)
        task["Status"] = "COMPLETED"

    def start_message_move_task(self) -> ActionResult:
        backend = self.sqs_backend
        source_arn = self._get_param("SourceArn")
        destination_arn = self._get_param("DestinationArn")
        rate = int(self._get_param("MaxNumberOfMessagesPerSecond") or 500)
        if not 1 <= rate <= 500:
            raise InvalidParameterValue("Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be between 1 and 500.")
        source = queue_of(backend, source_arn)
        sources = backend.list_dead_letter_source_queues(source.name)
        if not sources:
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn:
            destination = queue_of(backend, destination_arn)
        elif len(sources) == 1:
            destination = sources[0]
        else:
            raise InvalidParameterValue(
                f"{source.name} is the dead-letter queue of {len(sources)} queues and this server does not record which "
                "each message left: give DestinationArn"
            )
        with lock:
            listed = tasks.setdefault(source_arn, [])
            if any(t["Status"] in ("RUNNING", "CANCELLING") for t in listed):
                raise SQSException("UnsupportedOperation", "Only one active message movement task is allowed per queue.")
            task = {
                "TaskHandle": str(uuid.uuid4()),
                "Status": "RUNNING",
                "SourceArn": source_arn,
                "MaxNumberOfMessagesPerSecond": rate,
                "ApproximateNumberOfMessagesMoved": 0,
                "ApproximateNumberOfMessagesToMove": 0,
                "StartedTimestamp": int(time.time() * 1000),
            }
            if destination_arn:
                task["DestinationArn"] = destination_arn
            with source._messages_lock:
                batch = list(source._messages)
            task["ApproximateNumberOfMessagesToMove"] = len(batch)
            listed.insert(0, task)
        threading.Thread(target=move, args=(task, batch, source, destination, rate), daemon=True).start()
        return ActionResult({"TaskHandle": task["TaskHandle"]})

    def list_message_move_tasks(self) -> ActionResult:
        source_arn = self._get_param("SourceArn")
        queue_of(self.sqs_backend, source_arn)
        limit = int(self._get_param("MaxResults") or 1)
        with lock:
            results = [dict(t) for t in tasks.get(source_arn, [])[:limit]]
        return ActionResult({"Results": results})

    def cancel_message_move_task(self) -> ActionResult:
        handle = self._get_param("TaskHandle")
        with lock:
            for listed in tasks.values():
                for task in listed:
                    if task["TaskHandle"] == handle and task["Status"] == "RUNNING":
                        task["Status"] = "CANCELLING"
                        return ActionResult({"ApproximateNumberOfMessagesMoved": task["ApproximateNumberOfMessagesMoved"]})
        raise SQSException("ResourceNotFoundException", f"No running message movement task has the handle {handle}.")

    SQSResponse.start_message_move_task = start_message_move_task
    SQSResponse.list_message_move_tasks = list_message_move_tasks
    SQSResponse.cancel_message_move_task = cancel_message_move_task


# --- end of SQS message move tasks ------------------------------------------------------------

# --- X-Ray trace headers, handed on as AWS hands them on -------------------------------------


def hand_on_traces() -> None:
    """moto stores no X-Ray trace header: AWS hands one on at each hop, and one order is one
    trace only if every hop does. As AWS does it:

    - EventBridge: a PutEvents entry's `TraceHeader` becomes the `AWSTraceHeader` system
      attribute of the message each SQS target receives (moto drops it);
    - SNS (a topic with active tracing, as the template declares them): the publish call's
      `X-Amzn-Trace-Id` HTTP header becomes the `AWSTraceHeader` of what SQS subscribers receive;
    - SQS: SendMessageBatch's per-entry `MessageSystemAttributes` (moto reads them only on
      SendMessage).
    """
    from moto.events.models import EventsBackend
    from moto.sns.responses import SNSResponse
    from moto.sqs.models import SQSBackend

    current = threading.local()
    send_message = SQSBackend.send_message

    def send_in_trace(self, *args, **kwargs):
        batch = getattr(current, "batch", None)
        header = next(batch, None) if batch is not None else getattr(current, "header", None)
        if header and not kwargs.get("system_attributes"):
            kwargs["system_attributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": header}}
        return send_message(self, *args, **kwargs)

    send_message_batch = SQSBackend.send_message_batch

    def send_batch_in_traces(self, queue_name, entries):
        # moto sends the entries in order, each through send_message.
        current.batch = iter(
            [
                (entry.get("MessageSystemAttributes") or {}).get("AWSTraceHeader", {}).get("StringValue")
                for entry in entries.values()
            ]
        )
        try:
            return send_message_batch(self, queue_name, entries)
        finally:
            current.batch = None

    put_events = EventsBackend.put_events

    def put_events_in_trace(self, events):
        if len(events) > 10:
            return put_events(self, events)  # refused whole, as AWS refuses it
        results = []
        for entry in events:
            current.header = entry.get("TraceHeader")
            try:
                results.extend(put_events(self, [entry]))
            finally:
                current.header = None
        return results

    def publishing_in_trace(publish):
        def in_trace(self):
            current.header = self.headers.get("X-Amzn-Trace-Id")
            try:
                return publish(self)
            finally:
                current.header = None

        return in_trace

    SQSBackend.send_message = send_in_trace
    SQSBackend.send_message_batch = send_batch_in_traces
    EventsBackend.put_events = put_events_in_trace
    SNSResponse.publish = publishing_in_trace(SNSResponse.publish)
    SNSResponse.publish_batch = publishing_in_trace(SNSResponse.publish_batch)


# --- end of X-Ray trace headers ---------------------------------------------------------------


def main() -> None:
    patch()
    patch_message_move_tasks()
    hand_on_traces()
    from moto.server import main as serve

    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
