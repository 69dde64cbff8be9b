"""What a job is and the file that records it: a :class:`Task` (a computation named by its
kind and JSON parameters), its :class:`JobState`, and ``<cache>/.jobs/<task id>.json``,
written atomically by whoever runs it and read by every process (:mod:`core.jobs` runs
them)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.cache import cache_root

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
HEARTBEAT_S = 1.0  # a live job's state file is rewritten at least this often
STALE_S = 20.0  # a queued or running job silent this long is taken for dead


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


def state_path(job_id: str) -> Path:
    return jobs_dir() / f"{job_id}.json"


def write_state(state: JobState) -> None:
    path = state_path(state.id)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(asdict(state)))
    os.replace(tmp, path)


def write_failed(state: JobState, why: str) -> None:
    """Record, on behalf of a worker that can no longer say it, that its job failed."""
    now = time.time()
    write_state(replace(state, state=FAILED, error=why, finished=now, updated=now))


def read(job_id: str) -> JobState | None:
    """The state of a job, or None if it was never submitted (or its file is unreadable).

    A queued or running job whose heartbeat stopped is reported as failed: its worker (or
    the server that queued it) is gone.
    """
    try:
        state = JobState(**json.loads(state_path(job_id).read_text()))
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
        state_path(job_id).unlink(missing_ok=True)


def new_state(task: Task, state: str, **changes: Any) -> JobState:
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
