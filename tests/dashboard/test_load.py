"""Twenty people on one dashboard for two minutes while ``compute --all`` runs in the
background, each a session of Streamlit's own protocol: no exception, every action
finished, no result lost."""

from __future__ import annotations

import pytest

from core.cache import CACHE_ENV, cache_root
from dashboard.load import ACTIONS, computing_everything, damaged, drive, entries, linked_copy
from dashboard.local import serve

pytestmark = pytest.mark.slow
SESSIONS, SECONDS = 20, 120


def test_twenty_sessions_for_two_minutes_while_everything_is_computed(mnist_dir, tmp_path):
    # What this run's cache holds, but for the networks and the maps: compute --all has
    # those to train meanwhile (and whatever the earlier tests did not compute).
    cache = linked_copy(cache_root(), tmp_path / "cache")
    env = {CACHE_ENV: str(cache)}
    before = entries(cache)
    with serve(env) as url, computing_everything(env) as compute:
        report = drive(url, SESSIONS, SECONDS)
        still_computing = compute.poll() is None
    assert report.seconds >= SECONDS
    assert report.exceptions == [] and report.failures == []
    assert set(ACTIONS) <= set(report.counts)  # every kind of action was done
    assert report.counts["first page"] == SESSIONS  # every session got in
    assert sum(report.counts.values()) >= 2 * SESSIONS  # and went on to other pages
    assert report.fragment_requests > 0  # the progress fragments' auto-reruns too
    assert still_computing or compute.returncode == 0
    assert damaged(cache, before) == []
    print(
        f"\n{SESSIONS} sessions × {SECONDS} s: page switch p95 "
        f"{report.percentile('switch', 95):.2f} s over {report.counts['switch']} switches, "
        f"{dict(report.counts)}, fragment reruns {report.fragment_runs} of "
        f"{report.fragment_requests}"
    )
