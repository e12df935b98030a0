"""Scores of an embedding Z: clustering against labels, and how close Z is to N(0, I).

Link prediction AUC / AP come from PyG's `GAE.test` (scikit-learn underneath)."""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MMD_SAMPLE = 2000  # points per cloud: MMD is O(n^2); 2000 keeps it under a second
# Points per cloud for the classifier test. At 500, latent sizes 2-64, under load: a
# 0.22-scaled cloud told from the prior at 0.90-1.00, the prior from itself at 0.48-0.53.
# L-BFGS gave Adam's verdicts (within 0.1) in 50-700 ms against 0.7-3.8 s.
C2ST_SAMPLE = 500
# KMeans costs nodes x clusters x restarts per iteration. Measured on one core (64-d Z): 20,000
# nodes, 100 clusters, 10 restarts 20 s; one restart 1.7 s; 10,000 classes would take many
# minutes. Beyond these bounds the score is capped, with one restart, and says so.
CLUSTER_MAX_CLASSES = 100
CLUSTER_MAX_NODES = 20_000  # PubMed (19,717 nodes) is still scored on every node
CLUSTER_RESTARTS = 10


def cluster_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Accuracy under the best one-to-one matching of clusters to classes (Hungarian)."""
    classes, cluster_ids = np.unique(labels), np.unique(clusters)
    counts = np.zeros((len(cluster_ids), len(classes)), dtype=np.int64)
    np.add.at(counts, (np.searchsorted(cluster_ids, clusters), np.searchsorted(classes, labels)), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(labels))


def clustering(z: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """KMeans with k = number of classes on Z, scored by ACC, NMI and ARI.

    The cost is bounded: past CLUSTER_MAX_CLASSES classes k is capped, past CLUSTER_MAX_NODES
    nodes a seeded sample is scored, and either way KMeans starts once; then the key
    `clustering_capped` says what was done (absent: the full score)."""
    k = len(np.unique(labels))
    capped = _clustering_cap(len(labels), k)
    if len(labels) > CLUSTER_MAX_NODES:
        sample = np.random.default_rng(seed).choice(len(labels), CLUSTER_MAX_NODES, replace=False)
        z, labels = z[sample], labels[sample]
    with warnings.catch_warnings():
        # Fewer distinct points than k (a collapsed Z): KMeans still answers, and
        # `degenerate` is how the caller says it in words.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clusters = KMeans(n_clusters=min(k, CLUSTER_MAX_CLASSES), random_state=seed,
                          n_init=1 if capped else CLUSTER_RESTARTS).fit_predict(z)
    scores = {"acc": cluster_accuracy(labels, clusters),
              "nmi": float(normalized_mutual_info_score(labels, clusters)),
              "ari": float(adjusted_rand_score(labels, clusters))}
    return {**scores, "clustering_capped": capped} if capped else scores


def _clustering_cap(nodes: int, classes: int) -> str | None:
    """The sentence saying how the clustering score was bounded, or None when it was not."""
    done = []
    if classes > CLUSTER_MAX_CLASSES:
        done.append(f"{CLUSTER_MAX_CLASSES} clusters for {classes:,} classes")
    if nodes > CLUSTER_MAX_NODES:
        done.append(f"a sample of {CLUSTER_MAX_NODES:,} of {nodes:,} nodes")
    if not done:
        return None
    return (f"Clustering scored with {' and '.join(done)}, one KMeans start, to bound its time; "
            "compare them only with scores capped alike.")


DEGENERATE_NOTES = {
    "collapsed": "Z collapsed: every node got the same embedding, so every edge scores alike (AUC 0.5) "
                 "and clustering finds one cluster.",
    "saturated": "Z saturated: the embeddings grew so large that the decoder gives every node pair "
                 "probability 1.0, so no edge ranks above another (AUC 0.5).",
}
DEGENERATE_HINT = "A learning rate too high for this graph is the usual cause: lower it and start again."


def degenerate(z: np.ndarray, edge_scores: np.ndarray, tolerance: float = 1e-6) -> str | None:
    """Why link prediction cannot rank anything, or None when it can.

    "collapsed": every node has (almost) the same embedding. "saturated": the embeddings
    differ but are so large that the decoder's sigmoid gives every scored pair the same
    probability (1.0). Either way AUC is 0.5 and the run says nothing about the graph."""
    scores = np.asarray(edge_scores, dtype=np.float64)
    if len(scores) < 2 or np.ptp(scores) > tolerance:
        return None
    z = np.asarray(z, dtype=np.float64)
    flat = len(z) > 1 and np.ptp(z, axis=0).max() <= tolerance * (1.0 + np.abs(z).max())
    return "collapsed" if flat else "saturated"


def mmd_bandwidth(dim: int) -> float:
    """The MMD kernel's base bandwidth in `dim` dimensions: sqrt(2 d), the typical distance
    between two prior samples. The kernel sums RBFs at 0.5, 1 and 2 times it."""
    return math.sqrt(2 * dim)


def mmd_to_prior(z: np.ndarray, seed: int = 0, sample: int = MMD_SAMPLE) -> float:
    """Squared MMD between Z and as many N(0, I) samples (unbiased estimate).

    Kernel: a sum of RBF kernels at bandwidths 0.5, 1 and 2 times `mmd_bandwidth(d)`, so
    the number is comparable across latent sizes and models. 0 means indistinguishable
    from the prior."""
    rng = np.random.default_rng(seed)
    z = np.asarray(z, dtype=np.float64)
    if len(z) > sample:
        z = z[rng.choice(len(z), sample, replace=False)]
    n, d = z.shape
    prior = rng.standard_normal((n, d))
    scales = np.array([0.5, 1.0, 2.0]) * mmd_bandwidth(d)

    def kernel(a, b):
        sq = euclidean_distances(a, b, squared=True)
        return sum(np.exp(-sq / (2 * s * s)) for s in scales) / len(scales)

    def mean_off_diagonal(k):
        return (k.sum() - np.trace(k)) / (n * (n - 1))

    return float(mean_off_diagonal(kernel(z, z)) + mean_off_diagonal(kernel(prior, prior))
                 - 2 * kernel(z, prior).mean())


def classifier_two_sample_test(z: np.ndarray, seed: int = 0, sample: int = C2ST_SAMPLE) -> float:
    """Held-out accuracy of a fresh small classifier at telling Z from N(0, I) samples
    (Lopez-Paz & Oquab, 2017): 0.5 means it cannot tell them apart, 1.0 that it always can.

    Up to `sample` rows of Z against as many prior samples, a two-layer MLP (32, 32) fitted
    by L-BFGS, 3-fold cross-validated. Unlike D, it is trained from scratch on this Z only, so it
    judges the cloud, not the game. A non-linear classifier on purpose: a linear one cannot
    see a difference of scale (a narrow and a wide cloud centred alike)."""
    rng = np.random.default_rng(seed)
    z = np.asarray(z, dtype=np.float64)
    if len(z) > sample:
        z = z[rng.choice(len(z), sample, replace=False)]
    folds = min(3, len(z))
    if folds < 2:
        return float("nan")
    points = np.vstack([z, rng.standard_normal(z.shape)])
    is_prior = np.repeat([0, 1], len(z))
    classifier = make_pipeline(StandardScaler(), MLPClassifier((32, 32), solver="lbfgs", max_iter=100,
                                                                   random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 100 iterations: enough to tell, bounded
        scores = cross_val_score(classifier, points, is_prior,
                                 cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return float(scores.mean())


def unit_spread(z: np.ndarray) -> np.ndarray:
    """Z with every dimension centred and scaled to unit std: what is left is its shape
    (correlations, clumps, tails), not its location or scale. Constant dimensions stay 0."""
    z = np.asarray(z, dtype=np.float64)
    std = z.std(axis=0)
    return (z - z.mean(axis=0)) / np.where(std > 0, std, 1.0)


def prior_norm_mean(dim: int) -> float:
    """E||x|| for x ~ N(0, I_dim): the mean of a chi distribution with `dim` degrees of freedom."""
    return float(stats.chi(dim).mean())


def prior_match(z: np.ndarray, seed: int = 0, classifier: bool = True, shape: bool = True,
                mmd_sample: int = MMD_SAMPLE) -> dict:
    """How far Z is from N(0, I), in numbers a student can read, and scale told from shape.

    - `z_std`: per-dimension std of Z, averaged over dimensions (the prior: 1);
    - `norm_ratio`: mean ||z|| over the prior's mean norm (1: as far from the origin);
    - `mmd`: squared MMD to the prior (kernel bandwidth `mmd_bandwidth`, stated);
    - `c2st`: a fresh classifier's held-out accuracy at telling Z from prior samples (0.5:
      indistinguishable); skipped when `classifier` is False (it takes about half a second);
    - `mmd_shape`, `c2st_shape`: the same after `unit_spread(Z)`: a cloud that only has the
      wrong scale scores near 0 / 0.5 here, one with the wrong shape does not (skipped when
      `shape` is False);
    - `dim_mean`, `dim_std`: per dimension."""
    z = np.asarray(z, dtype=np.float64)
    dim = z.shape[1]
    out = {"z_std": float(z.std(axis=0).mean()),
           "norm_ratio": float(np.linalg.norm(z, axis=1).mean() / prior_norm_mean(dim)),
           "mmd": mmd_to_prior(z, seed=seed, sample=mmd_sample), "mmd_bandwidth": mmd_bandwidth(dim),
           "dim_mean": z.mean(axis=0).tolist(), "dim_std": z.std(axis=0).tolist()}
    if classifier:
        out.update(c2st=classifier_two_sample_test(z, seed=seed), c2st_points=min(len(z), C2ST_SAMPLE))
    if shape:
        rescaled = unit_spread(z)
        out["mmd_shape"] = mmd_to_prior(rescaled, seed=seed, sample=mmd_sample)
        if classifier:
            out["c2st_shape"] = classifier_two_sample_test(rescaled, seed=seed)
    return out


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Standard error of a ROC AUC measured on `positives` held-out edges and `negatives`
    non-edges (Hanley & McNeil, 1982). On KarateClub's ~7 test edges it is about 0.1-0.2:
    a gap of many points between two models there says nothing."""
    if positives < 1 or negatives < 1:
        return float("inf")
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
                + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))
