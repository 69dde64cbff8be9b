"""Progress reporting: the callback type core uses, and a terminal bar for it.

Long work in core reports ``progress(done, total)``; the command line shows it with
tqdm, a dashboard page with ``st.progress``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[int, int], None]


@contextmanager
def tqdm_progress(desc: str, unit: str = "B") -> Iterator[Progress]:
    """Yield a callback that drives a tqdm bar, shown only once work is reported.

    Log records emitted meanwhile are printed above the bar instead of through it.
    """
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    bars: list[tqdm] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(desc=desc, unit=unit, unit_scale=True, unit_divisor=1024))
        bar = bars[0]
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        with logging_redirect_tqdm():
            yield update
    finally:
        for bar in bars:
            bar.close()
