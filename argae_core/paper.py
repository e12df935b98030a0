"""The ARGA paper's numbers (Pan et al., "Adversarially Regularized Graph Autoencoder for
Graph Embedding", IJCAI 2018), for reference marks beside the project's own."""
from __future__ import annotations

# Test AUC, AP x100 (Table 2)
LINK = {
    "cora": {"gae": (91.0, 92.0), "vgae": (91.4, 92.6), "arga": (92.4, 93.2), "argva": (92.4, 92.6)},
    "citeseer": {"gae": (89.5, 89.9), "vgae": (90.8, 92.0), "arga": (91.9, 93.0), "argva": (92.4, 93.0)},
    "pubmed": {"gae": (96.4, 96.5), "vgae": (94.4, 94.7), "arga": (96.8, 97.1), "argva": (96.5, 96.8)},
}
CLUSTERING = {"cora": {"arga": (0.640, 0.449, 0.352), "argva": (0.638, 0.450, 0.374)}}  # ACC NMI ARI
PROTOCOL = "Pan et al., IJCAI 2018, Table 2: 85 / 5 / 10 % train / validation / test edges, as here"


def link_scores(dataset: str, model: str) -> tuple[float, float] | None:
    """(test AUC, test AP) in [0, 1] the paper reports for `model` on `dataset`, or None."""
    scores = LINK.get(dataset, {}).get(model)
    return None if scores is None else (scores[0] / 100, scores[1] / 100)
