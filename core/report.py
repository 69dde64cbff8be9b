"""Every cached figure, gathered as plain data (for ``python -m core report --json``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from core import cnn, marks, metrics, splines
from core.cache import config_dict
from core.data import DATA_CHECKSUM, SPLITS, load_mnist
from core.knn import (
    IDM_K,
    IDM_STORE,
    IDM_WEIGHTS,
    REPORT_K,
    REPORT_WEIGHTS,
    VARIANTS,
    WEIGHTS,
    IdmConfig,
    NeighbourConfig,
    accuracy_table,
    cached_neighbours,
    grid_search,
    idm_predict,
    predict,
    query_labels,
)


def _rounded(x: float) -> float:
    return round(float(x), 6)


def knn_test_figures() -> dict:
    """Per cached training variant: accuracy for every K and weighting, per-digit rates."""
    out = {}
    for variant in VARIANTS:
        config = NeighbourConfig(variant=variant)
        result = cached_neighbours(config)
        if result is None:
            continue
        table = accuracy_table(result, config)
        best_k, best_w = table.stack().idxmax()
        y = query_labels(config)
        pred, _ = predict(result, config, REPORT_K, REPORT_WEIGHTS)
        digits = metrics.per_digit(y, {"success": pred})["success"]
        out[variant] = {
            "accuracy": {w: {int(k): _rounded(a) for k, a in table[w].items()} for w in table},
            f"accuracy_K{REPORT_K}_{REPORT_WEIGHTS}": _rounded(table.loc[REPORT_K, REPORT_WEIGHTS]),
            "best": {"K": int(best_k), "weights": best_w, "accuracy": _rounded(table.max().max())},
            f"per_digit_success_K{REPORT_K}_{REPORT_WEIGHTS}": [_rounded(v) for v in digits],
            "errors": int((pred != y).sum()),
            "meta": result.meta,
        }
    return out


def knn_cv_figures() -> dict:
    """Per variant whose folds are all cached: the grid search and each fold's K=5 report."""
    out = {}
    for variant in VARIANTS:
        base = NeighbourConfig(variant=variant, fold=0)
        configs = [replace(base, fold=f) for f in range(base.n_folds)]
        results = [cached_neighbours(c) for c in configs]  # each read and verified once
        if any(r is None for r in results):
            continue
        grid = grid_search(variant)
        best = grid["mean"].idxmax()
        folds = []
        for config, result in zip(configs, results, strict=True):
            y = query_labels(config)
            pred, _ = predict(result, config, 5, "uniform")
            folds.append(
                {
                    "fold": config.fold + 1,
                    "accuracy_K5_uniform": _rounded(metrics.accuracy(y, pred)),
                    "confusion_K5_uniform": metrics.confusion(y, pred).tolist(),
                }
            )
        out[variant] = {
            "grid": [
                {"K": int(k), "weights": w, "mean": _rounded(r["mean"]), "std": _rounded(r["std"])}
                for (k, w), r in grid.iterrows()
            ],
            "best": {"K": int(best[0]), "weights": best[1], "mean": _rounded(grid["mean"].max())},
            "folds": folds,
            "seconds_search": _rounded(np.sum([r.meta.get("seconds_search", 0) for r in results])),
        }
    return out


def idm_figures() -> dict:
    """The distortion-tolerant KNN, if cached: its test accuracy and every K's."""
    config, k, weights = IdmConfig(), IDM_K, IDM_WEIGHTS
    result = IDM_STORE.load(config)
    if result is None:
        return {}
    y = load_mnist("test")[1]
    accuracy = {
        w: {
            n: _rounded(metrics.accuracy(y, idm_predict(result, n, w)[0]))
            for n in range(1, config.keep + 1)
        }
        for w in WEIGHTS
    }
    return {
        "config": config_dict(config) | {"k": k, "weights": weights},
        "test_accuracy": accuracy[weights][k],
        "accuracy": accuracy,
        "errors": int((idm_predict(result, k, weights)[0] != y).sum()),
        "meta": result.meta,
    }


def spline_figures() -> dict:
    """The report's templates per mode and width, and every cached learned set."""
    y = load_mnist("test")[1]
    report = {}
    for (mode, w), accs in splines.report_spline_table().items():
        pred = splines.report_splines(splines.ReportSplineConfig(mode, w)).arrays
        report[f"{mode}_width{w}"] = {
            **{k: _rounded(v) for k, v in accs.items()},
            "test_per_digit_success": [
                _rounded(v) for v in metrics.per_digit(y, {"s": pred["test_pred"]})["s"]
            ],
            "test_confusion": metrics.confusion(y, pred["test_pred"]).tolist(),
        }
    learned = [
        {
            "config": r.manifest["config"],
            "test_accuracy": _rounded(metrics.accuracy(y, r.arrays["test_pred"])),
            "train_seconds": _rounded(r.meta.get("seconds", 0)),
            "epoch_train_accuracy": [_rounded(a) for a in r.meta.get("epoch_train_accuracy", [])],
        }
        for r in splines.LEARNED_STORE.entries()
    ]
    deformable = {}
    entry = splines.DEFORM_STORE.load(splines.DeformConfig())
    if entry is not None:
        deformable = {
            "config": entry.manifest["config"],
            "test_accuracy": _rounded(metrics.accuracy(y, entry.arrays["test_pred"])),
            "seconds": _rounded(entry.meta.get("seconds", 0)),
            "meta": entry.meta,
        }
    return {"report_templates": report, "learned": learned, "deformable": deformable}


def cnn_figures() -> dict:
    """Every cached network: test accuracy, per-epoch curves, timings, device."""
    y = load_mnist("test")[1]
    out = {}
    for r in cnn.cached_results():
        config = r.manifest["config"]
        name = next((n for n, c in cnn.CONFIGS.items() if config_dict(c) == config), None)
        meta = r.meta
        out[name or f"{config['model']} ({r.path.name})"] = {
            "config": config,
            "test_accuracy": _rounded(metrics.accuracy(y, r.arrays["test_pred"])),
            "val_accuracy": [_rounded(a) for a in meta.get("val_accuracy", [])],
            "train_loss": [_rounded(a) for a in meta.get("train_loss", [])],
            "seconds": _rounded(meta.get("seconds", 0)),
            "device": meta.get("device"),
            "threads": meta.get("threads"),
        }
    return out


def all_figures() -> dict:
    """Everything cached, as JSON-able data. Computes nothing expensive."""
    from core.methods import all_methods

    corrected = marks.corrected_labels("test")
    return {
        "data_checksum": DATA_CHECKSUM,
        # how many labels a person corrected (each method's test_accuracy_corrected uses them)
        "label_corrections": {split: len(marks.corrections(split)) for split in SPLITS},
        "methods": [m.describe(corrected) for m in all_methods()],
        "knn": {
            "test": knn_test_figures(),
            "cross_validation": knn_cv_figures(),
            "idm": idm_figures(),
        },
        "splines": spline_figures(),
        "cnn": cnn_figures(),
    }
