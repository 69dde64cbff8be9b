"""Computations that outlive the page that asked for them: the machinery.

A :class:`Task` names a computation by a kind and a few JSON parameters, never by code;
what each kind runs is the caller's table (:mod:`core.tasks`), handed in as a function.
A :class:`JobRunner`, one per server, runs each task in a worker *process* of its own
(``python -m <worker module>``), one at a time, the rest queued. A worker records its
progress in ``<cache>/.jobs/<task id>.json``, rewritten atomically and at least every
second (its heartbeat), and its result goes to the cache as any result does.

So every session, tab and process sees the same progress by reading that file; a rerun,
a page switch or a closed tab stops nothing; asking for a task that is queued or running
joins it instead of starting it twice; a worker that dies (killed, out of memory) is
reported as failed with the reason, and the task can be submitted again. The command
line runs tasks in its own process with :func:`run_here`, which writes the same file, so
a dashboard shows those as running too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from core.cache import cache_root
from core.errors import ExplorerError
from core.progress import Progress

_log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
Run = Callable[[str, dict, Progress], None]  # (kind, params, progress): computes a task
Check = Callable[[str, dict], None]  # (kind, params): raises if no such task can run
HEARTBEAT_S = 1.0  # a live job's state file is rewritten at least this often
STALE_S = 20.0  # a queued or running job silent this long is taken for dead
BACKGROUND_NICE = 10  # how much a computation's process yields to the server's (os.nice)


@dataclass(frozen=True)
class Task:
    """A computation named by its kind and JSON-able parameters (see :mod:`core.tasks`)."""

    kind: str
    params: dict = field(default_factory=dict)
    title: str = ""  # what a person calls it ("the augmented neighbours of the test set")

    @property
    def id(self) -> str:
        ident = json.dumps({"kind": self.kind, "params": self.params}, sort_keys=True)
        return hashlib.sha256(ident.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class JobState:
    """What a job's state file says, as any process reads it."""

    id: str
    kind: str
    params: dict
    title: str
    state: str  # QUEUED, RUNNING, DONE or FAILED
    done: int = 0
    total: int = 0
    created: float = 0.0  # when it was submitted (seconds since the epoch)
    started: float | None = None
    updated: float = 0.0  # the last heartbeat
    finished: float | None = None
    pid: int | None = None
    error: str = ""  # one line: why it failed
    detail: str = ""  # the traceback, for whoever wants it

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def seconds_left(self, now: float | None = None) -> float | None:
        """A straight-line estimate from the progress so far (None before any)."""
        if self.state != RUNNING or not self.started or not 0 < self.fraction < 1:
            return None
        elapsed = (now or time.time()) - self.started
        return elapsed * (1 - self.fraction) / self.fraction


def jobs_dir() -> Path:
    path = cache_root() / ".jobs"
    path.mkdir(exist_ok=True)
    return path


def _path(job_id: str) -> Path:
    return jobs_dir() / f"{job_id}.json"


def _write(state: JobState) -> None:
    path = _path(state.id)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(asdict(state)))
    os.replace(tmp, path)


def _write_failed(state: JobState, why: str) -> None:
    """Record, on behalf of a worker that can no longer say it, that its job failed."""
    now = time.time()
    _write(replace(state, state=FAILED, error=why, finished=now, updated=now))


def read(job_id: str) -> JobState | None:
    """The state of a job, or None if it was never submitted (or its file is unreadable).

    A queued or running job whose heartbeat stopped is reported as failed: its worker (or
    the server that queued it) is gone.
    """
    try:
        state = JobState(**json.loads(_path(job_id).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    silent = time.time() - state.updated
    if state.active and silent > STALE_S:
        where = "worker" if state.state == RUNNING else "server that queued it"
        return replace(
            state,
            state=FAILED,
            error=f"the {where} stopped without finishing (no sign of life for {silent:.0f} s)",
        )
    return state


def all_jobs() -> list[JobState]:
    """Every job with a state file, newest first."""
    states = [read(p.stem) for p in jobs_dir().glob("*.json")]
    return sorted((s for s in states if s), key=lambda s: s.created, reverse=True)


def forget(job_id: str) -> None:
    """Remove a finished job's state file (a failure dismissed)."""
    state = read(job_id)
    if state is not None and not state.active:
        _path(job_id).unlink(missing_ok=True)


def _new_state(task: Task, state: str, **changes: Any) -> JobState:
    now = time.time()
    return JobState(
        task.id,
        task.kind,
        task.params,
        task.title or task.kind,
        state,
        created=now,
        updated=now,
        **changes,
    )


# -- running a task in this process (the worker, and the command line) -----------------


class _Reporter:
    """Progress and heartbeat of one running job, written to its state file."""

    def __init__(self, task: Task):
        self.state = _new_state(task, RUNNING, started=time.time(), pid=os.getpid())
        queued = read(task.id)
        if queued is not None and queued.state == QUEUED:  # keep when it was asked for
            self.state = replace(self.state, created=queued.created)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.last = 0.0
        _write(self.state)
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            self.update()

    def update(self, **changes: Any) -> None:
        with self.lock:
            self.state = replace(self.state, updated=time.time(), **changes)
            _write(self.state)

    def progress(self, done: int, total: int) -> None:
        self.state = replace(self.state, done=done, total=total)
        if time.monotonic() - self.last > 0.5 or done >= total:
            self.last = time.monotonic()
            self.update()

    def finish(self, **changes: Any) -> None:
        self.stop.set()
        self.thread.join()
        self.update(finished=time.time(), **changes)


def run_here(task: Task, run: Run, progress: Progress | None = None) -> JobState:
    """Run ``task`` in this process with ``run``, its state file kept as a worker keeps it.

    If the task is already queued or running elsewhere, wait for that job instead (and
    report its progress). Returns the final state; a failure is returned, not raised.
    """
    current = read(task.id)
    if current is not None and current.active:
        _log.warning(
            "%s is being computed elsewhere (pid %s); waiting for it", task.title, current.pid
        )
        return wait(task.id, progress=progress)
    return execute(task, run, progress)


def execute(task: Task, run: Run, progress: Progress | None = None) -> JobState:
    """Run ``task`` here, whatever its state file says (a worker's body)."""
    reporter = _Reporter(task)

    def both(done: int, total: int) -> None:
        reporter.progress(done, total)
        if progress is not None:
            progress(done, total)

    try:
        run(task.kind, task.params, both)
    except BaseException as exc:  # recorded for every session, then re-raised if fatal
        reporter.finish(state=FAILED, error=_one_line(exc), detail=traceback.format_exc())
        if not isinstance(exc, Exception):
            raise
    else:
        reporter.finish(state=DONE, done=max(reporter.state.done, reporter.state.total))
    return reporter.state


def wait(
    job_id: str,
    timeout: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    poll: float = 0.25,
) -> JobState:
    """Wait until a job is done or failed (or ``timeout`` seconds pass); its last state."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        state = read(job_id)
        if state is None:
            raise KeyError(f"no job {job_id}")
        if progress is not None and state.total:
            progress(state.done, state.total)
        if not state.active or (deadline is not None and time.monotonic() > deadline):
            return state
        time.sleep(poll)


def _one_line(exc: BaseException) -> str:
    """The first line of an error; our own errors already say what was expected and found,
    others are named by their type."""
    text = str(exc).strip().splitlines()
    if isinstance(exc, ExplorerError) and text:
        return text[0]
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# -- the server's runner: worker processes, one at a time --------------------------------


@dataclass(frozen=True)
class Batch:
    """Tasks queued together ("compute everything"), each with its expected seconds."""

    ids: tuple[str, ...]
    seconds: tuple[float, ...]
    started: float

    def progress(self, now: float | None = None) -> dict:
        """Where the batch stands: ``fraction`` done (weighted by expected seconds),
        ``seconds_left`` (from the pace so far; None before any progress), and the counts
        of jobs ``done``, ``failed`` and in all (``total``)."""
        states = [read(i) for i in self.ids]
        parts = [
            1.0 if s is None or not s.active else (s.fraction if s.state == RUNNING else 0.0)
            for s in states
        ]
        weights = np.maximum(np.asarray(self.seconds, float), 1.0)
        fraction = float(np.dot(weights, parts) / weights.sum()) if len(weights) else 1.0
        elapsed = (now or time.time()) - self.started
        left = elapsed * (1 - fraction) / fraction if 0 < fraction < 1 else None
        return {
            "fraction": fraction,
            "seconds_left": left,
            "total": len(states),
            "done": sum(s is not None and s.state == DONE for s in states),
            "failed": sum(s is not None and s.state == FAILED for s in states),
            "active": sum(s is not None and s.active for s in states),
        }


class JobRunner:
    """Runs submitted tasks in worker processes, ``max_workers`` at a time, the rest queued.

    One per server (the dashboard keeps it in ``st.cache_resource``). ``worker`` is the
    module a worker runs (``python -m worker '<task as JSON>'``, see :func:`worker_main`),
    ``check`` refuses a task before it is queued. Its monitor thread starts queued jobs,
    notices workers that exit without a word (killed: reported with the signal), and
    keeps the heartbeat of the jobs it queued.
    """

    def __init__(self, worker: str, check: Check, max_workers: int = 1):
        self.worker, self.check, self.max_workers = worker, check, max_workers
        self.batch: Batch | None = None  # the last batch submitted (compute everything)
        self._queue: deque[Task] = deque()
        self._workers: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._monitor = threading.Thread(target=self._watch, daemon=True, name="job-runner")
        self._monitor.start()

    def submit(self, task: Task) -> JobState:
        """Queue ``task``, or join it if it is already queued or running anywhere (another
        server on the same cache included: the check and the queueing hold a file lock)."""
        self.check(task.kind, task.params)
        with self._lock, FileLock(str(_path(task.id)) + ".lock"):
            current = read(task.id)
            if current is not None and current.active:
                return current
            state = _new_state(task, QUEUED)
            _write(state)
            self._queue.append(task)
        self._wake.set()
        return state

    def submit_all(self, tasks: list[Task], seconds: list[float]) -> Batch:
        """Queue several tasks (joining those already queued or running) as one batch,
        whose progress :attr:`batch` then reports."""
        for task in tasks:
            self.submit(task)
        self.batch = Batch(tuple(t.id for t in tasks), tuple(seconds), time.time())
        return self.batch

    def queued(self) -> list[str]:
        """Ids of the jobs waiting for a worker, first in line first."""
        with self._lock:
            return [t.id for t in self._queue]

    def kill(self, job_id: str) -> None:
        """Stop a job's worker at once (SIGKILL): it is then reported as failed."""
        with self._lock:
            proc = self._workers.get(job_id)
        if proc is not None:
            proc.send_signal(signal.SIGKILL)

    def cancel(self, job_id: str, why: str = "cancelled") -> None:
        """Take a job out of this runner's queue, or end its worker and whatever that
        started (its process group); the job is then failed with ``why``. A job another
        process runs is left alone."""
        with self._lock:
            queued = any(t.id == job_id for t in self._queue)
            self._queue = deque(t for t in self._queue if t.id != job_id)
            proc = self._workers.pop(job_id, None)
            if proc is not None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the worker leads its own group
                except ProcessLookupError:
                    pass
                proc.wait()
            state = read(job_id)
            if (queued or proc is not None) and state is not None and state.active:
                _write_failed(state, why)

    def close(self) -> None:
        """Stop watching: no more jobs started, no more heartbeats for the queued ones
        (which are then taken for dead). Running workers go on to their end."""
        self._closed.set()
        self._wake.set()
        self._monitor.join(timeout=5)

    def _watch(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            if self._closed.is_set():
                return
            try:
                self._tick()
            except Exception:  # the monitor must outlive any one bad job
                _log.exception("job runner: monitor error")

    def _tick(self) -> None:
        with self._lock:
            for job_id, proc in list(self._workers.items()):
                code = proc.poll()
                if code is None:
                    continue
                del self._workers[job_id]
                state = read(job_id)
                if state is not None and state.active:  # died without a word
                    why = (
                        f"the worker process was killed by signal {-code}"
                        if code < 0
                        else f"the worker process exited with code {code}"
                    )
                    _write_failed(state, why)
            while self._queue and len(self._workers) < self.max_workers:
                task = self._queue.popleft()
                self._workers[task.id] = self._spawn(task)
            now = time.time()
            for task in self._queue:  # queued jobs live as long as this runner does
                state = read(task.id)
                if state is not None and state.state == QUEUED:
                    _write(replace(state, updated=now))

    def _spawn(self, task: Task) -> subprocess.Popen:
        spec = json.dumps({"kind": task.kind, "params": task.params, "title": task.title})
        _log.info("jobs: starting %s", task.title)
        return subprocess.Popen(
            [sys.executable, "-m", self.worker, spec],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives a server's Ctrl-C
        )


def yield_to_people() -> None:
    """Lower this process's CPU priority by :data:`BACKGROUND_NICE`: a computation then
    takes only the CPU that the dashboard's sessions leave (on an idle machine, all of it).
    """
    with contextlib.suppress(OSError):  # a platform without nice: run as is
        os.nice(BACKGROUND_NICE)


def worker_main(run: Run, argv: list[str] | None = None) -> int:
    """A worker process's body: run the task given as JSON in ``argv[0]``; 0 if done."""
    logging.basicConfig(level=logging.INFO, format="worker %(levelname)s %(message)s")
    yield_to_people()
    spec = json.loads((argv or sys.argv[1:])[0])
    state = execute(Task(spec["kind"], spec["params"], spec.get("title", "")), run)
    return 0 if state.state == DONE else 1
