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

from core.knn.augment import (
    GROUPS,
    REPORT_GROUPS,
    TRANSFORMS,
    apply_transform,
    deskew,
    transformations,
)
from core.knn.folds import CV_SCHEMES, cv_rows, fold_rows, folds
from core.knn.idm import STORE as IDM_STORE
from core.knn.idm import WEIGHTS_CHOSEN as IDM_WEIGHTS
from core.knn.idm import IdmConfig, idm_image, idm_neighbours
from core.knn.idm import K as IDM_K
from core.knn.idm import predict as idm_predict
from core.knn.products import PATHS, product_plan
from core.knn.runs import (
    GRID_K,
    K_RANGE,
    REPORT_K,
    REPORT_VARIANTS,
    REPORT_WEIGHTS,
    STORE,
    VARIANTS,
    NeighbourConfig,
    Variant,
    accuracy_table,
    cached_neighbours,
    fold_configs,
    grid_search,
    image_neighbours,
    neighbours,
    out_of_fold_scores,
    predict,
    predict_images,
    query_labels,
    query_neighbours,
    search_space,
    training_images,
    training_labels,
    variant_name,
)
from core.knn.search import WEIGHTS, Neighbours, nearest_neighbours, vote

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
