"""Plotly figures built from plain arrays (no Streamlit here, so they are testable)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

_GREYS = "gray_r"  # ink dark on white, as the digits are printed


def digit_counts(counts: dict[str, np.ndarray]) -> go.Figure:
    """Grouped bars of images per digit, one trace per split (``{split: (10,) counts}``)."""
    fig = go.Figure(
        [
            go.Bar(
                name=split,
                x=list(range(10)),
                y=c,
                hovertemplate=f"{split}: digit %{{x}}: %{{y}} images<extra></extra>",
            )
            for split, c in counts.items()
        ]
    )
    fig.update_layout(
        barmode="group",
        xaxis={"title": "digit", "dtick": 1},
        yaxis_title="images",
        height=320,
        margin={"t": 10, "b": 10},
    )
    return fig


def digit_image(image: np.ndarray, title: str = "") -> go.Figure:
    """One (28, 28) image as a heatmap whose hover gives row, column and pixel value."""
    fig = go.Figure(
        go.Heatmap(
            z=image,
            colorscale=_GREYS,
            zmin=0,
            zmax=255,
            showscale=False,
            hovertemplate="row %{y}, col %{x}: %{z}<extra></extra>",
        )
    )
    _square_image_axes(fig, title)
    return fig


def mosaic(images: np.ndarray, indices: np.ndarray, gap: int = 2) -> go.Figure:
    """A grid of images, one row per digit, hovering shows each image's index.

    images : ndarray of shape (N, 28, 28)
    indices : int ndarray of shape (rows, cols), -1 where a cell stays empty
    """
    rows, cols = indices.shape
    h, w = images.shape[1:]
    cell_h, cell_w = h + gap, w + gap
    z = np.full((rows * cell_h, cols * cell_w), np.nan)
    ids = np.full(z.shape, -1)
    tiles = images[np.maximum(indices, 0)].astype(float)  # (rows, cols, h, w)
    tiles[indices < 0] = np.nan
    grid = z.reshape(rows, cell_h, cols, cell_w)
    grid[:, :h, :, :w] = tiles.transpose(0, 2, 1, 3)
    ids.reshape(rows, cell_h, cols, cell_w)[:, :h, :, :w] = indices[:, None, :, None]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            customdata=ids,
            colorscale=_GREYS,
            zmin=0,
            zmax=255,
            showscale=False,
            hoverongaps=False,
            hovertemplate="image #%{customdata}: pixel %{z}<extra></extra>",
        )
    )
    _square_image_axes(fig, "")
    fig.update_yaxes(
        tickvals=[r * cell_h + h / 2 for r in range(rows)],
        ticktext=[str(r) for r in range(rows)],
        showticklabels=True,
        title="digit",
    )
    fig.update_layout(height=max(300, 34 * rows + 40))
    return fig


def _square_image_axes(fig: go.Figure, title: str) -> None:
    fig.update_xaxes(
        showticklabels=False, ticks="", showgrid=False, zeroline=False, constrain="domain"
    )
    fig.update_yaxes(
        autorange="reversed",
        scaleanchor="x",
        showticklabels=False,
        showgrid=False,
        zeroline=False,
    )
    fig.update_layout(
        title=title or None,
        margin={"t": 40 if title else 10, "b": 10, "l": 10, "r": 10},
        plot_bgcolor="white",
    )
