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


def main() -> None:
    patch()
    from moto.server import main as serve

    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
