"""Computations that outlive the page that asked for them: the machinery (what a job is
and its state file: :mod:`core.job_files`).

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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from filelock import FileLock

from core.errors import ExplorerError
from core.job_files import (
    DONE,
    FAILED,
    HEARTBEAT_S,
    QUEUED,
    RUNNING,
    STALE_S,
    JobState,
    Task,
    all_jobs,
    forget,
    jobs_dir,
    new_state,
    read,
    state_path,
    write_failed,
    write_state,
)
from core.progress import Progress

__all__ = [  # what a job is and its file (core.job_files), and the machinery that runs it
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "HEARTBEAT_S",
    "STALE_S",
    "BACKGROUND_NICE",
    "Task",
    "JobState",
    "read",
    "all_jobs",
    "forget",
    "jobs_dir",
    "Batch",
    "JobRunner",
    "run_here",
    "execute",
    "wait",
    "yield_to_people",
    "worker_main",
]
_log = logging.getLogger(__name__)

Run = Callable[[str, dict, Progress], None]  # (kind, params, progress): computes a task
Check = Callable[[str, dict], None]  # (kind, params): raises if no such task can run
BACKGROUND_NICE = 10  # how much a computation's process yields to the server's (os.nice)


# -- running a task in this process (the worker, and the command line) -----------------


class _Reporter:
    """Progress and heartbeat of one running job, written to its state file."""

    def __init__(self, task: Task):
        self.state = new_state(task, RUNNING, started=time.time(), pid=os.getpid())
        queued = read(task.id)
        if queued is not None and queued.state == QUEUED:  # keep when it was asked for
            self.state = replace(self.state, created=queued.created)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.last = 0.0
        write_state(self.state)
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            self.update()

    def update(self, **changes: Any) -> None:
        with self.lock:
            self.state = replace(self.state, updated=time.time(), **changes)
            write_state(self.state)

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
        with self._lock, FileLock(str(state_path(task.id)) + ".lock"):
            current = read(task.id)
            if current is not None and current.active:
                return current
            state = new_state(task, QUEUED)
            write_state(state)
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
                write_failed(state, why)

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
                    write_failed(state, why)
            while self._queue and len(self._workers) < self.max_workers:
                task = self._queue.popleft()
                self._workers[task.id] = self._spawn(task)
            now = time.time()
            for task in self._queue:  # queued jobs live as long as this runner does
                state = read(task.id)
                if state is not None and state.state == QUEUED:
                    write_state(replace(state, updated=now))

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
