"""Long computations from a page: run by the server's job runner, watched by every page.

A page that lacks a result calls :func:`require`: it says what is missing and what it
costs, and offers a button that queues the computation (:mod:`core.jobs` runs it in a
worker process, so a rerun, another page or a closed tab stops nothing). While it runs,
every session that asks for it sees the same progress, polled once a second; when it
ends, the page reruns and draws the result, or shows why it failed and offers a retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from core import jobs, tasks
from core.jobs import JobRunner, JobState, Task

T = TypeVar("T")
POLL_S = 1.0


@st.cache_resource(show_spinner=False)
def runner() -> JobRunner:
    """The server's one job runner (shared by every session)."""
    return tasks.runner(max_workers=1)


@st.cache_resource(show_spinner=False)
def import_runner() -> JobRunner:
    """The server's runner of imports: an uploaded model never waits behind a long
    computation, and runs in a worker of its own (its limits: :mod:`core.untrusted`)."""
    return tasks.runner(max_workers=1)


def _eta(state: JobState) -> str:
    left = state.seconds_left()
    if left is None:
        return ""
    return f", about {left:.0f} s left" if left < 90 else f", about {left / 60:.0f} min left"


def describe(state: JobState) -> str:
    """One line: what a job is doing."""
    if state.state == jobs.QUEUED:
        return f"{state.title}: queued, waiting for the computation before it"
    if state.state == jobs.RUNNING:
        return f"{state.title}: {100 * state.fraction:.0f}%{_eta(state)}"
    if state.state == jobs.FAILED:
        return f"{state.title}: failed: {state.error}"
    return f"{state.title}: done"


@st.fragment(run_every=POLL_S)
def _watch(job_id: str) -> None:
    """The progress of a job, redrawn each second; the whole page reruns when it ends."""
    state = jobs.read(job_id)
    if state is None or not state.active:
        st.rerun()  # the page draws the result, or the failure
    st.progress(state.fraction, text=describe(state))
    st.caption("Computed in the background: open other pages meanwhile, the result stays.")


def offer(task: Task, what: str, cost: str, key: str, start: bool = False) -> None:
    """The state of a missing result's computation, and the button that starts it
    (``start``: started at once, as the person already asked for it; a failure still
    waits for the retry button)."""
    state = jobs.read(task.id)
    if start and (state is None or state.state == jobs.DONE):
        runner().submit(task)
        state = jobs.read(task.id)
    if state is not None and state.active:
        _watch(task.id)
        return
    if state is not None and state.state == jobs.FAILED:
        st.error(f"Computing {what} failed: {state.error}", icon=":material/error:")
        if state.detail:
            with st.expander("Details"):
                st.code(state.detail, language=None)
        label, kind = f"Retry: compute {what}", "secondary"
    else:
        st.info(
            f"**Not computed yet:** {what}. Computing it takes {cost}; it runs in the "
            "background, so other pages stay usable meanwhile."
        )
        label, kind = f"Compute {what}", "primary"
    if st.button(label, key=f"compute:{key}", type=kind):
        runner().submit(task)
        st.rerun()


def require(
    what: str,
    load: Callable[[], T | None],
    task: Task,
    cost: str,
    key: str,
    stop: bool = True,
) -> T | None:
    """The result ``load()`` returns; when missing, :func:`offer` to compute it.

    With ``stop`` the rest of the page waits for the result; without, the caller gets
    None and shows what it can.
    """
    result = load()
    if result is not None:
        return result
    with st.container(border=True):
        offer(task, what, cost, key)
    if stop:
        st.stop()
    return None


@st.fragment(run_every=2 * POLL_S)
def sidebar() -> None:
    """Every computation running or queued on this server, for every page and session."""
    active = [s for s in jobs.all_jobs() if s.active]
    recent = [
        s
        for s in jobs.all_jobs()
        if s.state == jobs.FAILED and s.finished and time.time() - s.finished < 600
    ]
    if not active and not recent:
        return
    st.markdown("**Computations**")
    for state in active:
        st.progress(state.fraction, text=describe(state))
    for state in recent:
        st.caption(f":red[{describe(state)}]")


def describe_batch(batch) -> dict:
    """Where the last "compute everything" stands (:meth:`core.jobs.Batch.progress`)."""
    return batch.progress()


@st.fragment(run_every=POLL_S)
def watch_batch() -> None:
    """The overall progress of "compute everything", redrawn each second."""
    batch = runner().batch
    if batch is None:
        return
    p = batch.progress()
    if not p["active"]:
        st.rerun()  # done: the page shows what is cached now
    left = p["seconds_left"]
    eta = (
        ""
        if left is None
        else (f", about {left:.0f} s left" if left < 90 else f", about {left / 60:.0f} min left")
    )
    failed = f", {p['failed']} failed" if p["failed"] else ""
    st.progress(
        p["fraction"], text=f"Computing everything: {p['done']} of {p['total']} done{failed}{eta}"
    )
    st.caption("Runs in the background: every page keeps working and fills in as results arrive.")
