"""Plotly figure builders shared by every page.

Training charts take `runs`: a mapping label -> list of per-epoch rows (EpochRecord.row()),
so one function draws a single live run or several runs overlaid for comparison. Every
figure carries a `uirevision` so zoom and hover survive live refreshes.
"""
from __future__ import annotations

import functools
import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

Rows = Sequence[dict]
PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]
PART_DASH = {"encoder_loss": "solid", "recon_loss": "dot", "reg_loss": "dash", "kl_loss": "dashdot"}
PART_NAME = {"encoder_loss": "total", "recon_loss": "reconstruction", "reg_loss": "regulariser",
             "kl_loss": "KL"}
REAL_COLOUR, FAKE_COLOUR = "#2a9d8f", "#e76f51"
PRIOR_GREY = "#b8b8b8"
# D3's category colours without its grey, which would read as the greyed prior
CLASS_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                 "#17becf"]
COLOUR_MODES = {"cloud": "Real (prior) vs fake (Z)", "label": "Z by class label",
                "score": "Z by the discriminator's D(z)", "degree": "Z by node degree"}


STEER_COLOUR = "#6a4c93"
Markers = Sequence[tuple[int, str]]   # (epoch, label): changes steered into a run (steering.markers)


def _add_markers(fig: go.Figure, markers: Markers, runs: Mapping[str, Rows] | None = None) -> go.Figure:
    """A dashed vertical line per steering change, labelled along the line (labels of nearby
    changes then sit side by side instead of on top of each other). With `runs`, the x axis
    spans all their epochs: a series that stops (the adversary steered off) does not end it."""
    epochs = [row["epoch"] for rows in (runs or {}).values() for row in rows]
    if markers and epochs:
        fig.update_xaxes(range=[min(epochs) - 0.5, max(epochs) + 0.5])
    for epoch, label in markers:
        fig.add_vline(x=epoch, line=dict(color=STEER_COLOUR, dash="dash", width=1.2),
                      annotation=dict(text=label, textangle=-90, font=dict(size=10, color=STEER_COLOUR),
                                      xanchor="right", yanchor="top"),
                      annotation_position="top left")
    return fig


LEGEND_ROW = 24  # px: one row of a horizontal legend


def _layout(fig: go.Figure, title: str, ytitle: str, revision: str, height: int = 330, *,
            legend_below: bool = False, drop_empty: bool = False, note: str | None = None,
            x_range: Sequence[float] | None = None, y_range: Sequence[float] | None = None) -> go.Figure:
    """The training charts' common layout and options (every curve figure takes them):
    `legend_below`: several models' long legends further under the chart (taller);
    `drop_empty`: leave out the empty traces (kept by default so that a model keeps its colour
    from chart to chart); `note`, `x_range`, `y_range`: a chart standing empty before a run."""
    if drop_empty:
        fig.data = tuple(t for t in fig.data if t.x is not None and len(t.x))
    # Legend under the x axis: beside the title it wraps upward into it in a narrow column. It
    # sits at the figure's bottom edge (container coordinates) in a margin kept for it: placed
    # as a fraction of the plot's height under the axis, it landed on the tick labels or the
    # axis title whenever the plot came out shorter (a finished 3,000-epoch run at 1440 px).
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), height=height,
                      margin=dict(l=10, r=10, t=40, b=LEGEND_ROW + 60), uirevision=revision,
                      legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, xanchor="left", x=0,
                                  traceorder="normal"),
                      xaxis_title="epoch", yaxis_title=ytitle, hovermode="x unified",
                      template="plotly_white")
    if legend_below:  # several models' long legends: room for two rows
        fig.update_layout(margin_b=2 * LEGEND_ROW + 60, height=height + 50)
    if note:
        fig.add_annotation(text=note, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.85,
                           font=dict(color="#666", size=13))
    if x_range is not None:
        fig.update_xaxes(range=list(x_range))
    if y_range is not None:
        fig.update_yaxes(range=list(y_range))
    return fig


def _series(rows: Rows, key: str) -> tuple[list, list]:
    xs, ys = [], []
    for row in rows:
        value = row.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            xs.append(row["epoch"])
            ys.append(value)
    return xs, ys


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _line_mode(xs: Sequence) -> str:
    """A line, or a marker too while a series has one point (a line of one point draws
    nothing: after the first epoch, or paused there in step mode, the charts looked empty)."""
    return "lines+markers" if len(xs) == 1 else "lines"


def discriminator_loss_figure(runs: Mapping[str, Rows], revision: str = "d-loss", markers: Markers = (),
                              **options) -> go.Figure:
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        xs, ys = _series(rows, "discriminator_loss")
        fig.add_trace(go.Scatter(x=xs, y=ys, mode=_line_mode(xs), name=label, line=dict(color=_colour(i))))
    # A judge that cannot tell real from fake sits at 2 ln 2 (0.5 / 0.5 on both halves).
    fig.add_hline(y=2 * math.log(2), line=dict(color="#999", dash="dot"),
                  annotation_text="2 ln 2: D is guessing", annotation_position="top left")
    return _layout(_add_markers(fig, markers, runs), "Discriminator loss", "loss", revision, **options)


def encoder_loss_figure(runs: Mapping[str, Rows], revision: str = "e-loss", markers: Markers = (),
                        **options) -> go.Figure:
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        for part, dash in PART_DASH.items():
            xs, ys = _series(rows, part)
            if not xs:
                continue
            name = PART_NAME[part] if len(runs) == 1 else f"{label} {PART_NAME[part]}"
            fig.add_trace(go.Scatter(x=xs, y=ys, mode=_line_mode(xs), name=name, legendgroup=label,
                                     line=dict(color=_colour(i), dash=dash,
                                               width=2.5 if part == "encoder_loss" else 1.5)))
    return _layout(_add_markers(fig, markers), "Encoder loss and its parts", "loss", revision, **options)


def reconstruction_figure(runs: Mapping[str, Rows], revision: str = "recon", **options) -> go.Figure:
    """The reconstruction loss of several runs (the one term every model has), a line each."""
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        xs, ys = _series(rows, "recon_loss")
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode=_line_mode(xs), name=label, legendgroup=label,
                                     line=dict(color=_colour(i), dash="solid", width=2)))
    return _layout(fig, "Reconstruction loss (the term every model has)", "loss", revision, **options)


def discriminator_verdict_figure(runs: Mapping[str, Rows], revision: str = "d-verdict",
                                 markers: Markers = (), **options) -> go.Figure:
    """Mean D(prior sample) and mean D(z): 0.5 / 0.5 is the game's equilibrium."""
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        prefix = "" if len(runs) == 1 else f"{label} "
        for key, name, colour in (("d_real", "D(prior sample): real", REAL_COLOUR),
                                  ("d_fake", "D(z): fake", FAKE_COLOUR)):
            xs, ys = _series(rows, key)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode=_line_mode(xs), name=prefix + name, legendgroup=label,
                                     line=dict(color=colour if len(runs) == 1 else _colour(i),
                                               dash="solid" if key == "d_real" else "dash")))
    fig.add_hline(y=0.5, line=dict(color="#999", dash="dot"), annotation_text="equilibrium 0.5",
                  annotation_position="bottom left")
    fig.update_yaxes(range=[0, 1])
    return _layout(_add_markers(fig, markers, runs), "Discriminator's verdict", "probability of 'real'", revision,
                   **options)


def validation_figure(runs: Mapping[str, Rows], revision: str = "val",
                      references: Mapping[str, float] | None = None, markers: Markers = (),
                      **options) -> go.Figure:
    """Validation AUC / AP per run; `references` (label -> AUC) are drawn as dotted lines in
    the run's colour (the paper's test AUC, for instance)."""
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        prefix = "" if len(runs) == 1 else f"{label} "
        for key, dash in (("val_auc", "solid"), ("val_ap", "dash")):
            xs, ys = _series(rows, key)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=prefix + key[4:].upper(),
                                     legendgroup=label, marker=dict(size=4),
                                     line=dict(color=_colour(i), dash=dash)))
        if references and label in references:
            fig.add_hline(y=references[label], line=dict(color=_colour(i), dash="dot", width=1.5),
                          annotation_text=f"paper {label} AUC {references[label]:.3f}",
                          annotation_position="bottom right", annotation_font_size=11)
    return _layout(_add_markers(fig, markers), "Validation link prediction", "score", revision, **options)


METRICS_TABLE = (("test_auc", "AUC"), ("test_ap", "AP"), ("test_edges", "test edges"), ("acc", "ACC"),
                 ("nmi", "NMI"), ("ari", "ARI"), ("z_std", "spread (prior: 1)"),
                 ("c2st", "C2ST (0.5: like prior)"), ("mmd", "MMD to prior"))
# The columns of that table shown with three decimals
METRICS_TABLE_SCORES = ("AUC", "AP", "ACC", "NMI", "ARI", "MMD to prior")


def metrics_table_rows(metrics: Mapping[str, Mapping]) -> list[dict]:
    """label -> final metrics  =>  rows for a table (one per run)."""
    return [{"run": label, **{name: m.get(key) for key, name in METRICS_TABLE}} for label, m in metrics.items()]


# ------------------------------------------------------------------ latent space
def node_hover(node_ids: Sequence, label_names: Sequence[str] | None, degrees: Sequence[int] | None,
               d_score: Sequence[float] | None) -> list[str]:
    """One hover text per node: id, label, degree and D(z), whichever are known."""
    texts = []
    for i, node in enumerate(node_ids):
        parts = [f"node <b>{node}</b>"]
        if label_names is not None:
            parts.append(f"label {label_names[i]}")
        if degrees is not None:
            parts.append(f"degree {int(degrees[i])}")
        if d_score is not None:
            parts.append(f"D(z) {float(d_score[i]):.3f}")
        texts.append("<br>".join(parts))
    return texts


def latent_figure(z_xy, prior_xy, *, d_score=None, title: str = "Z and prior samples",
                  revision: str = "latent", height: int = 420, colour: str | None = None,
                  labels=None, class_names: Sequence[str] | None = None, degrees=None,
                  z_hover: Sequence[str] | None = None, show_z: bool = True,
                  show_prior: bool = True, node_rows=None, highlight: Sequence[int] = (),
                  webgl: bool = True) -> go.Figure:
    """Z ("fake") over samples of N(0, I) ("real") in one 2-D or 3-D projection (WebGL
    scatter; `z_xy` / `prior_xy` with three columns draw a 3-D picture to turn, with the same
    traces, colours, hover and rings).

    `colour` is one of COLOUR_MODES: "cloud" (the default without `d_score`), "score"
    (the default with it: Z coloured by D(z)), "label" (one trace per class of `labels`,
    named by `class_names`) or "degree" (Z coloured by log degree, from `degrees`). In the
    label and degree modes the prior is grey, so colour means one thing. `z_hover` is one
    text per Z row; either cloud can be left out with `show_z` / `show_prior`. `node_rows`
    (the graph's node row of each Z row) travels with each point as customdata, so a selection
    names nodes; nodes in `highlight` are ringed on top. `webgl=False` draws SVG: a browser
    keeps about 16 WebGL contexts, and a page with more WebGL charts loses the oldest (blank)."""
    colour = colour or ("score" if d_score is not None else "cloud")
    needs = {"label": labels, "score": d_score, "degree": degrees}
    if colour not in COLOUR_MODES:
        raise ValueError(f"unknown colour mode {colour!r}; choose one of {', '.join(COLOUR_MODES)}")
    if colour in needs and needs[colour] is None:
        raise ValueError(f"colour mode {colour!r} needs its values ({'labels' if colour == 'label' else colour})")
    three_d = np.shape(z_xy)[-1] == 3 if show_z else np.shape(prior_xy)[-1] == 3
    points = functools.partial(_points, three_d, webgl)
    fig = go.Figure()
    if show_prior:
        grey = colour in ("label", "degree") and show_z
        fig.add_trace(points(prior_xy, name="prior N(0, I): real", hovertext="prior sample", hoverinfo="text",
                             marker=dict(size=4, color=PRIOR_GREY if grey else REAL_COLOUR, opacity=0.35)))
    if show_z:
        hover = list(z_hover) if z_hover is not None else None
        rows = np.arange(len(z_xy)) if node_rows is None else np.asarray(node_rows)
        if colour == "label":
            _add_class_traces(fig, points, z_xy, np.asarray(labels), class_names, hover, rows)
        else:
            fig.add_trace(points(z_xy, name="Z: fake", hovertext=hover, hoverinfo="text" if hover else None,
                                 customdata=rows, marker=_z_marker(colour, d_score, degrees)))
        ringed = np.flatnonzero(np.isin(rows, list(highlight)))
        if len(ringed):
            # 3-D markers have no outline of their own: an open circle is the ring there
            ring = (dict(size=9, symbol="circle-open", color="#111", line=dict(width=2)) if three_d else
                    dict(size=13, color="rgba(0,0,0,0)", line=dict(color="#111", width=2)))
            fig.add_trace(points(z_xy[ringed], name="followed nodes", customdata=rows[ringed], hoverinfo="skip",
                                 marker=ring))
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), height=height, uirevision=revision,
                      margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
                      hoverlabel=dict(bgcolor="white", font=dict(size=13, color="#222")),
                      # below the picture: above it, class names run into the title and the modebar
                      legend=dict(orientation="h", yanchor="top", y=-0.01, xanchor="left", x=0))
    if three_d:  # equal units on the three axes, as scaleanchor keeps them in 2-D; turned by dragging
        axis = dict(showticklabels=False, zeroline=False, title="", showspikes=False)
        fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="data", dragmode="turntable",
                                     camera=dict(eye=dict(x=1.3, y=1.3, z=0.8))))  # plotly's 1.25 each, lower
    else:
        fig.update_xaxes(showticklabels=False, zeroline=False)
        fig.update_yaxes(showticklabels=False, zeroline=False, scaleanchor="x")
    return fig


def _points(three_d: bool, webgl: bool, xy, **options):
    """One marker trace of the latent picture, flat (WebGL, or SVG) or in 3-D."""
    xy = np.asarray(xy)
    if three_d:
        return go.Scatter3d(x=xy[:, 0], y=xy[:, 1], z=xy[:, 2], mode="markers", **options)
    return (go.Scattergl if webgl else go.Scatter)(x=xy[:, 0], y=xy[:, 1], mode="markers", **options)


def _z_marker(colour: str, d_score, degrees) -> dict:
    marker = dict(size=5, color=FAKE_COLOUR, opacity=0.8)
    if colour == "score":
        marker.update(color=np.asarray(d_score), colorscale="RdBu", cmin=0, cmax=1,
                      colorbar=dict(title="D(z)", thickness=12))
    elif colour == "degree":
        # log scale: degrees are heavy-tailed, a linear scale paints all but the hubs one colour
        degrees = np.asarray(degrees)
        ticks = [d for d in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
                 if d <= max(int(degrees.max()), 1)]
        marker.update(color=np.log10(degrees + 1.0), colorscale="Viridis",
                      cmin=0, cmax=math.log10(max(int(degrees.max()), 1) + 1.0),
                      colorbar=dict(title="degree", thickness=12, tickvals=[math.log10(d + 1.0) for d in ticks],
                                    ticktext=[str(d) for d in ticks]))
    return marker


def _add_class_traces(fig: go.Figure, points, z_xy, labels: np.ndarray, class_names, hover, node_rows) -> None:
    """One trace per class, so the legend names the classes and a click hides one."""
    for i, label in enumerate(np.unique(labels)):
        rows = np.flatnonzero(labels == label)
        name = class_names[label] if class_names and 0 <= label < len(class_names) else str(label)
        fig.add_trace(points(
            z_xy[rows], name=f"Z: {name}", customdata=node_rows[rows],
            hovertext=[hover[r] for r in rows] if hover else None, hoverinfo="text" if hover else None,
            marker=dict(size=5, color=CLASS_PALETTE[i % len(CLASS_PALETTE)], opacity=0.85)))


def dimension_figure(stats: Mapping, dims: Sequence[int], revision: str = "dims",
                     columns: int = 4) -> go.Figure:
    """Small multiples: per chosen dimension of Z, its histogram (bars) against the count
    N(0, 1) predicts for as many values (line). `stats` is projection.dimension_stats(Z)."""
    rows = max(1, math.ceil(len(dims) / columns))
    fig = make_subplots(rows=rows, cols=columns, shared_xaxes=True, horizontal_spacing=0.03,
                        vertical_spacing=0.16 if rows > 1 else 0.0,
                        # two short lines: one line collides with its neighbours in a narrow column
                        subplot_titles=[f"dim {d}<br>KS {stats['ks'][d]:.2f}" for d in dims])
    centers, width = stats["centers"], float(np.diff(stats["edges"]).mean())
    for i, dim in enumerate(dims):
        row, col = i // columns + 1, i % columns + 1
        fig.add_trace(go.Bar(x=centers, y=stats["counts"][dim], width=width, name="Z", legendgroup="z",
                             marker=dict(color=FAKE_COLOUR, opacity=0.7), showlegend=i == 0,
                             hovertemplate="%{x:.2f}: %{y} nodes<extra>Z dim " + str(dim) + "</extra>"),
                      row=row, col=col)
        fig.add_trace(go.Scatter(x=centers, y=stats["prior_counts"], mode="lines", name="N(0, 1)",
                                 legendgroup="prior", line=dict(color=REAL_COLOUR, width=2), showlegend=i == 0,
                                 hovertemplate="%{x:.2f}: %{y:.1f} expected<extra>N(0, 1)</extra>"),
                      row=row, col=col)
    fig.update_annotations(font_size=11)
    fig.update_yaxes(showticklabels=False)
    fig.update_xaxes(tickfont_size=10, tickvals=[-2, 0, 2])  # more labels collide between panels
    # The legend goes under the panels: beside the title it collides with it in a narrow column.
    fig.update_layout(height=110 + 135 * rows, bargap=0, uirevision=revision, template="plotly_white",
                      margin=dict(l=10, r=10, t=70, b=40),
                      title=dict(text="Z per dimension against N(0, 1)", x=0, font=dict(size=15)),
                      legend=dict(orientation="h", yanchor="top", y=-0.08, xanchor="center", x=0.5))
    return fig


def mmd_figure(points: Sequence[tuple[int, float]], current: int | None = None,
               revision: str = "mmd", epochs: int | None = None) -> go.Figure:
    """The prior-match curve: squared MMD of Z to N(0, I) per snapshot epoch (0: the
    prior itself); `current` marks the epoch on screen. The y axis starts at 0. With fewer
    than two points (a run just started) the frame is fixed, x over the run's `epochs`:
    plotly's own range around one point is a sliver (x 29-31, the point off the top)."""
    fig = go.Figure()
    epochs_drawn, values = [e for e, _ in points], [v for _, v in points]
    fig.add_trace(go.Scatter(x=epochs_drawn, y=values, mode="lines+markers", name="MMD² to N(0, I)",
                             line=dict(color=FAKE_COLOUR), marker=dict(size=5), showlegend=False))
    if current in epochs_drawn:
        fig.add_trace(go.Scatter(x=[current], y=[values[epochs_drawn.index(current)]], mode="markers",
                                 name="on screen", showlegend=False,
                                 marker=dict(size=12, color="rgba(0,0,0,0)", line=dict(color="#333", width=2))))
    # above the line: the line is the bottom of the plot, and below it the text hits the ticks
    fig.add_hline(y=0, line=dict(color="#999", dash="dot"), annotation_text="0: indistinguishable",
                  annotation_position="top right")
    fig.update_yaxes(rangemode="tozero")
    if len(points) < 2:
        last = max([epochs or 1, *epochs_drawn])
        fig.update_xaxes(range=[-0.03 * last, 1.03 * last])  # the markers at both ends drawn whole
        fig.update_yaxes(range=[0, 2 * max([*values, 0.05])])
    return _layout(fig, "Prior match over epochs", "MMD² of Z to N(0, I)", revision, height=260)


# ------------------------------------------------------------------ scale-keeping views
UMAP_HIDES_SCALE = ("UMAP keeps who is near whom, not distances or scale: a cloud ten times narrower than the "
                    "prior can look just as mixed with it. The PCA plane and the norms below keep scale.")


def norm_figure(clouds: Mapping[str, np.ndarray], prior: np.ndarray, revision: str = "norms",
                height: int = 300) -> go.Figure:
    """Histograms of ||z|| per cloud (label -> Z) against the norms of prior samples, on
    shared bins: a picture that keeps scale. The prior's norms sit near sqrt(latent size)."""
    prior_norms = np.linalg.norm(np.asarray(prior, dtype=float), axis=1)
    norms = {label: np.linalg.norm(np.asarray(z, dtype=float), axis=1) for label, z in clouds.items()}
    # the prior's whole range, and Z's without its furthest 0.5 % (one outlier would squeeze the rest)
    top = max([float(prior_norms.max()) if len(prior_norms) else 1.0]
              + [float(np.percentile(v[np.isfinite(v)], 99.5)) for v in norms.values() if np.isfinite(v).any()])
    bins = dict(start=0.0, end=max(top, 1e-6) * 1.02, size=max(top, 1e-6) * 1.02 / 40)
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=prior_norms, xbins=bins, name="prior N(0, I): real", histnorm="probability",
                               marker=dict(color=REAL_COLOUR), opacity=0.45))
    for i, (label, values) in enumerate(norms.items()):
        colour = FAKE_COLOUR if len(norms) == 1 else _colour(i)
        fig.add_trace(go.Histogram(x=values, xbins=bins, name=label, histnorm="probability",
                                   marker=dict(color=colour), opacity=0.6))
    fig.update_layout(barmode="overlay", height=height, uirevision=revision, template="plotly_white",
                      title=dict(text="Norms: z vs prior", x=0, font=dict(size=15)),
                      margin=dict(l=10, r=10, t=40, b=10), xaxis_title="||z||", yaxis_title="share of points",
                      legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0))
    return fig


def prior_match_figure(points: Sequence[tuple[int, Mapping]], current: int | None = None,
                       epochs: tuple[int, int] | None = None, revision: str = "prior-match") -> go.Figure:
    """Spread of Z (per-dimension std, prior: 1) and the classifier two-sample test's accuracy
    (prior: 0.5) per snapshot epoch. `epochs` fixes the x range (the run's first and last
    epoch), so a curve with one point so far is not drawn on a range of its own."""
    fig = go.Figure()
    series = (("z_std", "spread of Z (prior: 1)", FAKE_COLOUR), ("c2st", "classifier accuracy (prior: 0.5)", "#6a4c93"))
    for key, name, colour in series:
        xs = [e for e, m in points if m.get(key) is not None]
        ys = [m[key] for e, m in points if m.get(key) is not None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, line=dict(color=colour),
                                 marker=dict(size=5)))
        if current in xs:
            fig.add_trace(go.Scatter(x=[current], y=[ys[xs.index(current)]], mode="markers", showlegend=False,
                                     hoverinfo="skip", marker=dict(size=12, color="rgba(0,0,0,0)",
                                                                   line=dict(color="#333", width=2))))
    fig.add_hline(y=1.0, line=dict(color=FAKE_COLOUR, dash="dot", width=1))
    fig.add_hline(y=0.5, line=dict(color="#6a4c93", dash="dot", width=1))
    values = [m.get(k) for _, m in points for k, _, _ in series if m.get(k) is not None]
    fig.update_yaxes(range=[0, max([1.05] + [v * 1.05 for v in values])])
    if epochs is not None:
        fig.update_xaxes(range=[epochs[0] - 0.5, max(epochs[1], epochs[0] + 1) + 0.5])
    return _layout(fig, "Spread and classifier", "spread / accuracy", revision, height=300)


TRADE_OFF_AXES = {"c2st": "classifier accuracy, Z vs prior (0.5: like the prior)",
                  "z_std": "spread of Z (prior: 1)", "mmd": "MMD² to N(0, I)",
                  "test_auc": "test AUC", "test_ap": "test AP", "nmi": "clustering NMI", "acc": "clustering ACC"}


def trade_off_figure(points: Sequence, x: str = "c2st", y: str = "test_auc",
                     revision: str = "trade-off") -> go.Figure:
    """The sweep's answer: one line per latent size through its regulariser weights, cost
    (`y`, a score) against gain (`x`, prior match), mean ± std over seeds as error bars.
    `points` are sweep.SweepPoint."""
    fig = go.Figure()
    for i, latent in enumerate(sorted({p.latent_size for p in points})):
        row = [p for p in points if p.latent_size == latent and x in p.stats and y in p.stats]
        if not row:
            continue
        fig.add_trace(go.Scatter(
            x=[p.stats[x].mean for p in row], y=[p.stats[y].mean for p in row], mode="lines+markers+text",
            name=f"latent {latent}", line=dict(color=_colour(i)), marker=dict(size=9),
            text=[f"{p.reg_weight:g}" for p in row], textposition="top center",
            error_x=dict(array=[p.stats[x].std or 0 for p in row], thickness=1),
            error_y=dict(array=[p.stats[y].std or 0 for p in row], thickness=1),
            hovertemplate=[f"latent {p.latent_size}, weight {p.reg_weight:g}<br>{x} %{{x:.3f}}<br>{y} %{{y:.3f}}"
                           f"<br>{p.runs} run(s)<extra></extra>" for p in row]))
    if x == "c2st":
        fig.add_vline(x=0.5, line=dict(color="#999", dash="dot"), annotation_text="like the prior",
                      annotation_position="top right")
    if x == "z_std":
        fig.add_vline(x=1.0, line=dict(color="#999", dash="dot"), annotation_text="prior's spread",
                      annotation_position="top right")
    fig.update_layout(title=dict(text="What the regulariser buys and costs (labels: regulariser weight)", x=0,
                                 font=dict(size=15)),
                      height=460, uirevision=revision, template="plotly_white", margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title=TRADE_OFF_AXES.get(x, x), yaxis_title=TRADE_OFF_AXES.get(y, y),
                      legend=dict(orientation="h", yanchor="top", y=-0.15, xanchor="left", x=0))
    return fig


def discriminator_map_figure(dmap, title: str = "The discriminator's view", revision: str = "d-map",
                             height: int = 420, show_z: bool = True, show_prior: bool = True) -> go.Figure:
    """D's probability of "real" over the plane (judge.DiscriminatorMap) as a heatmap with its
    0.5 contour, the prior samples and Z on top: where D says "real", and where Z sits."""
    fig = go.Figure()
    fig.add_trace(go.Heatmap(x=dmap.xs, y=dmap.ys, z=dmap.prob, zmin=0, zmax=1, colorscale="RdBu",
                             colorbar=dict(title="D: real", thickness=12), opacity=0.75, name="D(x)",
                             hovertemplate="D(x) = %{z:.2f}<extra></extra>"))
    fig.add_trace(go.Contour(x=dmap.xs, y=dmap.ys, z=dmap.prob, showscale=False, hoverinfo="skip",
                             contours=dict(start=0.5, end=0.5, size=1, coloring="lines"),
                             colorscale=[[0, "#222"], [1, "#222"]],  # "lines" colours by value otherwise
                             line=dict(width=2, dash="dash"), name="D = 0.5"))
    if show_prior:
        fig.add_trace(go.Scattergl(x=dmap.prior_xy[:, 0], y=dmap.prior_xy[:, 1], mode="markers",
                                   name="prior N(0, I): real", hoverinfo="skip",
                                   marker=dict(size=4, color="#ffffff", line=dict(color=REAL_COLOUR, width=1))))
    if show_z:
        fig.add_trace(go.Scattergl(x=dmap.z_xy[:, 0], y=dmap.z_xy[:, 1], mode="markers", name="Z: fake",
                                   hoverinfo="skip", marker=dict(size=5, color=FAKE_COLOUR,
                                                                 line=dict(color="#222", width=0.5))))
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), height=height, uirevision=revision,
                      margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
                      legend=dict(orientation="h", yanchor="top", y=-0.08, xanchor="left", x=0))
    # equal units on both axes (distances mean the same), the plot narrowed to fit rather than
    # the x range widened into empty space around the map
    fig.update_xaxes(range=[float(dmap.xs[0]), float(dmap.xs[-1])], zeroline=False, showgrid=False,
                     constrain="domain")
    fig.update_yaxes(range=[float(dmap.ys[0]), float(dmap.ys[-1])], zeroline=False, showgrid=False,
                     scaleanchor="x", constrain="domain")
    return fig


@functools.lru_cache(maxsize=32)
def _spring_layout(nodes: tuple[int, ...], edges: tuple[tuple[int, int], ...]) -> dict:
    """A seeded spring layout, computed once per neighbourhood: the Latent page redraws the
    same one on every live refresh and every epoch of Play."""
    import networkx as nx
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return nx.spring_layout(graph, seed=0)


def neighbourhood_figure(nodes: Sequence[int], edges: Sequence[tuple[int, int]], followed: Sequence[int],
                         names: Sequence[str], labels=None, class_names: Sequence[str] | None = None,
                         revision: str = "neighbourhood", height: int = 380) -> go.Figure:
    """The followed nodes' graph neighbourhood (a seeded spring layout), coloured by class
    as the latent picture's label mode is, the followed nodes ringed."""
    position = _spring_layout(tuple(nodes), tuple(edges))
    fig = go.Figure()
    xs, ys = [], []
    for a, b in edges:
        xs += [position[a][0], position[b][0], None]
        ys += [position[a][1], position[b][1], None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#bbb", width=1), hoverinfo="skip",
                             showlegend=False))
    colours = ([CLASS_PALETTE[int(labels[n]) % len(CLASS_PALETTE)] for n in nodes] if labels is not None
               else [FAKE_COLOUR] * len(nodes))
    chosen = set(followed)
    fig.add_trace(go.Scatter(
        x=[position[n][0] for n in nodes], y=[position[n][1] for n in nodes], mode="markers", showlegend=False,
        hovertext=[f"node <b>{names[n]}</b>" + (f"<br>label {class_names[int(labels[n])] if class_names else labels[n]}"
                                               if labels is not None else "") for n in nodes],
        hoverinfo="text",
        marker=dict(size=[14 if n in chosen else 8 for n in nodes], color=colours,
                    line=dict(color=["#111" if n in chosen else "#fff" for n in nodes], width=2))))
    fig.update_layout(title=dict(text="Graph neighbourhood (1-2 hops)", x=0, font=dict(size=15)), height=height,
                      uirevision=revision, template="plotly_white", margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
