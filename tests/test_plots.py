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


# ------------------------------------------------------------------ 3-D latent pictures
def _frames():
    import numpy as np

    from argae_core import projection
    rng = np.random.default_rng(0)
    z = rng.standard_normal((40, 6)).astype("float32")
    prior = projection.prior_samples(40, 6, seed=1)
    flat = projection.project(z, prior, "pca")
    deep = projection.project(z, prior, "pca", components=3)
    extras = dict(d_score=rng.random(40), labels=np.arange(40) % 3, class_names=["a", "b", "c"],
                  degrees=rng.integers(1, 30, 40), node_rows=np.arange(100, 140),
                  z_hover=[f"node <b>{i}</b>" for i in range(100, 140)])
    return flat, deep, extras


@pytest.mark.parametrize("colour", list(plots.COLOUR_MODES))
def test_a_3d_picture_has_the_2d_picture_s_traces_colours_and_hover(colour):
    """The same frame in 2-D and 3-D: the same traces in the same order, each with the same
    name, colours, colour bar, hover text and node ids; only the point type and the third
    coordinate differ."""
    import numpy as np
    flat, deep, extras = _frames()
    two = plots.latent_figure(flat.z_xy, flat.prior_xy, colour=colour, highlight=[103, 120], **extras)
    three = plots.latent_figure(deep.z_xy, deep.prior_xy, colour=colour, highlight=[103, 120], **extras)
    assert {t.type for t in two.data} == {"scattergl"} and {t.type for t in three.data} == {"scatter3d"}
    assert [t.name for t in two.data] == [t.name for t in three.data]
    for a, b in zip(two.data, three.data):
        if a.name == "followed nodes":
            continue
        assert np.array_equal(np.asarray(a.marker.color), np.asarray(b.marker.color))
        assert (a.marker.colorbar.title.text if a.marker.colorbar else None) == \
            (b.marker.colorbar.title.text if b.marker.colorbar else None)
        assert a.hovertext == b.hovertext and a.hoverinfo == b.hoverinfo
        assert np.array_equal(np.asarray(a.customdata if a.customdata is not None else []),
                              np.asarray(b.customdata if b.customdata is not None else []))
        assert np.allclose(np.asarray(b.x, dtype=float), np.asarray(a.x, dtype=float), atol=1e-4)
        assert b.z is not None and len(b.z) == len(b.x)


def test_followed_nodes_are_ringed_in_3d():
    import numpy as np
    _, deep, extras = _frames()
    fig = plots.latent_figure(deep.z_xy, deep.prior_xy, highlight=[103, 120], **extras)
    ring = next(t for t in fig.data if t.name == "followed nodes")
    assert list(ring.customdata) == [103, 120] and ring.marker.symbol == "circle-open"
    assert ring.marker.size > max(t.marker.size for t in fig.data if t.name != "followed nodes")
    assert np.allclose([ring.x[0], ring.y[0], ring.z[0]], deep.z_xy[3])
    assert fig.layout.scene.aspectmode == "data"   # equal units on every axis, as in 2-D
    assert not fig.layout.scene.xaxis.showticklabels


def test_a_curve_of_one_epoch_is_drawn_as_a_point_not_an_empty_line():
    one = [{"epoch": 1, "discriminator_loss": 1.38, "d_real": 0.5, "d_fake": 0.49, "encoder_loss": 6.7,
            "recon_loss": 6.5}]
    three = [dict(one[0], epoch=e) for e in (1, 2, 3)]
    for figure in (plots.discriminator_loss_figure, plots.discriminator_verdict_figure,
                   plots.encoder_loss_figure, plots.reconstruction_figure):
        assert all("markers" in t.mode for t in figure({"run": one}).data if t.type == "scatter" and t.x), figure
        assert all(t.mode == "lines" for t in figure({"run": three}).data if t.type == "scatter" and t.x), figure
