"""Read back what a page sent to the browser in a ``st.plotly_chart`` element."""

from __future__ import annotations

import base64
import json

import numpy as np


def traces(element) -> list[dict]:
    """The traces of a plotly chart element of an AppTest run."""
    return json.loads(element.proto.spec)["data"]


def array(value) -> np.ndarray:
    """A trace attribute as an array, decoding plotly's typed-array form if used."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return flat.reshape([int(s) for s in str(shape).split(",")]) if shape else flat
    return np.asarray(value)
