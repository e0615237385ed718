"""The run page (`localcloud ... --html`) in headless Chromium, checked against the run record read in Python
(oracle.py, by the rules of shared/localcloud/README.md). Run from the repository's root:

    LOCALCLOUD=target/debug/localcloud .venv/bin/python -m unittest discover -s tests/browser -v
"""
import json
import os
import pathlib
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playwright.sync_api import sync_playwright  # noqa: E402

import harness  # noqa: E402
from oracle import local_hhmm, read_runs  # noqa: E402

# A release-inventory batch that crashes on every receive: its message goes to the DLQ after 5 receives.
DLQ_FAULTS = {"faults": {}, "choices": [
    {"stream": "mapping:ReleaseInventoryEventSourceMapping/crash", "draw": i, "value": True} for i in range(8)]}

# What the page shows at an instant: every queue row, function row, DLQ and parked message.
READ_STATE = """() => {
  const num = (td) => td ? Number(td.textContent.trim()) : null;
  const queues = {}, functions = {}, started = {};
  for (const tr of document.querySelectorAll('#queue-state tbody tr[data-queue]')) {
    queues[tr.dataset.queue] = {visible: num(tr.querySelector('td[data-col=visible]')),
      inflight: num(tr.querySelector('td[data-col=inflight]')), delayed: num(tr.querySelector('td[data-col=delayed]'))};
  }
  for (const tr of document.querySelectorAll('#function-state tr[data-function]')) {
    functions[tr.dataset.function] = num(tr.querySelector('td[data-col=inflight]'));
    started[tr.dataset.function] = num(tr.querySelector('td[data-col=started]'));
  }
  const dlq = [...document.querySelectorAll('#dlq-state li[data-queue][data-message]')]
    .map((li) => [li.dataset.queue, li.dataset.message]);
  const parked = [...document.querySelectorAll('#parked-state li[data-queue][data-message]')]
    .map((li) => ({queue: li.dataset.queue, message: li.dataset.message, text: li.textContent}));
  return {queues, functions, started, dlq, parked, slider: Number(document.getElementById('slider').value),
    instant: Number(document.getElementById('instant').dataset.ms)};
}"""

FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())))"


class Watched:
    """A page with every request, console error and uncaught exception it made, from before it loaded."""

    def __init__(self, context, html):
        self.url = pathlib.Path(html).resolve().as_uri()
        self.page = context.new_page()
        self.requests, self.errors = [], []
        self.page.on("request", lambda r: self.requests.append((r.url, r.frame.url if r.frame else None)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.goto(self.url)
        harness.wait_ready(self.page)

    def foreign_requests(self):
        """Requests to anything but the page itself; data: and blob: URLs only when the page's own document made them."""
        out = []
        for url, frame in self.requests:
            if url == self.url:
                continue
            if url.startswith(("data:", "blob:")) and frame == self.url:
                continue
            out.append(url)
        return out


class RunPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="run-page-")
        try:
            demo_record, demo_html = harness.write_demo(cls.tmp)
            play_record, play_html = harness.write_play(cls.tmp)
            faults = pathlib.Path(cls.tmp) / "dlq.faults.json"
            faults.write_text(json.dumps(DLQ_FAULTS))
            dlq_record, dlq_html = harness.write_run(
                cls.tmp, "dlq", "play", *harness.ORDERS_PLAY[:-1], "--faults-file", str(faults))
            cls.orders, cls.sensors = read_runs(demo_record)
            (cls.play,) = read_runs(play_record)
            (cls.dlq,) = read_runs(dlq_record)
            cls.pw = sync_playwright().start()
            cls.browser = harness.launch(cls.pw)
            cls.context = cls.browser.new_context(viewport={"width": 1400, "height": 900})
            cls.context.set_default_timeout(10_000)
            cls.demo = Watched(cls.context, demo_html)
            cls.played = Watched(cls.context, play_html)
            cls.dlq_page = Watched(cls.context, dlq_html)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "browser", None):
            cls.browser.close()
        if getattr(cls, "pw", None):
            cls.pw.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        # whatever a test did, no page may have logged an error or thrown
        for w in (self.demo, self.played, self.dlq_page):
            errors, w.errors[:] = list(w.errors), []
            self.assertEqual(errors, [], f"{w.url}: console errors or uncaught exceptions")

    # -- helpers ------------------------------------------------------------------------------------------------------
    def show_run(self, watched, run):
        """Selects `run` in #run-select (by its title, as a person would pick it) and waits for the page to show it."""
        page = watched.page
        page.bring_to_front()  # a page in the background gets few animation frames
        options = page.eval_on_selector_all("#run-select option", "os => os.map(o => o.textContent)")
        matching = [i for i, text in enumerate(options) if run.title in text]
        self.assertEqual(len(matching), 1, f"one option of #run-select names {run.title!r}: {options}")
        page.eval_on_selector("#run-select", """(s, i) => { if (s.selectedIndex !== i) {
            s.selectedIndex = i; s.dispatchEvent(new Event('change', {bubbles: true})); } }""", matching[0])
        harness.wait_ready(page)
        page.evaluate(FRAMES)

    def tab(self, page, name):
        page.click(f"#tabs button[data-tab={name}]")
        page.wait_for_selector(f"#tab-{name}:not([hidden])")
        page.evaluate(FRAMES)

    def set_instant(self, page, t):
        page.evaluate("(t) => window.setInstant(t)", t)
        page.evaluate(FRAMES)
        return page.evaluate(READ_STATE)

    def check_state(self, run, shown, t):
        """The page's state at t against the record's."""
        where = f"{run.title} at +{t} ms"
        queues = run.queue_state(t)
        for q in run.kind_ids("queue", "dlq", "parking"):
            self.assertIn(q, shown["queues"], f"{where}: #queue-state lists queue {q}")
        for q, cells in shown["queues"].items():
            self.assertIn(q, queues, f"{where}: #queue-state lists {q}, which is no queue of the run")
            self.assertEqual(cells, queues[q], f"{where}: queue {q}")
        functions = run.function_inflight(t)
        label_to_id = run.by_label
        shown_fns = {label_to_id.get(f, f): n for f, n in shown["functions"].items()}
        for f in run.kind_ids("function"):
            self.assertIn(f, shown_fns, f"{where}: #function-state lists function {f}")
        self.assertEqual(shown_fns, functions, f"{where}: functions' invocations in flight")
        started = {label_to_id.get(f, f): n for f, n in shown["started"].items()}
        self.assertEqual(started, run.function_started(t), f"{where}: functions' invocations started")
        dlq = sorted(run.messages_in(("dlq",), t))
        self.assertEqual(sorted(tuple(m) for m in shown["dlq"]), dlq, f"{where}: #dlq-state")
        parked = run.messages_in(("parking",), t)
        self.assertEqual(len(shown["parked"]), len(parked), f"{where}: #parked-state holds {sorted(parked)}")
        self.assertEqual({(p["queue"], p["message"]) for p in shown["parked"]}, set(parked), f"{where}: #parked-state")
        text = " ".join(p["text"] for p in shown["parked"])
        for sent in parked.values():
            self.assertIn(sent["parked_kind"], text, f"{where}: #parked-state tells why {sent['message']} is parked")
        return queues

    # -- 1 ------------------------------------------------------------------------------------------------------------
    def test_1_no_network_no_errors(self):
        """Nothing but the page's own file is requested, even after every tab of every run has been shown."""
        for watched, runs in ((self.demo, (self.orders, self.sensors)), (self.played, (self.play,)),
                              (self.dlq_page, (self.dlq,))):
            for run in runs:
                self.show_run(watched, run)
                tabs = watched.page.eval_on_selector_all(
                    "#tabs button[data-tab]:not([hidden])", "bs => bs.map(b => b.dataset.tab)")
                for name in tabs:
                    self.tab(watched.page, name)
                self.set_instant(watched.page, run.end // 2)
                self.tab(watched.page, "graph")
            self.assertIn(watched.url, [u for u, _ in watched.requests], "the page's own request was seen")
            data = [u[:60] for u, _ in watched.requests if u.startswith(("data:", "blob:"))]
            self.assertEqual(watched.foreign_requests(), [], f"requests beyond the page (data:/blob: seen: {data})")
            errors, watched.errors[:] = list(watched.errors), []
            self.assertEqual(errors, [], "console errors or uncaught exceptions")
        self.show_run(self.demo, self.orders)

    # -- 2 ------------------------------------------------------------------------------------------------------------
    def instants(self, run):
        """Instants worth checking: the largest batch received (at its instant and just after), the instant with the
        most in flight, one inside the most overlapping invocations, the first visibility timeout that ran out (at
        its end and just before), one with a message parked, and the run's end."""
        out = []
        received = run.of["received"]
        if received:
            big = max(received, key=lambda o: len(o["messages"]))
            out += [big["at"], big["at"] + 1]
            busiest = max(received[:150], key=lambda o: sum(v["inflight"] for v in run.queue_state(o["at"]).values()))
            out.append(busiest["at"])
        invoked = run.of["invoked"][:400]
        if invoked:
            out.append(max((o["at"] for o in invoked), key=lambda t: sum(run.function_inflight(t).values())) + 1)
        for m in run.messages.values():
            rs = sorted(m["received"])
            for i, (_, until) in enumerate(rs):
                nxt = rs[i + 1][0] if i + 1 < len(rs) else (m["gone"]["at"] if m["gone"] else float("inf"))
                if until < nxt:
                    out += [until - 1, until]
                    break
            else:
                continue
            break
        parked = [o for o in run.of["sent"] if run.nodes.get(o["queue"], {}).get("kind") == "parking"]
        if parked:
            out.append(parked[0]["at"])
        dead = [o for o in run.of["sent"] if run.nodes.get(o["queue"], {}).get("kind") == "dlq"]
        if dead:
            out += [dead[0]["at"] - 1, dead[0]["at"]]
        return sorted(set(out))

    def test_2_state_at_instants(self):
        """Queues (visible / in flight / delayed), functions' invocations in flight, DLQs and parked messages at
        chosen instants, moved by window.setInstant and by the slider itself, equal the record's."""
        seen = {"inflight": 0, "visible": 0, "fn": 0, "parked": 0, "dlq": 0}
        for watched, run in ((self.demo, self.orders), (self.demo, self.sensors), (self.dlq_page, self.dlq)):
            self.show_run(watched, run)
            page = watched.page
            self.tab(page, "graph")
            for t in self.instants(run):
                queues = self.check_state(run, self.set_instant(page, t), t)
                seen["inflight"] += sum(v["inflight"] for v in queues.values())
                seen["visible"] += sum(v["visible"] for v in queues.values())
                seen["fn"] += sum(run.function_inflight(t).values())
                seen["parked"] += len(run.messages_in(("parking",), t))
                seen["dlq"] += len(run.messages_in(("dlq",), t))
            # the run's end: where the slider stops
            end = page.eval_on_selector("#slider", "s => Number(s.max)")
            self.assertGreaterEqual(end, run.end, f"{run.title}: the slider reaches the record's last line")
            self.check_state(run, self.set_instant(page, end), end)
            # the slider itself: a value set as a person drags it, then the arrow keys
            target = next(t for t in self.instants(run) if t >= 2)
            page.eval_on_selector("#slider", """(s, t) => { s.value = String(t);
                s.dispatchEvent(new Event('input', {bubbles: true})); }""", target - 2)
            page.focus("#slider")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.evaluate(FRAMES)
            shown = page.evaluate(READ_STATE)
            self.assertEqual(shown["slider"], target, f"{run.title}: the slider moved by two steps")
            self.assertEqual(shown["instant"], target, f"{run.title}: #instant shows the slider's instant")
            self.check_state(run, shown, shown["slider"])
        # the instants chosen exercise each state (else the comparison above proves little)
        for what, n in seen.items():
            self.assertGreater(n, 0, f"no instant checked had anything {what}")

    # -- 3 ------------------------------------------------------------------------------------------------------------
    def details(self, page):
        page.wait_for_selector("#details:not([hidden])")
        page.evaluate(FRAMES)
        return page.evaluate("""() => ({
            text: document.querySelector('#details').innerText,
            causes: [...document.querySelectorAll('#details .causes li[data-cause]')].map((li) => li.dataset.cause),
            effects: [...document.querySelectorAll('#details .effects li[data-effect]')].map((li) => li.dataset.effect),
        })""")

    def open_event(self, page, event_id):
        """Finds the event as a person would: its id in the filter, then a click on its row."""
        self.tab(page, "events")
        page.fill("#event-filter", event_id)
        row = page.locator(f'#events [data-event-id="{event_id}"]').first
        row.wait_for(state="visible", timeout=10_000)
        row.click()
        return self.details(page)

    def test_3_causes_and_effects(self):
        """An OrderShipped event's causes (nearest first) and effects, its envelope's id, sealed personal fields in an
        OrderPlaced, and a notification opened by window.showEvent, against the record's causation ids."""
        run, page = self.orders, self.demo.page
        self.show_run(self.demo, run)
        shipped = [o for o in run.of["event"] if o["type"] == "OrderShipped" and len(run.causes(o["id"])) >= 3]
        self.assertTrue(shipped, "the run has an OrderShipped event three causes deep")
        event = shipped[0]
        shown = self.open_event(page, event["id"])
        self.assertEqual(shown["causes"], run.causes(event["id"]), "its causes, nearest first")
        self.assertEqual(sorted(shown["effects"]), sorted(run.effects(event["id"])), "its effects")
        self.assertTrue(run.effects(event["id"]), "the OrderShipped event has effects (a notification)")
        self.assertIn(event["envelope"]["metadata"]["id"], shown["text"], "the details show the envelope's id")
        self.assertIn(event["type"], shown["text"])

        placed = run.events[run.causes(event["id"])[-1]][0]
        self.assertEqual(placed["type"], "OrderPlaced")
        shown = self.open_event(page, placed["id"])
        self.assertEqual(shown["causes"], run.causes(placed["id"]), "an order's first event has no cause")
        self.assertEqual(sorted(shown["effects"]), sorted(run.effects(placed["id"])), "the OrderPlaced's effects")
        self.assertRegex(shown["text"], r"(?i)ciphertext|sealed", "the OrderPlaced's personal fields show sealed")

        note = next(n for n in run.of["notification"] if n["id"] and len(run.causes(n["id"])) >= 2)
        page.evaluate("(id) => window.showEvent(id)", note["id"])
        shown = self.details(page)
        self.assertIn(note["id"], shown["text"], "window.showEvent opened the notification")
        self.assertEqual(shown["causes"], run.causes(note["id"]), "the notification's causes, nearest first")
        page.keyboard.press("Escape")

    # -- 4 ------------------------------------------------------------------------------------------------------------
    def test_4_sensor_plots(self):
        """Each stream's plot marks exactly its anomalous windows, revised ones as revised, and a mark's tooltip tells
        the window's start in the site's local time."""
        run, page = self.sensors, self.demo.page
        self.show_run(self.demo, run)
        self.tab(page, "sensors")
        streams = run.view["streams"]
        plots = page.eval_on_selector_all("svg.stream-plot", "ps => ps.length")
        self.assertEqual(plots, len(streams), "one plot per stream")
        total_shown = total_expected = revised_shown = revised_expected = 0
        for s in streams:
            sel = f'svg.stream-plot[data-sensor="{s["sensor"]}"][data-metric="{s["metric"]}"]'
            plot = page.locator(sel)
            self.assertEqual(plot.count(), 1, f"one plot for {s['sensor']} {s['metric']}")
            plot.scroll_into_view_if_needed()
            marks = page.eval_on_selector_all(f"{sel} circle.anomaly", "cs => cs.map(c => c.dataset.start)")
            expected = [w["start"] for w in s["windows"] if w["direction"] is not None]
            self.assertEqual(sorted(marks), sorted(expected), f"{s['sensor']} {s['metric']}: anomalous windows")
            revised = page.eval_on_selector_all(f"{sel} .revised", "rs => rs.length")
            self.assertEqual(revised, sum(1 for w in s["windows"] if w["revision"] > 1),
                             f"{s['sensor']} {s['metric']}: revised windows")
            total_shown += len(marks)
            total_expected += len(expected)
            revised_shown += revised
            revised_expected += sum(1 for w in s["windows"] if w["revision"] > 1)
        self.assertEqual(total_shown, total_expected)
        self.assertEqual(revised_shown, revised_expected)
        self.assertGreater(total_expected, 0, "the sensors run has anomalous windows")

        # hover a mark of a site whose offset is not whole hours when there is one (its minutes must be right too)
        anomalies = [(s, w) for s in streams for w in s["windows"] if w["direction"] is not None]
        odd = [(s, w) for s, w in anomalies if run.site_zone(s["site"]).key in
               ("Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns", "Australia/Adelaide", "Asia/Kolkata")]
        for s, w in (odd or anomalies)[:2]:
            mark = page.locator(f'svg.stream-plot[data-sensor="{s["sensor"]}"][data-metric="{s["metric"]}"] '
                                f'circle.anomaly[data-start="{w["start"]}"]')
            mark.scroll_into_view_if_needed()
            mark.hover(force=True)
            page.wait_for_selector("#tooltip:not([hidden])")
            tip = page.inner_text("#tooltip")
            hhmm = local_hhmm(w["start"], run.site_zone(s["site"]))
            self.assertIn(hhmm, tip, f"{s['sensor']} {w['start']}: the tooltip tells the local time in {s['site']}")
            page.mouse.move(0, 0)

        # back to the orders run from the sensors tab, which that run has not: the page falls back to the graph
        self.show_run(self.demo, self.orders)
        self.assertTrue(page.is_hidden("#tabs button[data-tab=sensors]"), "the orders run has no sensors tab")
        self.assertTrue(page.is_visible("#tabs button[data-tab=graph]"), "the tabs are still shown")
        self.assertTrue(page.is_visible("#tab-graph"), "the graph is shown instead")

    # -- 5 ------------------------------------------------------------------------------------------------------------
    def edge_counts(self, page):
        return page.eval_on_selector_all("#graph [data-from][data-to][data-count]", """es => es.map(e =>
            [e.dataset.from, e.dataset.to, Number(e.dataset.count)])""")

    def test_5_graph_counts(self):
        """The graph's edge counts for the run: bus -> queue, queue -> function, function -> bus, function -> topic,
        and the failure paths, against the record's lines."""
        named = [("EventBus", "ReserveInventoryQueue"), ("ReserveInventoryQueue", "ReserveInventory"),
                 ("ReserveInventory", "EventBus"), ("NotifyCustomer", "NotificationsTopic")]
        for watched, run in ((self.demo, self.orders), (self.demo, self.sensors), (self.dlq_page, self.dlq)):
            self.show_run(watched, run)
            self.tab(watched.page, "graph")
            shown = {}
            for frm, to, count in self.edge_counts(watched.page):
                shown.setdefault((frm, to), count)
            graph_edges = {(e["from"], e["to"]) for e in run.graph["edges"]}
            self.assertEqual(set(shown), graph_edges, f"{run.title}: one SVG edge per edge of the graph")
            checked = 0
            for frm, to in sorted(graph_edges):
                expected = run.edge_count(frm, to)
                if expected is None:
                    continue
                self.assertEqual(shown[(frm, to)], expected, f"{run.title}: edge {frm} -> {to}")
                checked += expected > 0
            self.assertGreater(checked, 3, f"{run.title}: some edges carry something")
            if run is self.orders:
                for frm, to in named:
                    self.assertGreater(shown[(frm, to)], 0, f"{frm} -> {to} carries something in the orders run")
                # the one message a scenario put straight into the queue is not the bus's
                into = sum(1 for o in run.of["sent"] if o["queue"] == "ReserveInventoryQueue")
                self.assertEqual(shown[("EventBus", "ReserveInventoryQueue")] + 1, into)
            if run is self.dlq:
                self.assertEqual(shown[("ReleaseInventoryQueue", "ReleaseInventoryDeadLetterQueue")], 1)

    # -- 6 ------------------------------------------------------------------------------------------------------------
    def test_6_bare_play(self):
        """A bare play's page (no domain) loads and its summary shows the terminal's summary."""
        run, page = self.play, self.played.page
        self.assertIsNone(run.domain)
        self.show_run(self.played, run)
        self.tab(page, "summary")
        first = run.summary["text"].strip().splitlines()[0].strip()
        self.assertIn(first, page.inner_text("#summary"))
        self.assertTrue(page.is_hidden("#tabs button[data-tab=sensors]"), "no sensors tab without the sensors' view")

    # -- 7 ------------------------------------------------------------------------------------------------------------
    def test_7_orders(self):
        """The orders' counts by final state equal the view's."""
        run, page = self.orders, self.demo.page
        self.show_run(self.demo, run)
        self.tab(page, "orders")
        shown = page.eval_on_selector_all("#orders-summary [data-state][data-count]", """es => es.map(e =>
            [e.dataset.state, Number(e.dataset.count)])""")
        self.assertEqual(len(shown), len(dict(shown)), "one count per state")
        self.assertEqual(dict(shown), run.order_counts())
        total = page.inner_text('#orders-summary [data-state=""]')
        self.assertIn(str(len(run.view["orders"])), total, "the total chip counts every order")


if __name__ == "__main__":
    unittest.main()
