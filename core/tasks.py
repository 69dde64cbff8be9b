"""The computations the job runner may run, by name: a kind and JSON parameters.

A job's state file names its task this way, never as code, so a worker only ever runs
what this table holds. Each kind checks its parameters before anything is queued. This
module is also the workers' entry point: ``python -m core.tasks '<task as JSON>'``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

# maps (UMAP, numba), answers and imported are imported where they are used: a worker
# loads only what its task needs.
from core import jobs, knn, methods, splines
from core.errors import ExplorerError
from core.jobs import JobRunner, JobState, Task
from core.progress import Progress


def _method(progress: Progress, id: str) -> None:
    methods.get(id)._compute(progress)


def _held_out(progress: Progress, id: str) -> None:
    from core import cnn

    cnn.held_out(methods.get(id).config, progress)


def _twins(progress: Progress, split: str, distance: str = "euclidean") -> None:
    from core import duplicates

    duplicates.twins(duplicates.TwinConfig(split, distance), progress)


def _cnn_features(progress: Progress) -> None:
    from core import similar

    similar.cnn_features(progress)


def _knn_neighbours(progress: Progress, variant: str, fold: int | None) -> None:
    knn.neighbours(knn.NeighbourConfig(variant=variant, fold=fold), progress)


def _knn_folds(progress: Progress, variant: str, cv_scheme: str = "report") -> None:
    knn.grid_search(variant, progress=progress, cv_scheme=cv_scheme)


def _spline_table(progress: Progress) -> None:
    settings = [(m, w) for m in splines.MODES for w in splines.WIDTHS]
    for i, (mode, width) in enumerate(settings):
        splines.report_splines(splines.ReportSplineConfig(mode, width))
        progress(i + 1, len(settings))


def _map(progress: Progress, features: str, layout: str) -> None:
    from core import maps

    if features == "cnn":  # what the map needs first: its network, joined or trained
        needed = methods.get("cnn-modern")
        if needed.status().state != "cached":
            state = run_here(needed.task())
            if state.state != jobs.DONE:
                raise ExplorerError(f"the map needs {needed.name}, which failed: {state.error}")
    maps.compute(maps.config(features, layout), progress)


def _one_image(progress: Progress, ids: list[str], image: list[int]) -> None:
    from core import answers

    answers.compute([methods.get(i) for i in ids], answers.as_image(image), progress)


def _import(
    progress: Progress, sha256: str, filename: str, name: str, **options: str | bool
) -> None:
    from core import imported

    imported.import_staged(sha256, filename, name, progress, **options)


def _check_import(
    sha256: str, filename: str, name: str, pixels: str, outputs: str, normalise: bool
) -> None:
    from core import imported

    imported.staged(sha256)
    imported.kind_of(filename)
    imported.slug(name)
    imported.check_options(pixels, outputs, "import")


def _check_one_image(ids: list[str], image: list[int]) -> None:
    from core import answers

    for method_id in ids:
        methods.get(method_id)
    answers.as_image(image)


def _check_map(features: str, layout: str) -> None:
    from core import maps

    maps.MapConfig(features, layout)


def _check_method(id: str) -> None:
    methods.get(id)


def _check_held_out(id: str) -> None:
    if not isinstance(methods.get(id), methods.CnnMethod):
        raise ExplorerError(f"held-out outputs: expected a network's method id, found {id!r}")


def _check_twins(split: str, distance: str = "euclidean") -> None:
    from core import duplicates

    duplicates.TwinConfig(split, distance)


def _check_neighbours(variant: str, fold: int | None) -> None:
    knn.NeighbourConfig(variant=variant, fold=fold)


def _check_folds(variant: str, cv_scheme: str = "report") -> None:
    knn.NeighbourConfig(variant=variant, cv_scheme=cv_scheme)


def _check_nothing() -> None:
    pass


# kind: (run, check); check takes exactly the parameters and raises on a bad value.
_TASKS: dict[str, tuple[Callable[..., None], Callable[..., None]]] = {
    "method": (_method, _check_method),
    "knn-neighbours": (_knn_neighbours, _check_neighbours),
    "cnn-held-out": (_held_out, _check_held_out),
    "twins": (_twins, _check_twins),
    "cnn-features": (_cnn_features, _check_nothing),
    "knn-folds": (_knn_folds, _check_folds),
    "splines-report-table": (_spline_table, _check_nothing),
    "map": (_map, _check_map),
    "one-image": (_one_image, _check_one_image),
    "import": (_import, _check_import),
}


def check_task(kind: str, params: dict) -> None:
    """Raise :class:`ExplorerError` unless ``kind`` and ``params`` name a task we run."""
    if kind not in _TASKS:
        raise ExplorerError(f"task: expected a kind among {list(_TASKS)}, found {kind!r}")
    try:
        _TASKS[kind][1](**params)
    except TypeError as exc:
        raise ExplorerError(f"task {kind}: unexpected parameters {params} ({exc})") from None


def run_task(kind: str, params: dict, progress: Progress) -> None:
    """Run a task in this process (the worker's body)."""
    check_task(kind, params)
    _TASKS[kind][0](progress, **params)


def run_here(task: Task, progress: Progress | None = None) -> JobState:
    """Run a task in this process (or wait for the job running it elsewhere)."""
    return jobs.run_here(task, run_task, progress)


def runner(max_workers: int = 1) -> JobRunner:
    """A job runner whose workers run this table (one per server)."""
    return JobRunner("core.tasks", check_task, max_workers)


# -- the tasks pages and the command line ask for ------------------------------------------


def neighbours_task(variant: str, fold: int | None) -> Task:
    """The neighbour list of a variant on the test set (its method) or on one fold."""
    if fold is None:
        return methods.get("knn-" + variant.replace("+", "-")).task()
    return Task(
        "knn-neighbours",
        {"variant": variant, "fold": fold},
        title=f"the {variant} neighbours of fold {fold + 1}",
    )


def held_out_task(method_id: str) -> Task:
    """A network's outputs on the training images it held out, and its temperature."""
    return Task(
        "cnn-held-out",
        {"id": method_id},
        title=f"the temperature of {methods.get(method_id).name}, on its held-out images",
    )


def twins_task(split: str, distance: str = "euclidean") -> Task:
    """Each image's nearest other image of ``split`` (the near-duplicates within it)."""
    if distance == "euclidean":  # the parameters of the tasks queued before distortion's
        return Task("twins", {"split": split}, title=f"the {split} set's nearest other images")
    return Task(
        "twins",
        {"split": split, "distance": distance},
        title=f"the {split} set's nearest other images under the {distance} distance",
    )


def features_task() -> Task:
    """The modern CNN's features of the 70,000 images (for images like this one)."""
    return Task("cnn-features", {}, title="the modern CNN's features of every image")


def folds_task(variant: str = "raw", cv_scheme: str = "report") -> Task:
    params = {"variant": variant} | ({"cv_scheme": cv_scheme} if cv_scheme != "report" else {})
    where = "" if cv_scheme == "report" else f" ({cv_scheme})"
    return Task(
        "knn-folds",
        params,
        title=f"the {variant} neighbours of the 5 cross-validation folds{where}",
    )


def map_task(features: str, layout: str = "umap") -> Task:
    from core import maps

    return Task(
        "map",
        {"features": features, "layout": layout},
        title=f"the {layout.upper()} map of {maps.FEATURES[features]}",
    )


def one_image_task(method_ids: list[str], image) -> Task:
    """The answers of slow-to-start methods for one image (the Draw page's)."""
    from core import answers

    pixels = answers.as_image(image).ravel().tolist()
    return Task(
        "one-image",
        {"ids": list(method_ids), "image": pixels},
        title=f"{len(method_ids)} methods' answers for your digit",
    )


def import_task(
    sha256: str, filename: str, name: str, pixels: str, outputs: str, normalise: bool
) -> Task:
    """Import a staged upload (:func:`core.imported.stage`): an ONNX model runs for minutes
    at most, in its own process, so the page that asked stays responsive."""
    params = {"sha256": sha256, "filename": filename, "name": name, "pixels": pixels}
    params |= {"outputs": outputs, "normalise": bool(normalise)}
    return Task("import", params, title=f"the import of {filename} as “{name}”")


def spline_table_task() -> Task:
    return Task(
        "splines-report-table", {}, title="the report templates' scores at every mode and width"
    )


if __name__ == "__main__":
    sys.exit(jobs.worker_main(run_task))


# -- everything the pages use -------------------------------------------------------------


def everything() -> list[tuple[Task, float]]:
    """Every computation the pages use that is neither cached nor queued or running, with
    its expected seconds: the missing (or failed) methods, the report's cross-validation
    folds, the report templates' table, the training set's out-of-fold votes."""
    from core import maps

    todo = [
        (m.task(), m.seconds)
        for m in methods.all_methods()
        if m.chapter and m.status().state in ("missing", "failed")
    ]
    extra = [
        (folds_task("raw"), 60.0, knn.fold_configs("raw")),
        (
            folds_task("deskewed", "stratified"),
            90.0,
            knn.fold_configs("deskewed", cv_scheme="stratified"),
        ),
        (spline_table_task(), 20.0, []),
    ]
    for features in maps.FEATURES:
        try:
            cached = maps.STORE.exists(maps.config(features))
        except ExplorerError:  # the CNN's map: its network is not trained yet, and is
            cached = False  # earlier in this list (or running): the map follows it
        state = jobs.read(map_task(features).id)
        if not cached and not (state is not None and state.active):
            todo.append((map_task(features), 90.0))
    for task, seconds, configs in extra:
        state = jobs.read(task.id)
        if state is not None and state.active:
            continue
        if configs:
            missing = not all(knn.STORE.exists(c) for c in configs)
        else:
            missing = not all(
                splines.REPORT_STORE.exists(splines.ReportSplineConfig(m, w))
                for m in splines.MODES
                for w in splines.WIDTHS
            )
        if missing:
            todo.append((task, seconds))
    return todo
