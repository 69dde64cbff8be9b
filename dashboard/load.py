"""Many people on one dashboard at once, each a session of Streamlit's own protocol.

A browser tab is, to the server, one websocket on ``/_stcore/stream``: it asks for script
runs (``BackMsg``: the page, its query string, the widgets' values, a button's trigger)
and receives what each run draws (``ForwardMsg``: protobuf deltas, then "script
finished"). :class:`Session` speaks that protocol directly, as the browser's frontend
does, with the auto-reruns of the pages' ``st.fragment(run_every=...)`` included. Nothing
is rendered on the client side, so twenty sessions cost the machine almost nothing
beyond what the server itself does for them: on two cores, twenty Chromium tabs would
measure Chromium.

Each session, until its time is up, does what a person does, with a pause of 3-10 s
between two actions (sessions arrive 2 s apart): switches pages, moves the KNN page's K
slider, turns a gallery's page, opens an image's page. An action's time runs from the
request to the end of the script run it asked for (the server's share of what a person
waits for). Every element drawn is checked for an exception. Used by the load test and
``bench/bench_load.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from dashboard.local import REPO

PAGES = (  # the url paths a session switches between ("" is the front page)
    "",
    "data",
    "knn",
    "cross-validation",
    "splines",
    "cnn",
    "errors",
    "compare",
    "image",
    "suspicious",
)
ACTIONS = ("switch", "switch", "k", "gallery", "image")  # page switches twice as often
THINK_S = (3.0, 10.0)  # a person's pause between two actions (uniform)
ARRIVAL_S = 2.0  # between two sessions' first pages
TIMEOUT_S = 180.0  # an action not finished by then is reported as a failure
N_TEST = 10_000

_DONE = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")
_COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_WITH_COMPILE_ERROR")
_FRAGMENT_DONE = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_FRAGMENT_RUN_SUCCESSFULLY")


@dataclass
class LoadReport:
    """What the sessions did and saw."""

    sessions: int
    seconds: float = 0.0
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    exceptions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # an action that never finished
    fragment_requests: int = 0  # auto-reruns of the pages' progress fragments asked for
    fragment_runs: int = 0  # and finished (a newer full run supersedes a waiting one)

    def percentile(self, action: str, q: float) -> float:
        return float(np.percentile(self.times[action], q)) if self.times[action] else np.nan

    @property
    def counts(self) -> Counter:
        return Counter({a: len(t) for a, t in self.times.items()})


@dataclass
class Widget:
    """A widget the last run drew: its element id and its proto (its value, its bounds)."""

    id: str
    kind: str
    proto: object


def _user_key(element_id: str) -> str:
    """The ``key=`` a page gave a widget: element ids end with it (``$$ID-<hash>-<key>``)."""
    return element_id.split("-", 2)[2] if element_id.count("-") >= 2 else ""


class Session:
    """One person's tab: a websocket to the server and what its last script run drew."""

    def __init__(self, ws, report: LoadReport, name: str):
        self.ws, self.report, self.name = ws, report, name
        self.pages: dict[str, str] = {}  # url path → page script hash (the navigation's)
        self.path, self.query = "", ""
        self.widgets: dict[str, Widget] = {}  # by user key, or by label for keyless ones
        self.values: dict[str, float] = {}  # what the tab's sliders were moved to
        self.fragments: dict[str, float] = {}  # fragment id → auto-rerun interval
        self._finished: asyncio.Queue[int] = asyncio.Queue()
        self._pending = False  # a full run asked for and not finished yet

    async def read(self) -> None:
        """Dispatch every message the server sends until the socket closes."""
        async for raw in self.ws:
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element)
            elif kind == "auto_rerun":
                self.fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            elif kind == "page_not_found":
                self.report.failures.append(f"{self.name}: page not found {msg.page_not_found}")
            elif kind == "script_finished":
                if msg.script_finished == _FRAGMENT_DONE:
                    self.report.fragment_runs += 1
                else:
                    await self._finished.put(msg.script_finished)

    def _element(self, element) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            where = f"/{self.path}?{self.query}"
            self.report.exceptions.append(
                f"{self.name} {where}: {element.exception.type}: {element.exception.message}"
            )
            return
        proto = getattr(element, kind)
        element_id = getattr(proto, "id", "")
        if element_id:
            key = _user_key(element_id) or getattr(proto, "label", "")
            self.widgets[key] = Widget(element_id, kind, proto)

    def _labelled(self, label: str) -> Widget | None:
        return next(
            (w for w in self.widgets.values() if getattr(w.proto, "label", "") == label), None
        )

    async def run(self, path: str, query: str = "", widgets=()) -> float:
        """Ask for a full script run of the page at ``path``; its seconds to the end.

        Raises ``TimeoutError`` past :data:`TIMEOUT_S` and ``RuntimeError`` when the run
        ends with a compile error.
        """
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string, state.page_name = query, path
        state.page_script_hash = self.pages.get(path, "")
        state.widget_states.widgets.extend(widgets)
        if path != self.path:  # the old page's fragments and widget values go with it
            self.fragments.clear()
            self.values.clear()
        self.path, self.query, self.widgets = path, query, {}
        while not self._finished.empty():  # the end of a run given up on (timed out)
            self._finished.get_nowait()
        start = time.monotonic()
        self._pending = True
        await self.ws.send(msg.SerializeToString())
        try:
            async with asyncio.timeout(TIMEOUT_S):
                while (status := await self._finished.get()) not in (_DONE, _COMPILE_ERROR):
                    pass  # a run cut short by a newer request: wait for the newer one
        finally:
            self._pending = False
        if status == _COMPILE_ERROR:
            raise RuntimeError(f"/{path}: the script did not compile")
        return time.monotonic() - start

    async def auto_reruns(self) -> None:
        """Rerun the page's fragments at their intervals, as the frontend does."""
        while True:
            await asyncio.sleep(min(self.fragments.values(), default=1.0))
            for fragment_id in list(self.fragments):
                # Checked before each request: a send awaits, and a full run asked for
                # meanwhile (a new page, a click) must not be followed by a rerun of a
                # fragment of the page it replaced, whose end would pass for its own.
                if self._pending or fragment_id not in self.fragments:
                    break
                msg = BackMsg()
                state = msg.rerun_script
                state.query_string, state.page_name = self.query, self.path
                state.page_script_hash = self.pages.get(self.path, "")
                state.fragment_id, state.is_auto_rerun = fragment_id, True
                await self.ws.send(msg.SerializeToString())
                self.report.fragment_requests += 1

    async def act(self, action: str, rng: random.Random) -> float | None:
        """One person's action; its seconds, or None when the page offers nothing for it."""
        if action == "switch":
            return await self.run(rng.choice([p for p in PAGES if p != self.path]))
        if action == "image":
            return await self.run("image", f"image={rng.randrange(N_TEST)}")
        if action == "k":
            if self.path != "knn":
                await self.run("knn")
            slider = self.widgets.get("k")
            if slider is None or slider.proto.disabled:
                return None
            # The tab keeps a widget's value (the server echoes it only when it sets it).
            shown = slider.proto.value if slider.proto.set_value else slider.proto.default
            k = int(self.values.get(slider.id, shown[0]))
            k = int(np.clip(k + rng.choice([-1, 1]), slider.proto.min, slider.proto.max))
            state = WidgetState(id=slider.id)
            state.double_array_value.data.append(k)
            self.values[slider.id] = k
            return await self.run("knn", f"k={k}", [state])
        if action == "gallery":
            if self.path != "errors":
                await self.run("errors")
            turn = self._labelled("▶")
            if turn is None or turn.proto.disabled:
                return None
            took = await self.run(
                "errors", self.query, [WidgetState(id=turn.id, trigger_value=True)]
            )
            back = self._labelled("◀")
            if back is None or back.proto.disabled:  # the next page shows: "previous" works
                self.report.failures.append(f"{self.name}: the gallery's page did not turn")
            return took
        raise ValueError(f"unknown action {action!r}")


async def _session(url: str, seconds: float, seed: int, report: LoadReport) -> None:
    from websockets.asyncio.client import connect

    rng = random.Random(seed)
    name = f"session {seed}"
    await asyncio.sleep(seed * ARRIVAL_S)  # people arrive one after another
    stream = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
    # As a browser: no websocket-level pings, and patience while a busy server accepts.
    options = {"max_size": None, "ping_interval": None, "open_timeout": TIMEOUT_S}
    async with connect(stream, subprotocols=["streamlit"], **options) as ws:
        session = Session(ws, report, name)
        tasks = [asyncio.create_task(session.read()), asyncio.create_task(session.auto_reruns())]
        try:
            report.times["first page"].append(await session.run(""))
            deadline = time.monotonic() + seconds  # from the first page drawn
            while time.monotonic() < deadline:
                await asyncio.sleep(rng.uniform(*THINK_S))  # a person looks at the page first
                action = rng.choice(ACTIONS)
                try:
                    took = await session.act(action, rng)
                except (TimeoutError, RuntimeError) as exc:
                    report.failures.append(f"{name}, {action} on /{session.path}: {exc!r}")
                    continue
                if took is not None:
                    report.times[action].append(took)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _drive(url: str, sessions: int, seconds: float) -> LoadReport:
    report = LoadReport(sessions)
    start = time.monotonic()
    outcomes = await asyncio.gather(
        *(_session(url, seconds, seed, report) for seed in range(sessions)),
        return_exceptions=True,
    )
    report.seconds = time.monotonic() - start
    for seed, outcome in enumerate(outcomes):
        if isinstance(outcome, BaseException):  # the socket dropped, or the server went
            report.failures.append(f"session {seed}: {outcome!r}")
    return report


def drive(url: str, sessions: int = 20, seconds: float = 120) -> LoadReport:
    """``sessions`` people on the dashboard at ``url``, each for ``seconds`` after its first
    page (finishing the action it is in): what they did, how long each took, what went
    wrong."""
    return asyncio.run(_drive(url, sessions, seconds))


@contextlib.contextmanager
def computing_everything(env: dict | None = None) -> Iterator[subprocess.Popen]:
    """``mnist-explorer compute --all`` running in the background meanwhile (stopped at the
    end if still running: its job is then reported failed, nothing half-written)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "-q", "compute", "--all"],
        cwd=REPO,
        env=os.environ | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=60)


def linked_copy(cache: Path, into: Path, leave_out: tuple[str, ...] = ("cnn-", "maps")) -> Path:
    """A cache of its own for a load run: the results of ``cache`` hard-linked (entries are
    written once and never changed in place), but for the stores whose names start with
    ``leave_out`` (what ``compute --all`` then has to compute meanwhile)."""
    for store in sorted(cache.iterdir()):
        if store.is_dir() and not store.name.startswith((".", *leave_out)):
            shutil.copytree(
                store,
                into / store.name,
                copy_function=os.link,
                ignore=shutil.ignore_patterns("*.lock", ".*"),
            )
    return into


def entries(cache: Path) -> dict[Path, bytes]:
    """Every result in a cache folder: its manifest's bytes, by path."""
    return {p: p.read_bytes() for p in sorted(cache.glob("*/*/manifest.json"))}


def damaged(cache: Path, before: dict[Path, bytes]) -> list[str]:
    """What went wrong with the results: an entry of ``before`` gone or changed, or an
    entry written since whose files do not match their manifest's SHA-256."""
    now = entries(cache)
    wrong = [f"{p.parent}: gone or changed" for p, raw in before.items() if now.get(p) != raw]
    for path in set(now) - set(before):
        manifest = json.loads(now[path])
        for name, digest in manifest.get("files", {}).items():
            if hashlib.sha256((path.parent / name).read_bytes()).hexdigest() != digest:
                wrong.append(f"{path.parent / name}: not the bytes its manifest names")
    return wrong
