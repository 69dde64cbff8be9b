"""The app served on a free local port, and the system browser that drives it.

Shared by the end-to-end tests and the page bench: headless Chromium from Debian's
``chromium`` package (``MNIST_EXPLORER_CHROMIUM`` names another executable).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def chromium_path() -> str:
    """The Chromium executable, or an error that says how to get one."""
    path = os.environ.get("MNIST_EXPLORER_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise RuntimeError("no chromium executable: `apt-get install chromium` (`make test` does)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(env: dict | None = None, start_s: float = 60) -> tuple[subprocess.Popen, str]:
    """Start the dashboard on a free port and wait until it answers: (its process, URL)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "dashboard", "--server.port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | (env or {}),
    )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + start_s
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                return proc, url
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the app did not start within {start_s:.0f} s") from None
            time.sleep(0.5)


@contextlib.contextmanager
def serve(env: dict | None = None, start_s: float = 60) -> Iterator[str]:
    """Start the dashboard on a free port; yields its URL, stops it afterwards."""
    proc, url = launch(env, start_s)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a server still busy with its sessions
            proc.kill()
            proc.wait()


def settled(page) -> None:
    """Wait until the script run is over (no 'Running…' widget) and the page is drawn."""
    page.wait_for_selector("[data-testid=stMain]")
    page.wait_for_timeout(500)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')")
    page.wait_for_timeout(500)


# Timing a user's action in the page (the page bench, the load test). Stamps: __t0 at the
# action (a click or a key press), __last at the last change in the main area, __ran once
# a script run has started since.
OBSERVE = """() => {
  if (window.__observing) return;
  window.__observing = true;
  // Only the main area: the sidebar's job panel redraws itself every two seconds.
  const stamp = (records) => {
    for (const r of records) {
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (el && el.closest('[data-testid=stMain]')) { window.__last = performance.now(); return; }
    }
  };
  new MutationObserver(stamp).observe(document.body, {subtree: true, childList: true,
                                                      characterData: true});
  new MutationObserver(() => {
    const app = document.querySelector('[data-testid=stApp]');
    if (app && app.getAttribute('data-test-script-state') === 'running') window.__ran = true;
  }).observe(document.body, {subtree: true, attributes: true,
                             attributeFilter: ['data-test-script-state']});
  const start = () => { window.__t0 = performance.now(); window.__ran = false; };
  document.addEventListener('click', start, true);
  document.addEventListener('keydown', start, true);
}"""
ELAPSED = "() => (window.__last - window.__t0) / 1000"  # seconds: action → last change


def done_after(quiet_ms: int) -> str:
    """A predicate on the page (its argument: the path the action leads to): the script
    run the action started is over and the main area has been still for ``quiet_ms``."""
    return f"""(path) => {{
  const app = document.querySelector('[data-testid=stApp]');
  return window.__ran && location.pathname === path
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid=stStatusWidget]')
    && performance.now() - window.__last > {quiet_ms};
}}"""
