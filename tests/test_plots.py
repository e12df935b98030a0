"""Figure builders of argae_core.plots that pages rely on for a steady picture."""
from __future__ import annotations

import pytest

from argae_core import plots


@pytest.mark.parametrize("points", [[], [(30, 0.42)]], ids=["no point", "one point"])
def test_the_prior_match_chart_of_a_starting_run_has_a_steady_frame(points):
    """Plotly's own range around a single point is a sliver (x 29-31, the point off the top):
    the frame spans the run's epochs and starts at 0 instead."""
    layout = plots.mmd_figure(points, current=30, epochs=400).layout
    low, high = layout.xaxis.range
    assert low <= 0 and high >= 400
    assert layout.yaxis.range[0] == 0 and layout.yaxis.range[1] > max([v for _, v in points] or [0])


def test_the_prior_match_chart_ranges_on_its_points_from_zero():
    """Two points on: plotly ranges on them (a stopped 5000-epoch run's 120 epochs fill the
    chart), from 0."""
    layout = plots.mmd_figure([(1, 0.9), (50, 0.2), (90, 0.1)], epochs=5000).layout
    assert layout.yaxis.range is None and layout.yaxis.rangemode == "tozero"
    assert layout.xaxis.range is None
