"""The one way pages reach results: small keys in, one shared copy out.

A cache entry is read (and its checksums verified) once per server while it stays the
same: reads are memoised on the entry's folder name and its manifest's modification
time, so an entry computed later is seen on the next rerun, and a damaged one that the
cache removed is not served from memory. No page clears Streamlit's caches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core import cnn, knn, maps, methods, splines, suspicious, tasks
from core.cache import Result, Store, cache_root
from core.knn import distortion, idm
from core.methods import Method, TestResult
from dashboard.data import mnist
from dashboard.jobs import require


def _stamp(store: Store, config: Any) -> tuple[str, int] | None:
    manifest = store.path(config) / "manifest.json"
    try:
        return manifest.parent.name, manifest.stat().st_mtime_ns
    except OSError:
        return None


@st.cache_resource(show_spinner=False, max_entries=64)
def _read(store_name: str, stamp: tuple[str, int], _store: Store, _config: Any) -> Result | None:
    return _store.load(_config)


def entry(store: Store, config: Any) -> Result | None:
    """The verified cache entry of ``config`` in ``store``, or None (never computes)."""
    stamp = _stamp(store, config)
    return None if stamp is None else _read(store.method, stamp, store, config)


@st.cache_resource(show_spinner=False, max_entries=16)
def _entries(store_name: str, stamps: tuple, _store: Store) -> list[Result]:
    return _store.entries()


def entries(store: Store) -> list[Result]:
    """Every valid entry of a store (any config), oldest first; re-read when one changes."""
    folder = cache_root() / store.method
    stamps = (
        tuple(sorted((p.parent.name, p.stat().st_mtime_ns) for p in folder.glob("*/manifest.json")))
        if folder.exists()
        else ()
    )
    return _entries(store.method, stamps, store)


def entries_of(stores) -> list[Result]:
    """Every valid entry of several stores, oldest first."""
    found = [r for store in stores for r in entries(store)]
    return sorted(found, key=lambda r: r.manifest["created"])


# -- methods of the registry ---------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=64)
def _test_result(method_id: str, stamp: tuple[str, int]) -> TestResult | None:
    method = methods.get(method_id)
    cached = entry(method.store, method.config)
    return None if cached is None else method._test_result(cached)


def result(method: Method) -> TestResult | None:
    """A method's test-set result if cached (predictions, scores, timings)."""
    stamp = _stamp(method.store, method.config)
    return None if stamp is None else _test_result(method.id, stamp)


def require_result(method: Method, stop: bool = True) -> TestResult | None:
    """A method's result; when missing, the offer to compute it in the background."""
    return require(
        f"“{method.name}”",
        lambda: result(method),
        method.task(),
        method.cost,
        key=f"method:{method.id}",
        stop=stop,
    )


def require_entry(method: Method, stop: bool = True) -> Result | None:
    """A method's raw cache entry (arrays and meta); offered for computing when missing."""
    return require(
        f"“{method.name}”",
        lambda: entry(method.store, method.config),
        method.task(),
        method.cost,
        key=f"method:{method.id}",
        stop=stop,
    )


def network_held_out(method: methods.CnnMethod) -> Result | None:
    """A network's outputs on the training images it held out, with the temperature
    fitted on them; offered for computing (beside the page's other content) when missing."""
    return require(
        f"the temperature of {method.name} (its outputs on the training images it held out)",
        lambda: entry(cnn.HELD_OUT[method.model], method.config),
        tasks.held_out_task(method.id),
        "a few seconds",
        key=f"held-out:{method.id}",
        stop=False,
    )


def cnn_features() -> Result | None:
    """The modern CNN's features of every image; offered for computing (beside the page's
    other content) when missing, and the network first when it is not trained."""
    from core import similar

    network = methods.get("cnn-modern")
    if result(network) is None:
        require_result(network, stop=False)
        return None
    return require(
        "the modern CNN's features of the 70,000 images",
        lambda: entry(similar.STORE, similar.feature_config()),
        tasks.features_task(),
        "about 15 to 45 seconds",
        key="cnn-features",
        stop=False,
    )


@st.cache_resource(show_spinner=False, max_entries=4)
def _image_features(stamps: tuple) -> pd.DataFrame:
    from core import features

    return features.test_features()


def image_features() -> pd.DataFrame:
    """The test images' features (:func:`core.features.test_features`), read again only
    when one of the results they come from changes."""
    from core import features

    idm, learned = methods.get("knn-idm"), methods.get("splines-learned")
    stamps = (
        _stamp(features.STORE, features.FeatureConfig()),
        _stamp(knn.STORE, knn.NeighbourConfig()),
        _stamp(idm.store, idm.config),
        _stamp(learned.store, learned.config),
    )
    return _image_features(stamps)


# -- chapter 1: neighbour lists by variant and fold, votes by K ---------------------------


def neighbours(variant: str, fold: int | None = None, stop: bool = True) -> Result | None:
    """The neighbour list of (variant, fold); offered for computing when missing."""
    config = knn.NeighbourConfig(variant=variant, fold=fold)
    where = "the test set" if fold is None else f"fold {fold + 1}"
    return require(
        f"the {variant} neighbours of {where}",
        lambda: entry(knn.STORE, config),
        tasks.neighbours_task(variant, fold),
        "about 10 seconds (raw) to two minutes (augmented variants)",
        key=f"knn:{variant}:{fold}",
        stop=stop,
    )


@st.cache_resource(show_spinner=False, max_entries=256)
def _votes(variant: str, fold: int | None, k: int, weights: str, stamp) -> tuple:
    config = knn.NeighbourConfig(variant=variant, fold=fold)
    return knn.predict(entry(knn.STORE, config), config, k, weights)


def votes(variant: str, fold: int | None, k: int, weights: str) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, class scores) of a K-vote over cached neighbours: no distance computed."""
    stamp = _stamp(knn.STORE, knn.NeighbourConfig(variant=variant, fold=fold))
    return _votes(variant, fold, k, weights, stamp)


@st.cache_resource(show_spinner=False, max_entries=64)
def _idm_votes(k: int, weights: str, stamp) -> tuple:
    return knn.idm_predict(entry(knn.IDM_STORE, knn.IdmConfig()), k, weights)


def idm_votes(k: int, weights: str) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, class scores) of a K-vote over the cached distortion re-ranking."""
    return _idm_votes(k, weights, _stamp(knn.IDM_STORE, knn.IdmConfig()))


@st.cache_resource(show_spinner=False, max_entries=32)
def _idm_story(index: int, stamp) -> dict:
    config = knn.IdmConfig()
    arrays = entry(knn.IDM_STORE, config).arrays
    found = arrays["keys"][index] >= 0
    keys = arrays["keys"][index][found]
    images, about = idm.training_images(config, keys)
    query = idm.query_images(config, [index])[0]
    fields = [
        distortion.displacement(query, image, config.window, config.context) for image in images
    ]
    table = pd.DataFrame(
        {
            "training image": about,
            "label": arrays["labels"][index][found],
            "IDM distance": arrays["distances"][index][found],
            "pixels moved": [int((f["shift"] != 0).any(axis=-1).sum()) for f in fields],
        }
    )
    return {"query": query, "images": images, "neighbours": table, **fields[0]}


def idm_story(index: int) -> dict:
    """Test image ``index`` against its IDM-nearest: the image as compared, the neighbours'
    images and table, and the nearest's displacement field (shift, cost, warped)."""
    return _idm_story(index, _stamp(knn.IDM_STORE, knn.IdmConfig()))


@st.cache_resource(show_spinner=False, max_entries=16)
def query_labels(variant: str, fold: int | None) -> np.ndarray:
    return knn.query_labels(knn.NeighbourConfig(variant=variant, fold=fold))


def folds_ready(variant: str = "raw") -> bool:
    """Every fold of the report's cross-validation cached; else the offer to compute them."""
    n = knn.NeighbourConfig().n_folds
    ready = all(_stamp(knn.STORE, knn.NeighbourConfig(variant, f)) for f in range(n))
    if ready:
        return True
    require(
        "the neighbours of the 5 cross-validation folds",
        lambda: None,
        tasks.folds_task(variant),
        "about 10 to 30 seconds per fold",
        key=f"knn-folds:{variant}",
    )
    return False


@st.cache_resource(show_spinner="Voting every K and weighting on every fold…", max_entries=4)
def _grid(variant: str, stamps: tuple) -> pd.DataFrame:
    return knn.grid_search(variant)


def grid_search(variant: str = "raw") -> pd.DataFrame:
    """The cross-validated grid (K 1..20 × weighting) from the cached folds."""
    n = knn.NeighbourConfig().n_folds
    stamps = tuple(_stamp(knn.STORE, knn.NeighbourConfig(variant, f)) for f in range(n))
    return _grid(variant, stamps)


@st.cache_resource(show_spinner=False, max_entries=5)
def held_out(fold: int) -> np.ndarray:
    """Training-set indices of the images fold ``fold`` holds out (the report's scheme)."""
    c = knn.NeighbourConfig(fold=fold)
    return knn.fold_rows(c.cv_scheme, c.n_folds, c.cv_seed, fold)[1]


# -- chapter 2 ------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Reading the rigid templates at another width…", max_entries=8)
def _rigid_distances(width: int, stamp) -> np.ndarray:
    config = splines.DeformConfig().templates
    found = entry(splines.LEARNED_STORE, config)
    control = found.arrays["control"]
    templates = learned_templates(found.path.name, control, width)
    return splines.digit_distances(mnist("test")[0], control, width, templates=templates)


def rigid_predictions(width: int) -> np.ndarray:
    """The deformable method's templates read rigidly at halo ``width``: test predictions
    (10000,), what the deformation is compared with at that width."""
    config = splines.DeformConfig().templates
    if width == config.width:
        return entry(splines.LEARNED_STORE, config).arrays["test_pred"]
    return _rigid_distances(width, _stamp(splines.LEARNED_STORE, config)).argmin(axis=1)


@st.cache_resource(show_spinner="Reading the deformed templates at another width…", max_entries=8)
def _deform_rescored(width: int, stamp) -> np.ndarray:
    config = splines.DeformConfig()
    arrays = entry(splines.DEFORM_STORE, config).arrays
    control = entry(splines.LEARNED_STORE, config.templates).arrays["control"]
    rigid = _rigid_distances(width, _stamp(splines.LEARNED_STORE, config.templates))
    return splines.rescore(mnist("test")[0], arrays, control, width, config, rigid=rigid)


def deform_distances(width: int) -> np.ndarray:
    """The deformable templates' test distances (10000, 10) read at halo ``width`` (the
    deformations kept); at the width they were deformed at, the cached ones."""
    config = splines.DeformConfig()
    if width == config.halo:
        return entry(splines.DEFORM_STORE, config).arrays["distances"]
    return _deform_rescored(width, _stamp(splines.DEFORM_STORE, config))


@st.cache_resource(show_spinner=False, max_entries=8)
def _learned_templates(entry_name: str, width: int, _control: np.ndarray) -> np.ndarray:
    return splines.hard_templates(_control.reshape(-1, *_control.shape[2:]), width)


def learned_templates(entry_name: str, control: np.ndarray, width: int) -> np.ndarray:
    """The halo images of a cached learned set: (10 · m, 28, 28) uint8, digit-major."""
    return _learned_templates(entry_name, width, control)


# -- chapter 3 ------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Attributing the answer to pixels…", max_entries=64)
def saliency(method_id: str, entry_name: str, index: int, targets: tuple[int, ...]) -> np.ndarray:
    """Integrated gradients (len(targets), 28, 28) of a cached network for test image
    ``index`` (memoised: an image page revisited costs nothing)."""
    method = methods.get(method_id)
    model = cnn.load_model(entry(method.store, method.config), method.config)
    return cnn.saliency(model, mnist("test")[0][index], list(targets), method.config)


# -- suspicious labels ----------------------------------------------------------------------


def _evidence_stamps(split: str, with_imported: bool = False) -> tuple:
    if split == "test":
        ids = (*suspicious.TEST_KNN, *suspicious.TEST_CNN)
        if with_imported:
            ids += tuple(m.id for m in methods.all_methods() if m.chapter == 0)
        return tuple(_stamp(methods.get(i).store, methods.get(i).config) for i in ids)
    e = suspicious.TRAIN_EVIDENCE
    configs = knn.fold_configs(e["variant"], cv_scheme=e["cv_scheme"])
    return tuple(_stamp(knn.STORE, c) for c in configs)


@st.cache_resource(show_spinner="Ranking the labels…", max_entries=4)
def _ranked(split: str, with_imported: bool, stamps: tuple) -> pd.DataFrame | None:
    if split == "test":
        found = suspicious.test_evidence(with_imported)
    else:
        found = suspicious.train_evidence()
    return None if found is None else suspicious.rank(found)


def ranked_labels(split: str, with_imported: bool = False) -> pd.DataFrame | None:
    """The split's images, most suspicious label first (None: no evidence cached)."""
    return _ranked(split, with_imported, _evidence_stamps(split, with_imported))


# -- maps --------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=8)
def _map_xy(stamp, _config) -> np.ndarray | None:
    found = entry(maps.STORE, _config)
    return None if found is None else found.arrays["xy"]


def map_xy(config) -> np.ndarray | None:
    """The cached UMAP map of a config (None while it is not computed)."""
    stamp = _stamp(maps.STORE, config)
    return None if stamp is None else _map_xy(stamp, config)


@st.cache_resource(show_spinner="Laying out the PCA map…", max_entries=4)
def _instant(features: str, cnn_entry: str, _config) -> np.ndarray:
    return maps.instant(_config)


def instant_map(config) -> np.ndarray:
    """The PCA map of a config's features (a second or two the first time)."""
    return _instant(config.features, config.cnn_entry, config)


@st.cache_resource(show_spinner=False)
def text_thumbnails() -> list[str]:
    """Every test image as hover text (:func:`dashboard.figures.text_thumbnails`)."""
    from dashboard.figures import text_thumbnails as draw

    return draw(mnist("test")[0])
