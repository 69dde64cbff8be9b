"""Chapter 3: the report's zone-pattern network (faithful and repaired) and a modern CNN.

The public face of the chapter; the modules behind it:

- :mod:`.models` — the networks;
- :mod:`.zones` — a zone-pattern network with overlapping zones (research, not registered);
- :mod:`.train` — their training and evaluation on the whole data set as tensors;
- :mod:`.runs` — trained networks as cached computations, rebuilt without pickle;
- :mod:`.patterns` — what the pattern networks' zones learned;
- :mod:`.explain` — attributions of a network's answer over the pixels (captum).
"""

from core.cnn.explain import saliency
from core.cnn.models import PATTERNS, ZONE_ROWS, ModernCNN, PatternNet
from core.cnn.patterns import (
    ZONES,
    fired_patterns,
    pattern_picture,
    pattern_share,
    pattern_stats,
    pattern_tiles,
    pattern_triples,
    triple_rank,
    zone_crops,
)
from core.cnn.runs import (
    CONFIGS,
    HELD_OUT,
    STORES,
    cached_results,
    config_of,
    describe,
    features_of,
    held_out,
    history_frame,
    load_model,
    trained,
)
from core.cnn.train import MODELS, CnnConfig, device, to_tensor, train, validation_split

__all__ = [
    "CONFIGS", "HELD_OUT", "MODELS", "PATTERNS", "STORES", "ZONE_ROWS", "ZONES",
    "cached_results", "CnnConfig", "config_of", "describe", "device", "features_of",
    "fired_patterns", "held_out", "history_frame", "load_model", "ModernCNN",
    "pattern_picture", "pattern_share", "pattern_stats", "pattern_tiles", "pattern_triples",
    "PatternNet", "saliency", "to_tensor", "train", "trained", "triple_rank",
    "validation_split", "zone_crops",
]  # fmt: skip
