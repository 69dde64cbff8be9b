"""Chapter 1: K nearest neighbours on raw pixels, augmented, deskewed, on PCA features.

The public face of the chapter; the modules behind it:

- :mod:`.search` — the exact brute-force search and the vote;
- :mod:`.products` — which matrix products this CPU may use, exactly;
- :mod:`.augment` — the report's augmentations as linear maps, and deskewing;
- :mod:`.pca` — principal components as integer features;
- :mod:`.folds` — the report's cross-validation folds;
- :mod:`.runs` — neighbour lists as cached computations, votes, the grid search;
- :mod:`.distortion` — the image distortion model's distance (pixels may move a little);
- :mod:`.idm` — that distance re-ranking Euclidean candidates, as cached computations.
"""

import importlib

# The function ``folds`` shares its name with its module: bound here, it stays the
# package's attribute whoever imports the module later.
from core.knn.folds import folds

# Each public name and the module it lives in, loaded on first use (PEP 562): a process
# that only searches neighbours does not import scikit-learn, scipy or pandas for the folds
# and the cached runs.
_WHERE = {
    "augment": ("GROUPS", "REPORT_GROUPS", "TRANSFORMS", "apply_transform", "deskew",
                "transformations"),
    "folds": ("CV_SCHEMES", "cv_rows", "fold_rows"),
    "products": ("PATHS", "product_plan"),
    "runs": ("GRID_K", "K_RANGE", "REPORT_K", "REPORT_VARIANTS", "REPORT_WEIGHTS", "STORE",
             "VARIANTS", "NeighbourConfig", "Variant", "accuracy_table", "cached_neighbours",
             "fold_configs", "grid_search", "image_neighbours", "neighbours",
             "out_of_fold_scores", "predict", "predict_images", "query_labels",
             "query_neighbours", "search_space", "training_images", "training_labels",
             "variant_name"),
    "search": ("WEIGHTS", "Neighbours", "nearest_neighbours", "vote"),
}  # fmt: skip
_RENAMED = {  # public name: (module, its name there)
    "IDM_STORE": ("idm", "STORE"),
    "IDM_WEIGHTS": ("idm", "WEIGHTS_CHOSEN"),
    "IDM_K": ("idm", "K"),
    "idm_predict": ("idm", "predict"),
    "IdmConfig": ("idm", "IdmConfig"),
    "idm_image": ("idm", "idm_image"),
    "idm_neighbours": ("idm", "idm_neighbours"),
}
_SOURCE = {name: (module, name) for module, names in _WHERE.items() for name in names}
_SOURCE |= _RENAMED | {"folds": ("folds", "folds")}


def __getattr__(name: str):
    if name not in _SOURCE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _SOURCE[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_SOURCE])


__all__ = [
    "CV_SCHEMES", "GRID_K", "GROUPS", "IDM_K", "IDM_STORE", "IDM_WEIGHTS", "IdmConfig", "idm_image",
    "idm_neighbours", "idm_predict", "K_RANGE", "PATHS", "REPORT_GROUPS", "REPORT_K",
    "REPORT_VARIANTS", "REPORT_WEIGHTS", "STORE", "TRANSFORMS", "VARIANTS", "WEIGHTS",
    "accuracy_table", "apply_transform", "cached_neighbours", "cv_rows", "deskew",
    "fold_configs", "fold_rows", "folds", "grid_search", "image_neighbours",
    "nearest_neighbours", "NeighbourConfig", "Neighbours", "neighbours", "out_of_fold_scores",
    "predict", "predict_images", "product_plan", "query_labels", "query_neighbours",
    "search_space", "training_images", "training_labels", "transformations", "Variant",
    "variant_name", "vote",
]  # fmt: skip
