"""Runs the CLI to write the records and pages the browser tests (and screenshots.py) open, and opens them in headless
system Chromium. LOCALCLOUD names the binary (default: the workspace's debug build); CHROMIUM the browser."""
import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
ORDERS_PLAY = ["events/scenarios/orders-demo.jsonl", "--table", "InventoryTable=events/tables/inventory.json", "--faults"]
READY_TIMEOUT_MS = 60_000


def localcloud():
    exe = os.environ.get("LOCALCLOUD") or str(REPO / "target" / "debug" / "localcloud")
    if not os.path.exists(exe):
        raise RuntimeError(f"no localcloud binary at {exe}: build it, or set LOCALCLOUD to one")
    return exe


def write_run(out_dir, name, *args):
    """`localcloud <args> --record <name>.jsonl --html <name>.html` from the repository's root; the two paths."""
    record, html = pathlib.Path(out_dir) / f"{name}.jsonl", pathlib.Path(out_dir) / f"{name}.html"
    cmd = [localcloud(), *args, "--record", str(record), "--html", str(html)]
    done = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    if done.returncode != 0 or not record.exists() or not html.exists():
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}")
    return record, html


def write_demo(out_dir):
    return write_run(out_dir, "run", "demo", "--seed", "1")


def write_play(out_dir):
    return write_run(out_dir, "play", "play", *ORDERS_PLAY)


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True, args=["--no-sandbox"])


def wait_ready(page, timeout_ms=READY_TIMEOUT_MS):
    """Waits for window.runReady === true (the page decoded its record and drew its first run); raises with
    window.runError when the page failed. Polls with page.evaluate: the page's CSP has no 'unsafe-eval'."""
    waited = 0
    while True:
        ready, error = page.evaluate("() => [window.runReady === true, window.runError || null]")
        if error:
            raise AssertionError(f"the page failed: {error}")
        if ready:
            return
        if waited >= timeout_ms:
            raise AssertionError(f"the page was not ready after {timeout_ms / 1000:.0f} s")
        page.wait_for_timeout(50)
        waited += 50
