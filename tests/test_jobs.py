"""The job runner: computations in worker processes that outlive whoever asked for them.

Real tasks on real MNIST, in the worker processes the dashboard uses: a job joined
instead of started twice, a killed worker reported and retried, a job running in another
process joined by the command line, a silent worker taken for dead, and nothing run that
the task table does not name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from filelock import FileLock

from core import jobs, knn, methods, tasks
from core.errors import ExplorerError
from tests.conftest import REPO


def _running(job_id: str, timeout: float = 120, progress: bool = True) -> jobs.JobState:
    """Wait until the job's worker runs it (and, with ``progress``, has reported some)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = jobs.read(job_id)
        if state is not None and state.state == jobs.RUNNING and (state.done > 0 or not progress):
            return state
        if state is not None and state.state in (jobs.DONE, jobs.FAILED):
            pytest.fail(f"the job ended before it could be observed running: {state}")
        time.sleep(0.05)
    pytest.fail("the job never reported progress")


def test_a_second_request_joins_the_job_instead_of_starting_another(cached_copy):
    runner = tasks.runner()
    task = methods.get("splines-report-corrected-w1").task()
    first = runner.submit(task)
    again = runner.submit(task)  # another session asks for the same result
    assert again.id == first.id and again.active
    done = jobs.wait(task.id, timeout=300)
    assert done.state == jobs.DONE and done.pid != os.getpid()  # ran in a worker process
    assert done.finished >= done.started >= done.created
    assert len(jobs.all_jobs()) == 1


def test_two_servers_on_one_cache_compute_a_result_once(cached_copy):
    first, second = tasks.runner(), tasks.runner()  # two dashboards' runners, one cache
    try:
        task = tasks.neighbours_task("raw", 0)
        queued = first.submit(task)
        joined = second.submit(task)  # the other server asks for the same result
        assert joined.id == queued.id and joined.active
        assert second.queued() == []  # it joined; it will start no worker
        done = jobs.wait(task.id, timeout=300)
        assert done.state == jobs.DONE and second.queued() == []
        assert knn.cached_neighbours(knn.NeighbourConfig(fold=0)) is not None
    finally:
        first.close()
        second.close()


def test_a_killed_worker_is_reported_and_the_task_can_be_retried(cached_copy):
    runner = tasks.runner()
    task = tasks.neighbours_task("raw", 0)  # one cross-validation fold: seconds of work
    runner.submit(task)
    running = _running(task.id)
    assert 0 < running.fraction < 1
    runner.kill(task.id)
    deadline = time.monotonic() + 30
    while (state := jobs.read(task.id)).active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state.state == jobs.FAILED
    assert state.error == f"the worker process was killed by signal {int(signal.SIGKILL)}"
    assert knn.cached_neighbours(knn.NeighbourConfig(fold=0)) is None  # nothing half-written
    runner.submit(task)  # retry
    assert jobs.wait(task.id, timeout=300).state == jobs.DONE
    assert knn.cached_neighbours(knn.NeighbourConfig(fold=0)) is not None


def test_the_command_line_joins_a_job_running_in_a_worker(cached_copy):
    runner = tasks.runner()
    method = methods.get("knn-deskewed")
    # The test holds the result's file lock: the worker's job runs (its heartbeat beating)
    # but waits at the lock for as long as the command line takes to start, however busy
    # the CPU (its imports take 3-8 s on two loaded cores, more beside other tests).
    lock = FileLock(str(knn.STORE.path(knn.NeighbourConfig("deskewed"))) + ".lock")
    lock.acquire()
    try:
        runner.submit(method.task())
        started = _running(method.task().id, progress=False)
        cli = subprocess.Popen(
            [sys.executable, "-m", "core", "compute", method.id],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        said = f"being computed elsewhere (pid {started.pid})"
        joined = _first_line_with(cli.stderr, said, timeout=300)
        assert jobs.read(method.task().id).active, "the job ended while the lock was held"
    finally:
        lock.release()
    out, err = cli.communicate(timeout=600)
    assert joined, f"the command line did not say it joined the job: {err}"
    assert cli.returncode == 0, err
    final = jobs.read(method.task().id)
    assert final.state == jobs.DONE and final.pid == started.pid  # the worker's, not the CLI's
    assert method.status().state == "cached"


def _first_line_with(stream, text: str, timeout: float) -> bool:
    """Read ``stream`` line by line until one holds ``text``; False after ``timeout``."""
    found = threading.Event()

    def scan() -> None:
        for line in stream:
            if text in line:
                found.set()
                return

    threading.Thread(target=scan, daemon=True).start()
    return found.wait(timeout)


def test_a_silent_worker_is_taken_for_dead(tmp_cache):
    task = methods.get("knn-raw").task()
    stale = jobs.JobState(
        task.id, task.kind, task.params, task.title, jobs.RUNNING, done=3, total=10,
        created=time.time() - 100, started=time.time() - 100, updated=time.time() - 60,
        pid=999999,
    )  # fmt: skip
    jobs.jobs_dir().joinpath(f"{task.id}.json").write_text(json.dumps(stale.__dict__))
    state = jobs.read(task.id)
    assert state.state == jobs.FAILED and "stopped without finishing" in state.error
    assert methods.get("knn-raw").status().state == "failed"


def test_only_the_task_table_runs(tmp_cache):
    runner = tasks.runner()
    with pytest.raises(ExplorerError, match="expected a kind among"):
        runner.submit(jobs.Task("os.system", {"command": "touch /tmp/pwned"}))
    with pytest.raises(ExplorerError, match="unexpected parameters"):
        runner.submit(jobs.Task("method", {"id": "knn-raw", "extra": 1}))
    with pytest.raises(ExplorerError, match="method: expected one of"):
        runner.submit(jobs.Task("method", {"id": "nope"}))
    # A worker started by hand on a forged task refuses it too, and says why.
    worker = subprocess.run(
        [sys.executable, "-m", "core.tasks", json.dumps({"kind": "eval", "params": {}})],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert worker.returncode == 1
    failed = [s for s in jobs.all_jobs() if s.kind == "eval"]
    assert failed and "expected a kind among" in failed[0].error
    assert jobs.all_jobs()[0].state == jobs.FAILED


def test_progress_and_time_left_are_estimated_from_the_state():
    state = jobs.JobState("x", "method", {}, "t", jobs.RUNNING, done=25, total=100,
                          started=100.0, updated=130.0)  # fmt: skip
    assert state.fraction == 0.25
    assert state.seconds_left(now=130.0) == pytest.approx(90.0)
    assert jobs.JobState("x", "method", {}, "t", jobs.QUEUED).seconds_left() is None


def test_everything_lists_the_cnn_map_after_the_network_it_needs(cached_copy):
    # On an empty cache the CNN's map cannot be configured yet; it is listed all the same,
    # after the network, so that one `compute --all` computes both.
    titles = [task.title for task, _ in tasks.everything()]
    network = titles.index(methods.get("cnn-modern").name)
    cnn_map = titles.index(tasks.map_task("cnn").title)
    assert network < cnn_map
