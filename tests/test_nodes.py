"""Follow a node on a hand-made graph: neighbours in Z, predicted links, neighbourhood."""
import numpy as np

from argae_core import nodes

# Two triangles 0-1-2 and 3-4-5 joined by 2-3; node 6 alone. Test edge 0-4 is held out.
TRAIN = np.array([[0, 1, 0, 3, 4, 3, 2], [1, 2, 2, 4, 5, 5, 3]])
TEST = np.array([[0], [4]])
Z = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.3], [0.1, 0.9], [0.95, 0.05], [0.0, 1.0], [-1.0, -1.0]])
LABELS = np.array([0, 0, 0, 1, 1, 1, 2])


def test_nearest_in_z_counts_graph_neighbours_and_labels():
    near = nodes.nearest_in_z(Z, [0], TRAIN, LABELS, k=3)
    assert near.nodes == [4, 1, 2]                 # 4 is nearest in Z though not adjacent
    assert near.distances == sorted(near.distances)
    assert near.graph_neighbours == 2 and near.same_label == 2   # 1 and 2 are both
    assert nodes.nearest_in_z(Z, [0], TRAIN, None, k=3).same_label is None
    assert nodes.nearest_in_z(Z, list(range(7)), TRAIN, LABELS).nodes == []


def test_predicted_links_skip_training_edges_and_mark_held_out_ones():
    links = nodes.predicted_links(Z, [0], TRAIN, TEST, top=3)
    assert all((l.source, l.target) not in {(0, 1), (0, 2)} for l in links)   # training edges skipped
    assert links[0].target == 4 and links[0].held_out                         # found the hidden edge
    assert links[0].probability == 1 / (1 + np.exp(-(Z[0] @ Z[4])))
    assert [l.held_out for l in links[1:]] == [False, False]
    assert [l.probability for l in links] == sorted((l.probability for l in links), reverse=True)


def test_neighbourhood_goes_hop_by_hop_and_is_capped():
    kept, edges = nodes.neighbourhood(TRAIN, [0], hops=1)
    assert kept == [0, 1, 2] and edges == [(0, 1), (0, 2), (1, 2)]
    kept, _ = nodes.neighbourhood(TRAIN, [0], hops=2)
    assert kept == [0, 1, 2, 3]
    kept, edges = nodes.neighbourhood(TRAIN, [0, 5], hops=2, cap=3)
    assert kept[:2] == [0, 5] and len(kept) == 3 and all(a in kept and b in kept for a, b in edges)
    assert nodes.neighbourhood(TRAIN, [6]) == ([6], [])
