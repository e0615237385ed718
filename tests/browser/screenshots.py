"""Screenshots of the seed-1 demo's run page for the docs: docs/page-{graph,timeline,events,orders,sensors}.png,
1400x900, each under 300 KB. Run from anywhere:

    LOCALCLOUD=target/debug/localcloud .venv/bin/python tests/browser/screenshots.py
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playwright.sync_api import sync_playwright  # noqa: E402

import harness  # noqa: E402
from oracle import read_runs  # noqa: E402

DOCS = harness.REPO / "docs"
LIMIT = 300 * 1024
FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())))"


def tab(page, name):
    page.click(f"#tabs button[data-tab={name}]")
    page.wait_for_selector(f"#tab-{name}:not([hidden])")
    page.evaluate(FRAMES)


def show_run(page, title):
    page.select_option("#run-select", index=next(
        i for i, t in enumerate(page.eval_on_selector_all("#run-select option", "os => os.map(o => o.textContent)"))
        if title in t))
    harness.wait_ready(page)
    page.evaluate(FRAMES)


def shot(page, name):
    path = DOCS / f"page-{name}.png"
    page.evaluate(FRAMES)
    page.screenshot(path=str(path))
    size = path.stat().st_size
    if size >= LIMIT:
        raise SystemExit(f"{path}: {size:,} bytes, over {LIMIT:,}")
    print(f"{path.relative_to(harness.REPO)}: {size:,} bytes")


def main():
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-page-") as tmp:
        record, html = harness.write_demo(tmp)
        orders, sensors = read_runs(record)
        with sync_playwright() as p:
            browser = harness.launch(p)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(html.resolve().as_uri())
            harness.wait_ready(page)
            show_run(page, orders.title)

            # the graph at a busy instant: batches in flight, a message parked
            busy = max((o for o in orders.of["received"]), key=lambda o: len(o["messages"]))
            parked = [o["at"] for o in orders.of["sent"] if orders.nodes[o["queue"]]["kind"] == "parking"]
            at = max([busy["at"] + 1] + [t + 1 for t in parked[:1]])
            page.evaluate("(t) => window.setInstant(t)", at)
            tab(page, "graph")
            shot(page, "graph")

            tab(page, "timeline")
            shot(page, "timeline")

            # an OrderShipped event with its causes and effects open
            tab(page, "events")
            shipped = next(o for o in orders.of["event"] if o["type"] == "OrderShipped" and len(orders.causes(o["id"])) >= 3)
            page.fill("#event-filter", shipped["correlation"])  # its order's flow
            page.evaluate("() => applyEventFilter()")  # now rather than after the typing pause
            page.wait_for_selector(f'#events [data-event-id="{shipped["id"]}"]')
            page.click(f'#events [data-event-id="{shipped["id"]}"]')
            page.wait_for_selector("#details:not([hidden])")
            shot(page, "events")
            page.keyboard.press("Escape")

            tab(page, "orders")
            shot(page, "orders")

            show_run(page, sensors.title)
            tab(page, "sensors")
            # the plots of the streams with anomalies, one mark's tooltip open (a site half an hour off UTC)
            page.check("#only-anomalous")
            page.eval_on_selector("#alerts-box", "d => { d.open = false; }")
            stream = next(st for st in sensors.view["streams"] if any(w["direction"] for w in st["windows"])
                          and sensors.site_zone(st["site"]).key == "Australia/Adelaide")
            window = next(w for w in stream["windows"] if w["direction"])
            mark = page.locator(f'svg.stream-plot[data-sensor="{stream["sensor"]}"][data-metric="{stream["metric"]}"] '
                                f'circle.anomaly[data-start="{window["start"]}"]')
            mark.hover(force=True)
            page.wait_for_selector("#tooltip:not([hidden])")
            shot(page, "sensors")
            browser.close()


if __name__ == "__main__":
    main()
