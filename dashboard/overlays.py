"""Plotly drawings over a digit: templates over their halos, a template before and after it
bent, a network's attribution, a training image's displacement field (no Streamlit here)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard import figures


def strokes_over_halo(
    halo_image: np.ndarray, curves: list[np.ndarray], controls: list[np.ndarray], title: str
) -> go.Figure:
    """A halo (H, W) with its Bézier curves and control points drawn on top.

    curves, controls : (n, 2) arrays of (row, column) points.
    """
    fig = go.Figure(
        go.Heatmap(
            z=halo_image,
            colorscale=[[0, "white"], [1, "#9ecae1"]],
            showscale=False,
            zmin=0,
            zmax=255,
            hovertemplate="row %{y}, col %{x}: %{z}<extra></extra>",
        )
    )
    for i, (curve, ctrl) in enumerate(zip(curves, controls, strict=True)):
        fig.add_trace(
            go.Scatter(
                x=curve[:, 1],
                y=curve[:, 0],
                mode="lines",
                name=f"stroke {i + 1}",
                line={"width": 2},
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=ctrl[:, 1],
                y=ctrl[:, 0],
                mode="markers+lines",
                name=f"control {i + 1}",
                line={"dash": "dot", "width": 1},
                marker={"size": 8, "symbol": "circle-open"},
                hovertemplate="control point (row %{y:.1f}, col %{x:.1f})<extra></extra>",
            )
        )
    figures.square_image_axes(fig, title)
    fig.update_layout(showlegend=False, height=330)
    return fig


def deformation(image: np.ndarray, before, after, title: str = "") -> go.Figure:
    """A template before (dashed blue) and after (red) it was deformed onto an image, over
    the image with the deformed halo faint beneath; each control point's move as a line.

    before, after : :class:`core.splines.Drawing` of the same template
    """
    under = np.maximum(np.asarray(after.halo, np.uint8) // 5, np.asarray(image, np.uint8))
    fig = go.Figure(figures.digit_trace(under))
    for curve in before.curves:
        fig.add_trace(
            go.Scatter(
                x=curve[:, 1], y=curve[:, 0], mode="lines", hoverinfo="skip",
                line={"color": "#1f77b4", "width": 2, "dash": "dash"},
            )
        )  # fmt: skip
    for curve, old, new in zip(after.curves, before.controls, after.controls, strict=True):
        fig.add_trace(
            go.Scatter(
                x=curve[:, 1], y=curve[:, 0], mode="lines", hoverinfo="skip",
                line={"color": "#d62728", "width": 2},
            )
        )  # fmt: skip
        xs, ys = figures.segments(old, new)
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, mode="lines+markers", line={"color": "#ff7f0e", "width": 1},
                marker={"size": 5}, hovertemplate="(row %{y:.1f}, col %{x:.1f})<extra></extra>",
            )
        )  # fmt: skip
    figures.square_image_axes(fig, title)
    fig.update_layout(showlegend=False)
    return fig


def saliency(image: np.ndarray, attribution: np.ndarray, title: str = "") -> go.Figure:
    """Attributions (28, 28) in red (for the digit) and blue (against), the digit's ink as
    a contour over them."""
    bound = float(np.abs(attribution).max()) or 1.0
    fig = go.Figure(
        [
            go.Heatmap(
                z=attribution,
                colorscale="RdBu",
                reversescale=True,
                zmin=-bound,
                zmax=bound,
                showscale=False,
                hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra></extra>",
            ),
            go.Contour(
                z=np.asarray(image, float),
                contours={"start": 127, "end": 128, "size": 1, "coloring": "none"},
                line={"color": "black", "width": 1},
                showscale=False,
                hoverinfo="skip",
            ),
        ]
    )
    figures.square_image_axes(fig, title)
    return fig


def displacement_field(
    reference: np.ndarray, shift: np.ndarray, query: np.ndarray, title: str = ""
) -> go.Figure:
    """How a query was matched in a training image: over the training image, an arrow
    from each inked query pixel's place to the pixel it matched (shift (28, 28, 2) of
    (d_row, d_col)); pixels matched in place get a dot."""
    rows, cols = np.nonzero(np.asarray(query) > 0)
    d_row, d_col = shift[rows, cols, 0], shift[rows, cols, 1]
    moved = (d_row != 0) | (d_col != 0)
    starts = np.stack([rows[moved], cols[moved]], axis=1)
    xs, ys = figures.segments(starts, starts + np.stack([d_row[moved], d_col[moved]], axis=1))
    fig = go.Figure(
        [
            figures.digit_trace(reference),
            go.Scatter(
                x=xs, y=ys, mode="lines", line={"color": "#d62728", "width": 1.5},
                hoverinfo="skip", showlegend=False,
            ),
            go.Scatter(
                x=cols[moved] + d_col[moved], y=rows[moved] + d_row[moved], mode="markers",
                marker={"color": "#d62728", "size": 4}, showlegend=False,
                hovertemplate="matched at row %{y}, col %{x}<extra></extra>",
            ),
            go.Scatter(
                x=cols[~moved], y=rows[~moved], mode="markers",
                marker={"color": "#1f77b4", "size": 2}, hoverinfo="skip", showlegend=False,
            ),
        ]
    )  # fmt: skip
    figures.square_image_axes(fig, title)
    return fig
