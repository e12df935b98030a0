"""Metrics on inputs whose answers are known."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from argae_core import metrics, training
from argae_core.metrics import cluster_accuracy, clustering, degenerate, mmd_to_prior, prior_match


def test_cluster_accuracy_is_invariant_to_renaming_clusters():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    renamed = np.array([5, 5, 9, 9, 7, 7, 7])
    assert cluster_accuracy(labels, renamed) == 1.0


def test_cluster_accuracy_counts_the_best_matching():
    labels = np.array([0, 0, 0, 1, 1, 1])
    clusters = np.array([1, 1, 0, 0, 0, 0])  # best: 1->0 (2 right), 0->1 (3 right)
    assert cluster_accuracy(labels, clusters) == pytest.approx(5 / 6)


def test_cluster_accuracy_with_more_clusters_than_classes():
    labels = np.array([0, 0, 1, 1])
    clusters = np.array([0, 1, 2, 2])  # one of the two 0s can be matched
    assert cluster_accuracy(labels, clusters) == pytest.approx(3 / 4)


def test_clustering_finds_well_separated_blobs():
    z, labels = make_blobs(n_samples=300, centers=4, n_features=8, cluster_std=0.5, random_state=0)
    scores = clustering(z, labels, seed=0)
    assert scores == {"acc": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}


def test_clustering_of_noise_scores_near_chance():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    scores = clustering(rng.standard_normal((400, 8)), labels, seed=0)
    assert scores["nmi"] < 0.05 and abs(scores["ari"]) < 0.05 and scores["acc"] < 0.4


def test_mmd_is_near_zero_for_prior_samples_and_grows_with_the_gap():
    rng = np.random.default_rng(1)
    prior_like = rng.standard_normal((1000, 16))
    same = mmd_to_prior(prior_like, seed=0)
    shifted = mmd_to_prior(prior_like + 1.0, seed=0)
    far = mmd_to_prior(prior_like + 3.0, seed=0)
    squeezed = mmd_to_prior(0.2 * prior_like, seed=0)
    assert abs(same) < 0.005
    assert shifted > 0.05 and shifted > 10 * abs(same)
    assert far > shifted
    assert squeezed > 0.05


def test_mmd_subsamples_large_clouds():
    rng = np.random.default_rng(2)
    value = mmd_to_prior(rng.standard_normal((5000, 4)) + 2.0, seed=0, sample=500)
    assert value > 0.1


def test_prior_match_reports_per_dimension_moments():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((2000, 3)) * np.array([1.0, 2.0, 0.5]) + np.array([0.0, 1.0, -1.0])
    match = prior_match(z, seed=0)
    assert np.allclose(match["dim_mean"], [0.0, 1.0, -1.0], atol=0.1)
    assert np.allclose(match["dim_std"], [1.0, 2.0, 0.5], atol=0.1)
    assert match["mmd"] > 0.05


def test_degenerate_tells_collapsed_from_saturated_from_fine():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 8))
    assert degenerate(z, rng.uniform(size=40)) is None
    assert degenerate(np.tile(z[:1], (50, 1)), np.full(40, 0.73)) == "collapsed"
    assert degenerate(300 * z, np.ones(40)) == "saturated"
    assert degenerate(z, np.array([0.5])) is None  # one score ranks nothing either way: not a verdict


def test_clustering_a_collapsed_z_answers_without_a_warning():
    labels = np.repeat([0, 1, 2], 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = clustering(np.ones((30, 4)), labels)
    assert scores["nmi"] == pytest.approx(0.0) and scores["acc"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------ prior match, readable
@pytest.fixture(scope="module")
def prior_like():
    return np.random.default_rng(7).standard_normal((1500, 8))


def test_prior_match_of_prior_samples_is_indistinguishable(prior_like):
    match = prior_match(prior_like, seed=0)
    assert match["z_std"] == pytest.approx(1.0, abs=0.05)
    assert match["norm_ratio"] == pytest.approx(1.0, abs=0.05)
    assert 0.4 < match["c2st"] < 0.6 and 0.4 < match["c2st_shape"] < 0.6
    assert abs(match["mmd"]) < 0.005 and match["mmd_bandwidth"] == pytest.approx(4.0)


def test_a_scaled_cloud_differs_in_scale_but_not_in_shape(prior_like):
    match = prior_match(0.22 * prior_like, seed=0)
    assert match["z_std"] == pytest.approx(0.22, abs=0.02)
    assert match["norm_ratio"] == pytest.approx(0.22, abs=0.02)
    assert match["c2st"] > 0.9 and match["mmd"] > 0.05            # told apart...
    assert match["c2st_shape"] < 0.6 and abs(match["mmd_shape"]) < 0.005  # ...by scale alone


def test_a_shifted_cloud_is_told_apart_and_rescaling_removes_the_shift(prior_like):
    match = prior_match(prior_like + 1.0, seed=0)
    assert match["z_std"] == pytest.approx(1.0, abs=0.05) and match["norm_ratio"] > 1.2
    assert match["c2st"] > 0.75
    assert match["c2st_shape"] < 0.6


def test_a_cloud_of_another_shape_stays_apart_after_rescaling(prior_like):
    # Two tight clumps at +-1 per dimension: unit spread, but nothing like a Gaussian.
    rng = np.random.default_rng(1)
    clumps = np.sign(prior_like) + 0.1 * rng.standard_normal(prior_like.shape)
    match = prior_match(clumps, seed=0)
    assert match["z_std"] == pytest.approx(1.0, abs=0.05)
    assert match["c2st_shape"] > 0.8
    # MMD's wide kernel (bandwidth ~ the prior's own spread) barely sees small clumps: the
    # classifier is the measure of shape.
    assert match["mmd_shape"] > prior_match(prior_like, seed=0, classifier=False)["mmd_shape"]


def test_the_classifier_can_be_left_out_for_speed(prior_like):
    match = prior_match(prior_like, seed=0, classifier=False)
    assert "c2st" not in match and "z_std" in match


def test_auc_standard_error_shrinks_with_the_number_of_test_edges():
    from argae_core.metrics import auc_standard_error
    tiny, cora = auc_standard_error(0.9, 7, 7), auc_standard_error(0.9, 527, 527)
    assert tiny > 0.08 and cora < 0.015 and tiny > 8 * cora
    assert auc_standard_error(0.9, 0, 10) == float("inf")


def test_clustering_with_many_classes_is_capped_finishes_fast_and_says_so():
    import time
    rng = np.random.default_rng(0)
    labels = np.arange(10_000)  # every node a class of its own: k = 10,000 took many minutes
    started = time.perf_counter()
    scores = clustering(rng.standard_normal((10_000, 16)), labels, seed=0)
    assert time.perf_counter() - started < 30
    assert "10,000 classes" in scores["clustering_capped"]
    assert {"acc", "nmi", "ari"} <= set(scores)


def test_clustering_of_many_nodes_scores_a_sample_and_says_so(monkeypatch):
    from argae_core import metrics, training
    monkeypatch.setattr(metrics, "CLUSTER_MAX_NODES", 300)
    z, labels = np.repeat(np.eye(3) * 10, 200, axis=0), np.repeat(np.arange(3), 200)
    scores = clustering(z, labels, seed=0)
    assert scores["acc"] == 1.0 and "300 of 600 nodes" in scores["clustering_capped"]


def test_an_ordinary_clustering_is_not_capped():
    z, labels = np.repeat(np.eye(3) * 10, 20, axis=0), np.repeat(np.arange(3), 20)
    assert "clustering_capped" not in clustering(z, labels)


@pytest.mark.parametrize("levels", [3, 50, 10**6])  # heavy ties, some ties, almost none
def test_validation_auc_ap_gives_sklearns_floats(levels):
    from sklearn.metrics import average_precision_score, roc_auc_score
    rng = np.random.default_rng(levels)
    for _ in range(40):
        p, n = rng.integers(1, 400, 2)
        positive = (rng.integers(0, levels, p) / levels + 0.2 * rng.random()).astype(np.float32)
        negative = (rng.integers(0, levels, n) / levels).astype(np.float32)
        labels, scores = np.r_[np.ones(p), np.zeros(n)], np.r_[positive, negative]
        assert training.link_auc_ap(positive, negative) == (roc_auc_score(labels, scores),
                                                           average_precision_score(labels, scores))


def test_validation_auc_ap_refuses_one_class():
    with pytest.raises(ValueError, match="both"):
        training.link_auc_ap(np.array([0.3, 0.9], dtype=np.float32), np.array([], dtype=np.float32))
