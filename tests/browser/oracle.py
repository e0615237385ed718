"""The tests' oracle: reads a run record (JSON Lines) in Python, independently of the page's script, and computes
what the page must show, by the rules of shared/localcloud/README.md ("The run record and its page")."""
import json
from collections import defaultdict
from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def read_runs(path):
    """The record's runs, in order: each a Run of the lines from its `run` line to the next."""
    runs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            o = json.loads(line)
            if o["k"] == "run":
                runs.append([])
            runs[-1].append(o)
    return [Run(lines) for lines in runs]


class Run:
    def __init__(self, lines):
        self.lines = lines
        self.head = lines[0]
        self.domain = self.head["domain"]
        self.title = self.head["title"]
        self.graph = next(o for o in lines if o["k"] == "graph")
        self.nodes = {n["id"]: n for n in self.graph["nodes"]}
        self.by_label = {n["label"]: n["id"] for n in self.graph["nodes"]}
        self.view = next((o for o in lines if o["k"] == "view"), None)
        self.summary = next((o for o in lines if o["k"] == "summary"), None)
        self.of = defaultdict(list)
        for o in lines:
            self.of[o["k"]].append(o)
        self.end = max((o["at"] for o in lines if "at" in o), default=0)
        # messages by (queue, message id): sent line, gone line, received instants and until
        self.messages = {}
        for o in self.of["sent"]:
            self.messages[(o["queue"], o["message"])] = {"sent": o, "gone": None, "received": []}
        for o in self.of["gone"]:
            self.messages[(o["queue"], o["message"])]["gone"] = o
        for o in self.of["received"]:
            for m in o["messages"]:
                self.messages[(o["queue"], m)]["received"].append((o["at"], o["until"]))
        ended = {o["invocation"]: o for o in self.of["ended"]}
        self.invocations = [(o, ended.get(o["invocation"])) for o in self.of["invoked"]]
        self.events = defaultdict(list)  # id -> event lines (an id may be put more than once)
        for o in self.of["event"]:
            self.events[o["id"]].append(o)

    def kind_ids(self, *kinds):
        return sorted(i for i, n in self.nodes.items() if n["kind"] in kinds)

    # -- the state at an instant --------------------------------------------------------------------------------------
    def message_state(self, key, t):
        """'inflight', 'delayed', 'visible', or None when the message is not in its queue at t."""
        m = self.messages[key]
        if m["sent"]["at"] > t or (m["gone"] is not None and m["gone"]["at"] <= t):
            return None
        receives = [r for r in m["received"] if r[0] <= t]
        if receives:
            last = max(receives, key=lambda r: r[0])
            return "inflight" if t < last[1] else "visible"
        return "delayed" if t < m["sent"]["visible_at"] else "visible"

    def queue_state(self, t):
        """queue id -> {'visible', 'inflight', 'delayed'} counts at t, for every queue-like node and every queue sent to."""
        queues = set(self.kind_ids("queue", "dlq", "parking")) | {q for q, _ in self.messages}
        state = {q: {"visible": 0, "inflight": 0, "delayed": 0} for q in queues}
        for key in self.messages:
            s = self.message_state(key, t)
            if s:
                state[key[0]][s] += 1
        return state

    def messages_in(self, kinds, t):
        """{(queue, message id): sent line} for the messages in queues of these node kinds at t."""
        queues = set(self.kind_ids(*kinds))
        return {k: m["sent"] for k, m in self.messages.items() if k[0] in queues and self.message_state(k, t)}

    def function_inflight(self, t):
        """function node id -> invocations in flight at t (invoked.at <= t < ended.at)."""
        out = {i: 0 for i in self.kind_ids("function")}
        for inv, end in self.invocations:
            if inv["at"] <= t and (end is None or t < end["at"]):
                fid = self.by_label.get(inv["function"], inv["function"])
                out[fid] = out.get(fid, 0) + 1
        return out

    def function_started(self, t):
        """function node id -> invocations started at or before t."""
        out = {i: 0 for i in self.kind_ids("function")}
        for inv, _ in self.invocations:
            if inv["at"] <= t:
                fid = self.by_label.get(inv["function"], inv["function"])
                out[fid] = out.get(fid, 0) + 1
        return out

    # -- cause and effect ---------------------------------------------------------------------------------------------
    def causes(self, event_id):
        """The causation chain of an event or notification id, nearest first, through the event lines."""
        chain, seen = [], {event_id}
        cur = self._causation_of(event_id)
        while cur is not None and cur not in seen:
            chain.append(cur)
            seen.add(cur)
            cur = self._causation_of(cur)
        return chain

    def _causation_of(self, i):
        if i in self.events:
            return self.events[i][0]["causation"]
        for n in self.of["notification"]:
            if n["id"] == i:
                return n["causation"]
        return None

    def effects(self, event_id):
        """The ids of the event and notification lines whose causation is this id (each once, in record order)."""
        out = []
        for o in self.of["event"] + self.of["notification"]:
            if o["causation"] == event_id and o["id"] is not None and o["id"] not in out:
                out.append(o["id"])
        return out

    # -- the graph's counts -------------------------------------------------------------------------------------------
    def edge_count(self, frm, to):
        """An edge's count for the run, or None when no rule below says how to count it."""
        fk, tk = self.nodes[frm]["kind"], self.nodes[to]["kind"]
        flabel = self.nodes[frm]["label"]
        if fk == "bus" and tk in ("queue", "dlq"):
            return sum(1 for o in self.of["sent"] if o["queue"] == to and o["from"] == frm)
        if fk == "queue" and tk == "function":
            return sum(o["records"] for o in self.of["invoked"] if o["trigger"] == frm)
        if fk == "queue" and tk == "dlq":
            return sum(1 for o in self.of["sent"] if o["queue"] == to and o["from"] == frm)
        if fk == "function" and tk == "bus":
            return sum(1 for o in self.of["event"] if o["from"] == flabel and o["bus"] == to)
        if fk == "function" and tk == "topic":
            return sum(1 for o in self.of["notification"] if o["from"] == flabel and o["topic"] == to)
        if fk == "function" and tk == "parking":
            return sum(1 for o in self.of["sent"] if o["queue"] == to and o["from"] == flabel)
        if fk == "topic" and tk == "queue":
            return sum(1 for o in self.of["sent"] if o["queue"] == to and o["from"] == frm)
        return None

    # -- the views ----------------------------------------------------------------------------------------------------
    def order_counts(self):
        counts = defaultdict(int)
        for o in self.view["orders"]:
            counts[o["state"]] += 1
        return dict(counts)

    def site_zone(self, site):
        return ZoneInfo(next(s["timezone"] for s in self.view["sites"] if s["site"] == site))


def local_hhmm(instant, zone):
    """'HH:MM' of an RFC 3339 UTC instant in a zone."""
    t = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(timezone.utc)
    return t.astimezone(zone).strftime("%H:%M")
