"""The Latent page's side panel: prior-match curves over the snapshots, and Z's dimensions
against N(0, 1)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from argae_core import metrics, plots, projection
from pages.latent_data import Source, dimension_figure, dimension_stats, root, snapshot

CURVE_BUDGET_SECONDS = 1.0       # of prior-match curve computing per refresh (a Cora point: 0.3-1 s)
DIMENSION_CHOICES = ("first", "furthest", "pick")
DIMENSION_LABELS = {"first": "First 8", "furthest": "Furthest 8", "pick": "Pick"}


@st.cache_resource(show_spinner=False, max_entries=32)
def prior_match_curve(runs_root: str, run_id: str, seed: int) -> projection.PriorMatchCurve:
    """The run's prior-match measures per snapshot, filled in as pages ask; shared by sessions."""
    return projection.PriorMatchCurve(lambda epoch: snapshot(runs_root, run_id, epoch)[0], seed)


def side_panel(source: Source, epoch: int, view: dict) -> bool:
    """The prior-match curves over the snapshots so far, and Z's dimensions against N(0, 1).
    Returns whether the curves are still being computed."""
    curve = prior_match_curve(root(), source.run_id, view["seed"])
    left = curve.fill(source.epochs, first=epoch, budget_seconds=CURVE_BUDGET_SECONDS)
    points = curve.points(source.epochs)
    span = (source.epochs[0], source.config.epochs)
    st.plotly_chart(plots.prior_match_figure(points, current=epoch, epochs=span, revision=f"pm-{source.run_id}"),
                    key="latent_prior_match", config={"displaylogo": False})
    st.plotly_chart(plots.mmd_figure([(e, m["mmd"]) for e, m in points], current=epoch,
                                     revision=f"mmd-{source.run_id}", epochs=source.config.epochs),
                    key="latent_mmd", config={"displaylogo": False})
    st.caption(f"Computing the curves: {left} of {len(source.epochs)} epochs to go." if left else
               "Spread: per-dimension std of Z, averaged (the prior's is 1). Classifier: held-out accuracy of a "
               "fresh small network telling Z from prior samples (0.5: it cannot). MMD²: kernel two-sample "
               f"distance, RBF bandwidths 0.5, 1 and 2 x {metrics.mmd_bandwidth(source.config.latent_size):.1f} "
               "(0: indistinguishable).")
    try:
        stats = dimension_stats(root(), source.run_id, epoch)
    except ValueError as exc:
        st.error(str(exc))
        return bool(left)
    size = len(stats["ks"])
    choice = st.segmented_control("Dimensions", DIMENSION_CHOICES, format_func=DIMENSION_LABELS.get,
                                  default="first", key="latent_dims_choice",
                                  help="First 8: dimensions 0-7. Furthest 8: the 8 dimensions whose values are "
                                       "furthest from N(0, 1) by the Kolmogorov-Smirnov distance. Pick: choose.")
    if choice == "pick":
        dims = st.multiselect("Dimensions to show", list(range(size)), default=list(range(min(8, size))),
                              max_selections=16, key="latent_dims_pick")
    elif choice == "furthest":
        dims = sorted(np.argsort(-stats["ks"])[:8].tolist())
    else:
        dims = list(range(min(8, size)))
    if dims:
        st.plotly_chart(dimension_figure(root(), source.run_id, epoch, tuple(int(d) for d in dims)),
                        key="latent_dims_figure", config={"displaylogo": False})
    st.caption("Bars: Z's values in one dimension; line: what N(0, 1) predicts for as many values. "
               "KS: Kolmogorov-Smirnov distance to N(0, 1) (0 is a perfect match).")
    return bool(left)
