"""Plotly figures built from plain arrays (no Streamlit here, so they are testable)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

GREYS = "gray_r"  # ink dark on white, as the digits are printed


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


def digit_trace(image: np.ndarray) -> go.Heatmap:
    """A (28, 28) image of 0..255 pixels, ink dark, hover giving row, column and value."""
    return go.Heatmap(
        z=image,
        colorscale=GREYS,
        zmin=0,
        zmax=255,
        showscale=False,
        hovertemplate="row %{y}, col %{x}: %{z}<extra></extra>",
    )


def segments(starts: np.ndarray, ends: np.ndarray) -> tuple[list, list]:
    """Line segments (n, 2) of (row, column) points as one trace's x and y, gaps between."""
    xs, ys = [], []
    for (r0, c0), (r1, c1) in zip(starts, ends, strict=True):
        xs += [c0, c1, None]
        ys += [r0, r1, None]
    return xs, ys


def digit_image(image: np.ndarray, title: str = "", height: int | None = None) -> go.Figure:
    """One (28, 28) image as a heatmap whose hover gives row, column and pixel value."""
    fig = go.Figure(digit_trace(image))
    square_image_axes(fig, title)
    if height:
        fig.update_layout(height=height)
    return fig


def mosaic(
    images: np.ndarray, indices: np.ndarray, gap: int = 2, text: np.ndarray | None = None
) -> go.Figure:
    """A grid of images, one row per digit, hovering shows each image's index.

    images : ndarray of shape (N, 28, 28)
    indices : int ndarray of shape (rows, cols), -1 where a cell stays empty
    text : optional str ndarray of shape (rows, cols): each image's caption, shown on hover
        instead of its index and pixel values. The captions then ride on one invisible
        point per image (trace 1) and the pixels are bytes with blank gaps (trace 0): a
        caption per pixel made a gallery of 40 images a 1 MB figure for the browser.
    """
    rows, cols = indices.shape
    h, w = images.shape[1:]
    cell_h, cell_w = h + gap, w + gap
    captioned = text is not None
    blank, kind = (0, np.uint8) if captioned else (np.nan, float)
    z = np.full((rows * cell_h, cols * cell_w), blank, kind)
    tiles = images[np.maximum(indices, 0)].astype(kind)  # (rows, cols, h, w)
    tiles[indices < 0] = blank
    grid = z.reshape(rows, cell_h, cols, cell_w)
    grid[:, :h, :, :w] = tiles.transpose(0, 2, 1, 3)
    heat = {"z": z, "colorscale": GREYS, "zmin": 0, "zmax": 255, "showscale": False}
    if captioned:
        fig = go.Figure(go.Heatmap(**heat, hoverinfo="skip"))
        r, c = np.nonzero(indices >= 0)
        fig.add_trace(
            go.Scatter(
                x=c * cell_w + (w - 1) / 2,
                y=r * cell_h + (h - 1) / 2,
                mode="markers",
                marker={"opacity": 0, "size": 20},
                customdata=indices[r, c],
                text=np.asarray(text)[r, c],
                hovertemplate="%{text}<extra></extra>",
                showlegend=False,
            )
        )
    else:
        ids = np.full(z.shape, -1)
        ids.reshape(rows, cell_h, cols, cell_w)[:, :h, :, :w] = indices[:, None, :, None]
        hover = "image #%{customdata}: pixel %{z}<extra></extra>"
        fig = go.Figure(go.Heatmap(**heat, customdata=ids, hoverongaps=False, hovertemplate=hover))
    square_image_axes(fig, "")
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(
        tickvals=[r * cell_h + h / 2 for r in range(rows)],
        ticktext=[str(r) for r in range(rows)],
        showticklabels=True,
        title="digit",
    )
    fig.update_layout(height=max(300, 34 * rows + 40))
    return fig


def square_image_axes(fig: go.Figure, title: str) -> None:
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


def confusion_matrix(
    cm: np.ndarray,
    selected: tuple[int, int] | None = None,
    axes: tuple[str, str] = ("true", "predicted"),
) -> go.Figure:
    """A confusion matrix drawn as square scatter markers, so that cells can be selected.

    Row = true digit, column = predicted digit (``axes``: what rows and columns are).
    Each marker carries ``customdata`` = (true, predicted, count): a box selection in
    the browser returns it. (Heatmap traces return no selection in Streamlit, hence
    markers.)
    """
    from plotly.colors import sample_colorscale

    n = len(cm)
    true, pred = np.divmod(np.arange(n * n), n)
    counts = cm.ravel()
    off = true != pred
    # Errors coloured on a log scale; correct predictions (the diagonal) in pale green.
    top = max(1.0, float(np.log10(counts[off].max(initial=0) + 1)))
    level = np.where(off, np.log10(counts + 1) / top, 0.0)  # 0..1 off the diagonal
    colours = np.where(off, sample_colorscale("Reds", list(0.85 * level)), "#d9f0d3")
    ink = np.where(off & (level > 0.55), "white", "#333")
    fig = go.Figure(
        go.Scatter(
            x=pred,
            y=true,
            mode="markers+text",
            text=[str(c) if c else "" for c in counts],
            textfont={"size": 11, "color": list(ink)},
            customdata=np.stack([true, pred, counts], axis=1),
            marker={"symbol": "square", "size": 36, "color": list(colours), "line": {"width": 0}},
            hovertemplate=f"{axes[0]} %{{customdata[0]}}, {axes[1]} %{{customdata[1]}}: "
            "%{customdata[2]} images<extra></extra>",
            selected={"marker": {"opacity": 1}},
            unselected={"marker": {"opacity": 1}},
        )
    )
    if selected is not None:
        fig.add_shape(
            type="rect",
            x0=selected[1] - 0.5,
            x1=selected[1] + 0.5,
            y0=selected[0] - 0.5,
            y1=selected[0] + 0.5,
            line={"color": "#1f77b4", "width": 3},
        )
    axis = {"tickmode": "array", "tickvals": list(range(n)), "showgrid": False, "zeroline": False}
    fig.update_xaxes(title=f"{axes[1]} digit", side="top", range=[-0.6, n - 0.4], **axis)
    fig.update_yaxes(title=f"{axes[0]} digit", range=[n - 0.4, -0.6], **axis)
    fig.update_layout(
        height=470,
        width=470,
        showlegend=False,
        plot_bgcolor="white",
        dragmode="select",
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
    )
    return fig


def gallery(images: np.ndarray, ids: np.ndarray, captions: list[str], cols: int = 10) -> go.Figure:
    """Images ``images[ids]`` in rows of ``cols``; hovering one shows its caption."""
    ids = np.asarray(ids)
    rows = max(1, -(-len(ids) // cols))
    grid = np.full(rows * cols, -1)
    grid[: len(ids)] = ids
    text = np.full(rows * cols, "", dtype=object)
    text[: len(ids)] = captions
    fig = mosaic(images, grid.reshape(rows, cols), text=text.reshape(rows, cols))
    fig.update_yaxes(showticklabels=False, title=None)
    fig.update_layout(height=max(120, 60 * rows + 20))
    return fig


def tile_rows(rows: list[tuple[np.ndarray, list[str]]], label: str) -> go.Figure:
    """One figure of several rows of tiles (each ``(tiles (n, h, w), captions)``), row r
    labelled ``f"{label} {r}"``: one chart for the browser to draw instead of one a row."""
    width = max(len(tiles) for tiles, _ in rows)
    grid = np.full((len(rows), width), -1)
    text = np.full((len(rows), width), "", dtype=object)
    start = 0
    for r, (tiles, captions) in enumerate(rows):
        grid[r, : len(tiles)] = np.arange(start, start + len(tiles))
        text[r, : len(tiles)] = captions
        start += len(tiles)
    fig = mosaic(np.concatenate([tiles for tiles, _ in rows]), grid, text=text)
    fig.update_yaxes(ticktext=[f"{label} {r}" for r in range(len(rows))], title=None)
    fig.update_layout(height=60 * len(rows) + 40, title=None)
    return fig


def lines(
    frame,
    x: str,
    y: str,
    color: str,
    title: str = "",
    percent: bool = True,
    error: str | None = None,
) -> go.Figure:
    """A line chart of a long table (one line per value of ``color``), with error bars
    from the column ``error`` if given."""
    import plotly.express as px

    fig = px.line(frame, x=x, y=y, color=color, markers=True, title=title or None, error_y=error)
    if percent:
        fig.update_yaxes(tickformat=".2%")
    fig.update_layout(height=360, margin={"t": 40 if title else 10, "b": 10})
    return fig


def matrix(frame, title: str, colorscale: str = "Viridis", fmt: str = ".3f") -> go.Figure:
    """A labelled heatmap of a small table (rows × columns), values on hover."""
    fig = go.Figure(
        go.Heatmap(
            z=frame.to_numpy(dtype=float),
            x=[str(c) for c in frame.columns],
            y=[str(i) for i in frame.index],
            colorscale=colorscale,
            hovertemplate=f"{frame.index.name} %{{y}}, {frame.columns.name} %{{x}}: "
            f"%{{z:{fmt}}}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title=frame.index.name, type="category")
    fig.update_xaxes(title=frame.columns.name, type="category")
    fig.update_layout(title=title, height=340, margin={"t": 40, "b": 10})
    return fig


def score_bars(scores: np.ndarray, label: int | None = None, height: int = 200) -> go.Figure:
    """The 10 class scores of one image as bars, the true label's bar marked."""
    colours = ["#888"] * 10
    if label is not None:
        colours[int(label)] = "#2a7"
    fig = go.Figure(
        go.Bar(
            x=list(range(10)),
            y=scores,
            marker_color=colours,
            hovertemplate="digit %{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin={"t": 10, "b": 10},
        xaxis={"dtick": 1, "title": "digit"},
        yaxis={"range": [0, 1], "title": "score"},
    )
    return fig


def text_thumbnails(images: np.ndarray) -> list[str]:
    """Each (28, 28) image as 7 lines of 14 half-block characters (hover text can hold
    no picture): every character covers a 2 × 2 block above another 2 × 2 block."""
    n = len(images)
    ink = np.asarray(images).reshape(n, 14, 2, 14, 2).max(axis=(2, 4)) > 96  # (n, 14, 14)
    top, bottom = ink[:, 0::2], ink[:, 1::2]  # (n, 7, 14) each
    glyphs = np.array([" ", "▄", "▀", "█"])[2 * top + bottom]
    return ["<br>".join("".join(row) for row in picture) for picture in glyphs]


# Ten colours told apart on white paper (the "tab10" palette with its grey made black).
DIGIT_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#222222", "#bcbd22", "#17becf",
]  # fmt: skip
# Right answers recede, errors stand out (drawn last, larger).
RIGHT_WRONG = {"right": "#c9c9c9", "wrong": "#d62728"}


def data_map(
    xy: np.ndarray,
    colour: np.ndarray,
    hover: list[str],
    title: str,
    categorical: bool,
) -> go.Figure:
    """The test set as points (WebGL), coloured by a digit, right/wrong or a score.

    Categorical ``colour`` values are digits (one colour each) or "right"/"wrong";
    a box or lasso selects (the drag mode it starts in).
    """
    n = len(xy)
    if categorical:
        names = np.array([str(c) for c in colour])
        traces = []
        for value in sorted(set(names), key=lambda v: (len(v), v)):
            rows = np.flatnonzero(names == value)
            wrong = value == "wrong"
            tint = RIGHT_WRONG.get(value) or DIGIT_COLOURS[int(value) % len(DIGIT_COLOURS)]
            traces.append(
                go.Scattergl(
                    x=xy[rows, 0],
                    y=xy[rows, 1],
                    mode="markers",
                    name=f"{value} ({len(rows)})" if value in RIGHT_WRONG else value,
                    marker={"size": 6 if wrong else 4, "opacity": 0.9, "color": tint},
                    customdata=rows,
                    text=[hover[r] for r in rows],
                    hovertemplate="%{text}<extra>#%{customdata}</extra>",
                )
            )
    else:
        traces = [
            go.Scattergl(
                x=xy[:, 0],
                y=xy[:, 1],
                mode="markers",
                customdata=np.arange(n),
                text=hover,
                marker={
                    "size": 4,
                    "color": colour,
                    "colorscale": "Inferno",
                    "showscale": True,
                    "opacity": 0.8,
                },
                hovertemplate="%{text}<extra>#%{customdata}</extra>",
            )
        ]
    fig = go.Figure(traces)
    fig.update_layout(
        title=title,
        height=640,
        dragmode="lasso",
        legend={"itemsizing": "constant"},
        hoverlabel={"font": {"family": "monospace", "size": 11}},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
    )
    return fig


_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.22}  # a legend under the x title


def reliability(tables: dict) -> go.Figure:
    """Reliability diagram: each method's accuracy against its mean confidence per bin
    (:func:`core.calibration.reliability` tables; a marker's size grows with its images),
    beside the diagonal of perfect calibration."""
    fig = go.Figure(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"dash": "dot", "color": "#999"},
            name="calibrated",
        )
    )
    for name, table in tables.items():
        full = table[table["images"] > 0]
        fig.add_trace(
            go.Scatter(
                x=full["confidence"],
                y=full["accuracy"],
                mode="lines+markers",
                name=name,
                marker={"size": 4 + 3 * np.log10(full["images"].to_numpy() + 1)},
                customdata=full[["images", "lo", "hi"]].to_numpy(),
                hovertemplate="confidence %{customdata[1]:.2f}–%{customdata[2]:.2f}: "
                "%{customdata[0]} images, mean %{x:.3f}, right %{y:.1%}<extra>%{fullData.name}"
                "</extra>",
            )
        )
    fig.update_xaxes(title="confidence (top score)", range=[0, 1.02])
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%")
    fig.update_layout(height=380, margin={"t": 10, "b": 10}, legend=_BELOW)
    return fig


def coverage(curves: dict) -> go.Figure:
    """Coverage–accuracy curves: keeping the images whose confidence is ≥ t, the share
    kept against their accuracy, one line per method (:func:`core.calibration.coverage`
    tables, thinned to at most 400 points each)."""
    fig = go.Figure()
    for name, table in curves.items():
        step = max(1, len(table) // 400)
        shown = table.iloc[np.unique(np.r_[np.arange(0, len(table), step), len(table) - 1])]
        fig.add_trace(
            go.Scatter(
                x=shown["coverage"],
                y=shown["accuracy"],
                mode="lines" if len(shown) > 1 else "markers",  # one confidence: one point
                name=name,
                customdata=shown[["threshold", "kept"]].to_numpy(),
                hovertemplate="confidence ≥ %{customdata[0]:.3f}: %{customdata[1]} images "
                "(%{x:.1%}), right %{y:.2%}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_xaxes(title="share of the images kept", range=[0, 1.02], tickformat=".0%")
    fig.update_yaxes(title="accuracy of those kept", tickformat=".1%")
    fig.update_layout(height=380, margin={"t": 10, "b": 10}, legend=_BELOW)
    return fig
