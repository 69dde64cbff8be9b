"""Chapter 2: Bézier "spline halo" templates, the report's hand-made ones and learned ones.

The public face of the chapter; the modules behind it:

- :mod:`.bezier` — Bézier curves drawn as L∞ halos on a pixel grid;
- :mod:`.report` — the report's templates, read faithfully or as its text describes;
- :mod:`.learned` — templates whose control points are learned from the data;
- :mod:`.deform` — learned templates deformed onto each image they are matched with;
- :mod:`.runs` — both as cached computations, and their class scores;
- :mod:`.drawing` — templates as pictures in image coordinates.
"""

from core.splines.bezier import bezier_points, figure_2_1, rasterize_halo
from core.splines.deform import DeformConfig, rescore
from core.splines.deform import match as deform_match
from core.splines.drawing import (
    Drawing,
    band_points,
    learned_drawing,
    overlay,
    template_drawing,
)
from core.splines.learned import (
    LearnedConfig,
    digit_distances,
    hard_templates,
    nearest_per_digit,
    nearest_template,
    predict_learned,
)
from core.splines.report import (
    BAND_GRID,
    BANDS,
    MODES,
    band_to_image_rows,
    corrected_templates,
    diagnosis,
    report_templates,
    scores,
    stroke_image,
)
from core.splines.runs import (
    DEFORM_STORE,
    LEARNED_STORE,
    REPORT_SAMPLE,
    REPORT_STORE,
    WIDTHS,
    ReportSplineConfig,
    accuracy_frame,
    class_scores,
    deformable_splines,
    learned_splines,
    report_spline_table,
    report_splines,
)

__all__ = [
    "BAND_GRID", "BANDS", "DEFORM_STORE", "DeformConfig", "deformable_splines", "deform_match",
    "rescore",
    "LEARNED_STORE", "MODES", "REPORT_SAMPLE", "REPORT_STORE", "WIDTHS",
    "accuracy_frame", "band_points", "band_to_image_rows", "bezier_points", "class_scores",
    "corrected_templates", "diagnosis", "digit_distances", "Drawing", "figure_2_1",
    "hard_templates", "learned_drawing", "learned_splines", "LearnedConfig", "nearest_per_digit",
    "nearest_template", "overlay", "predict_learned", "rasterize_halo", "report_spline_table",
    "report_splines", "report_templates", "ReportSplineConfig", "scores", "stroke_image",
    "template_drawing",
]  # fmt: skip
