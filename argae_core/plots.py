"""Plotly figure builders shared by every page.

Training charts take `runs`: a mapping label -> list of per-epoch rows (EpochRecord.row()),
so one function draws a single live run or several runs overlaid for comparison. Every
figure carries a `uirevision` so zoom and hover survive live refreshes.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import plotly.graph_objects as go

Rows = Sequence[dict]
PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]
PART_DASH = {"encoder_loss": "solid", "recon_loss": "dot", "reg_loss": "dash", "kl_loss": "dashdot"}
PART_NAME = {"encoder_loss": "total", "recon_loss": "reconstruction", "reg_loss": "regulariser",
             "kl_loss": "KL"}
REAL_COLOUR, FAKE_COLOUR = "#2a9d8f", "#e76f51"


def _layout(fig: go.Figure, title: str, ytitle: str, revision: str, height: int = 300) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), height=height,
                      margin=dict(l=10, r=10, t=40, b=10), uirevision=revision,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
                      xaxis_title="epoch", yaxis_title=ytitle, hovermode="x unified",
                      template="plotly_white")
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


def has_series(runs: Mapping[str, Rows], key: str) -> bool:
    return any(_series(rows, key)[0] for rows in runs.values())


def discriminator_loss_figure(runs: Mapping[str, Rows], revision: str = "d-loss") -> go.Figure:
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        xs, ys = _series(rows, "discriminator_loss")
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label, line=dict(color=_colour(i))))
    # A judge that cannot tell real from fake sits at 2 ln 2 (0.5 / 0.5 on both halves).
    fig.add_hline(y=2 * math.log(2), line=dict(color="#999", dash="dot"),
                  annotation_text="2 ln 2: D is guessing", annotation_position="top left")
    return _layout(fig, "Discriminator loss", "loss", revision)


def encoder_loss_figure(runs: Mapping[str, Rows], revision: str = "e-loss") -> go.Figure:
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        for part, dash in PART_DASH.items():
            xs, ys = _series(rows, part)
            if not xs:
                continue
            name = PART_NAME[part] if len(runs) == 1 else f"{label} {PART_NAME[part]}"
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, legendgroup=label,
                                     line=dict(color=_colour(i), dash=dash,
                                               width=2.5 if part == "encoder_loss" else 1.5)))
    return _layout(fig, "Encoder loss and its parts", "loss", revision)


def discriminator_verdict_figure(runs: Mapping[str, Rows], revision: str = "d-verdict") -> go.Figure:
    """Mean D(prior sample) and mean D(z): 0.5 / 0.5 is the game's equilibrium."""
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        prefix = "" if len(runs) == 1 else f"{label} "
        for key, name, colour in (("d_real", "D(prior sample): real", REAL_COLOUR),
                                  ("d_fake", "D(z): fake", FAKE_COLOUR)):
            xs, ys = _series(rows, key)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=prefix + name, legendgroup=label,
                                     line=dict(color=colour if len(runs) == 1 else _colour(i),
                                               dash="solid" if key == "d_real" else "dash")))
    fig.add_hline(y=0.5, line=dict(color="#999", dash="dot"), annotation_text="equilibrium 0.5",
                  annotation_position="bottom left")
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, "Discriminator's verdict", "probability of 'real'", revision)


def validation_figure(runs: Mapping[str, Rows], revision: str = "val") -> go.Figure:
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        prefix = "" if len(runs) == 1 else f"{label} "
        for key, dash in (("val_auc", "solid"), ("val_ap", "dash")):
            xs, ys = _series(rows, key)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=prefix + key[4:].upper(),
                                     legendgroup=label, marker=dict(size=4),
                                     line=dict(color=_colour(i), dash=dash)))
    return _layout(fig, "Validation link prediction", "score", revision)


def metrics_table_rows(metrics: Mapping[str, Mapping]) -> list[dict]:
    """label -> final metrics  =>  rows for a table (one per run)."""
    keys = [("test_auc", "AUC"), ("test_ap", "AP"), ("acc", "ACC"), ("nmi", "NMI"), ("ari", "ARI"),
            ("mmd", "MMD to prior")]
    return [{"run": label, **{name: m.get(key) for key, name in keys}} for label, m in metrics.items()]


def latent_figure(z_xy, prior_xy, *, d_score=None, title: str = "Z and prior samples",
                  revision: str = "latent", height: int = 420) -> go.Figure:
    """Z ("fake") over samples of N(0, I) ("real") in one 2-D projection (WebGL scatter).
    With `d_score`, Z is coloured by the discriminator's D(z)."""
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=prior_xy[:, 0], y=prior_xy[:, 1], mode="markers", name="prior N(0, I): real",
                               marker=dict(size=4, color=REAL_COLOUR, opacity=0.35)))
    marker = dict(size=5, color=FAKE_COLOUR, opacity=0.8)
    if d_score is not None:
        marker.update(color=d_score, colorscale="RdBu", cmin=0, cmax=1,
                      colorbar=dict(title="D(z)", thickness=12))
    fig.add_trace(go.Scattergl(x=z_xy[:, 0], y=z_xy[:, 1], mode="markers", name="Z: fake", marker=marker))
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), height=height, uirevision=revision,
                      margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    fig.update_xaxes(showticklabels=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, zeroline=False, scaleanchor="x")
    return fig
