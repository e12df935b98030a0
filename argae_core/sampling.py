"""Sampled training for big graphs: each update trains on a subgraph of about `batch_nodes`
nodes, so memory is bounded by the sample, not the graph (config `sampling`).

Two samplers give the same `Batch` (config `sampler`; `batch_source` picks, `loader_backend()`
says what is here):

`NeighbourBatches`: PyG's `LinkNeighborLoader`, which needs `pyg-lib` or `torch-sparse`
(PyPI serves neither for this torch; neither is a requirement). Its seed links are the
training edges, each once per epoch in random batches of `config.edges_per_batch(batch_nodes)`;
their endpoints are sampled outwards (`fan_out`: as many neighbours per hop as keep the batch
within `batch_nodes`), the encoder runs on the subgraph the sampled nodes induce among the
training edges, and the negatives are the same in-batch non-edges as below.

`EdgeBatches`, with torch and PyG's `subgraph` only, edge-seeded as in FastGAE (Salha et al.,
2021):

- an epoch is one pass over the training edges (each once, one direction) in random batches
  of `config.edges_per_batch(batch_nodes)` edges;
- a batch's nodes are those edges' endpoints, then sampled neighbours of the endpoints (the
  GCN then sees some of each node's neighbourhood), then random nodes, up to `batch_nodes`;
- the encoder runs on the subgraph those nodes induce among the training edges (gathered
  from a CSR index of the training edges, then PyG's `subgraph`), the decoder scores the
  batch's edges against as many random non-edges drawn inside the batch, and the
  discriminator sees the batch's z against as many prior samples.

Validation and test score held-out edges (a seeded sample of at most `VALIDATION_EDGES` for
the per-epoch validation) with a full-graph Z computed without autograd in chunks of nodes
(`chunked_embedding`): no N x hidden tensor is ever whole.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import subgraph

from .config import chosen_sampler, edges_per_batch, sampler_label

VALIDATION_EDGES = 20_000   # held-out edges (and as many non-edges) scored at each validation
EMBED_CHUNK = 16_384        # rows of Z computed at a time by `chunked_embedding`


def loader_backend() -> str | None:
    """'pyg-lib' or 'torch-sparse' when PyG's neighbour loaders can run here, else None."""
    import torch_geometric.typing as pyg_typing
    if pyg_typing.WITH_PYG_LIB:
        return "pyg-lib"
    if pyg_typing.WITH_TORCH_SPARSE:
        return "torch-sparse"
    return None


@dataclass
class Batch:
    nodes: torch.Tensor       # [n] global ids; local id i is nodes[i]; the batch's endpoints first
    edge_index: torch.Tensor  # [2, m] local ids: the training edges among `nodes` (both directions)
    positives: torch.Tensor   # [2, b] local ids: this batch's training edges (one direction)
    negatives: torch.Tensor   # [2, b] local ids: node pairs of the batch that are no training edge


class EdgeBatches:
    """Edge-seeded induced subgraphs of the training graph, one batch per update."""

    def __init__(self, train_edges: torch.Tensor, positives: torch.Tensor, num_nodes: int,
                 batch_nodes: int, edge_ids: torch.Tensor | None = None):
        """`train_edges`: both directions (message passing); `positives`: each once;
        `edge_ids`: sorted src * N + dst of `train_edges` when the caller has them."""
        self.num_nodes = num_nodes
        self.batch_nodes = min(batch_nodes, num_nodes)
        self.positives = positives
        self.per_batch = edges_per_batch(self.batch_nodes)
        ids = edge_ids if edge_ids is not None else torch.sort(train_edges[0] * num_nodes + train_edges[1]).values
        self.edge_ids = ids
        # CSR of the training graph: the sorted ids are (src, dst) in row order
        self.col = ids % num_nodes
        counts = torch.bincount(ids // num_nodes, minlength=num_nodes)
        self.rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=ids.device)
        torch.cumsum(counts, 0, out=self.rowptr[1:])
        self._mark = torch.zeros(num_nodes, dtype=torch.bool, device=ids.device)
        self._local = torch.empty(num_nodes, dtype=torch.long, device=ids.device)

    def __len__(self) -> int:
        """Batches in an epoch."""
        return math.ceil(self.positives.size(1) / self.per_batch)

    def epoch(self):
        """The batches of one pass over the training edges, in a random order."""
        order = torch.randperm(self.positives.size(1), device=self.positives.device)
        for start in range(0, order.numel(), self.per_batch):
            yield self.batch(order[start:start + self.per_batch])

    def neighbours(self, nodes: torch.Tensor) -> torch.Tensor:
        """Every training-graph neighbour of `nodes` (with repeats), from the CSR rows."""
        starts, counts = self.rowptr[nodes], self.rowptr[nodes + 1] - self.rowptr[nodes]
        total = int(counts.sum())
        if total == 0:
            return nodes.new_empty(0)
        offsets = torch.arange(total, device=nodes.device) - torch.repeat_interleave(
            torch.cumsum(counts, 0) - counts, counts)
        return self.col[torch.repeat_interleave(starts, counts) + offsets]

    def batch(self, edge_ids: torch.Tensor) -> Batch:
        pairs = self.positives[:, edge_ids]
        nodes = torch.unique(pairs.flatten())
        nodes = nodes[torch.randperm(nodes.numel(), device=nodes.device)]
        mark = self._mark
        mark[nodes] = True
        try:
            room = self.batch_nodes - nodes.numel()
            if room > 0:  # sampled neighbours of the endpoints
                around = self.neighbours(nodes)
                around = around[~mark[around]]
                if around.numel():
                    picked = torch.unique(around[torch.randint(around.numel(), (room,), device=around.device)])
                    picked = picked[torch.randperm(picked.numel(), device=picked.device)][:room]
                    mark[picked] = True
                    nodes = torch.cat([nodes, picked])
            room = self.batch_nodes - nodes.numel()
            while room > 0:  # random nodes to fill up
                if 4 * room > self.num_nodes - nodes.numel():  # most of what is left: pick among it
                    drawn = (~mark).nonzero().view(-1)
                else:
                    drawn = torch.unique(torch.randint(self.num_nodes, (2 * room,), device=nodes.device))
                    drawn = drawn[~mark[drawn]]
                drawn = drawn[torch.randperm(drawn.numel(), device=drawn.device)][:room]
                mark[drawn] = True
                nodes = torch.cat([nodes, drawn])
                room = self.batch_nodes - nodes.numel()
        finally:
            mark[nodes] = False
        local = self._local  # global -> local id, read only at this batch's nodes
        local[nodes] = torch.arange(nodes.numel(), device=nodes.device)
        sources = nodes[torch.repeat_interleave(
            torch.arange(nodes.numel(), device=nodes.device), self.rowptr[nodes + 1] - self.rowptr[nodes])]
        incident = torch.stack([sources, self.neighbours(nodes)])
        edge_index, _ = subgraph(nodes, incident, relabel_nodes=True, num_nodes=self.num_nodes)
        return Batch(nodes=nodes, edge_index=edge_index, positives=local[pairs],
                     negatives=self.non_edges(nodes, pairs.size(1)))

    def non_edges(self, nodes: torch.Tensor, count: int) -> torch.Tensor:
        return non_edges(nodes, count, self.edge_ids, self.num_nodes)


def non_edges(nodes: torch.Tensor, count: int, edge_ids: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """`count` random pairs (i, j), i != j, of a batch's local ids (`nodes`: their global ids)
    that are no training edge (`edge_ids`: sorted src * num_nodes + dst of the training edges)."""
    found, have = [], 0
    while have < count:
        draws = math.ceil(1.2 * (count - have)) + 8
        pairs = torch.randint(nodes.numel(), (2, draws), device=nodes.device)
        ids = nodes[pairs[0]] * num_nodes + nodes[pairs[1]]
        nearest = torch.searchsorted(edge_ids, ids).clamp_(max=edge_ids.numel() - 1)
        keep = (edge_ids[nearest] != ids) & (pairs[0] != pairs[1])
        found.append(pairs[:, keep])
        have += int(keep.sum())
    return torch.cat(found, dim=1)[:, :count]


def fan_out(batch_nodes: int, seeds: int, hops: int = 2) -> list[int]:
    """Neighbours sampled per node and hop by `NeighbourBatches`: `hops` hops (the encoder's
    two GCN layers) of k each, the largest k whose batch stays within `batch_nodes` nodes
    (2 * seeds endpoints, then at most k new nodes per node of the hop before), else fewer hops;
    at least one hop of one neighbour. Default sizes (8,192 nodes, 2,048 seed edges): [1]."""
    endpoints = max(1, 2 * seeds)
    for depth in range(hops, 0, -1):
        k = 0
        while endpoints * sum((k + 1) ** h for h in range(depth + 1)) <= batch_nodes:
            k += 1
        if k:
            return [k] * depth
    return [1]


class NeighbourBatches:
    """PyG's `LinkNeighborLoader` over the training edges, one batch per update (needs
    pyg-lib or torch-sparse: `loader_backend()`)."""

    def __init__(self, train_edges: torch.Tensor, positives: torch.Tensor, num_nodes: int,
                 batch_nodes: int, edge_ids: torch.Tensor | None = None,
                 num_neighbors: list[int] | None = None):
        """As `EdgeBatches`; `num_neighbors` per hop, `fan_out` unless given. The loader samples
        on the CPU (torch-sparse's sampler is CPU only); its batches go to the edges' device."""
        from torch_geometric.data import Data
        from torch_geometric.loader import LinkNeighborLoader
        self.device = train_edges.device
        self.num_nodes = num_nodes
        self.batch_nodes = min(batch_nodes, num_nodes)
        self.positives = positives
        self.per_batch = edges_per_batch(self.batch_nodes)
        self.edge_ids = (edge_ids if edge_ids is not None
                         else torch.sort(train_edges[0] * num_nodes + train_edges[1]).values)
        self.num_neighbors = num_neighbors or fan_out(self.batch_nodes, self.per_batch)
        # induced: the encoder sees every training edge among the sampled nodes, both ways
        with warnings.catch_warnings():  # torch-sparse's sampler is "deprecated" in favour of pyg-lib's
            warnings.filterwarnings("ignore", message=".*without a 'pyg-lib' installation is deprecated")
            self.loader = LinkNeighborLoader(Data(edge_index=train_edges.cpu(), num_nodes=num_nodes),
                                             num_neighbors=self.num_neighbors, edge_label_index=positives.cpu(),
                                             batch_size=self.per_batch, shuffle=True, subgraph_type="induced")

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self):
        for data in self.loader:
            nodes, positives = data.n_id.to(self.device), data.edge_label_index.to(self.device)
            yield Batch(nodes=nodes, edge_index=data.edge_index.to(self.device), positives=positives,
                        negatives=non_edges(nodes, positives.size(1), self.edge_ids, self.num_nodes))

    def probe(self) -> None:
        """Sample one seed link: raises where the loader's backend cannot run here."""
        if self.positives.size(1):
            self.loader.collate_fn(torch.zeros(1, dtype=torch.long))


def batch_source(choice: str, train_edges: torch.Tensor, positives: torch.Tensor, num_nodes: int,
                 batch_nodes: int, edge_ids: torch.Tensor | None = None):
    """(batches, the sampler in words): `NeighbourBatches` when config `sampler` = `choice`
    asks for it or allows it and `loader_backend()` has one, else `EdgeBatches` (also when the
    loader, tried on one seed link, fails: the words say why)."""
    backend = loader_backend()
    if chosen_sampler(choice, backend) == "neighbour":
        try:
            batches = NeighbourBatches(train_edges, positives, num_nodes, batch_nodes, edge_ids)
            batches.probe()
            return batches, sampler_label(choice, backend)
        except (ImportError, RuntimeError) as exc:
            reason = f"; PyG's LinkNeighborLoader ({backend}) failed here: {str(exc).splitlines()[0][:120]}"
            words = sampler_label("subgraph", backend).replace(")", reason + ")", 1)
            return EdgeBatches(train_edges, positives, num_nodes, batch_nodes, edge_ids), words
    return (EdgeBatches(train_edges, positives, num_nodes, batch_nodes, edge_ids),
            sampler_label(choice, backend))


def full_adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Â = D^-1/2 (A + I) D^-1/2 of the whole training graph as one CSR matrix (no transpose:
    it is only multiplied forwards, without autograd)."""
    edges, weights = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
    matrix = torch.sparse_coo_tensor(edges.flip(0), weights, (num_nodes, num_nodes),
                                     check_invariants=False).coalesce()  # gcn_norm's own indices
    return matrix.to_sparse_csr()


def _rows(csr: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Rows start:stop of a CSR matrix, as a CSR matrix (views of its index arrays)."""
    crow = csr.crow_indices()
    first, last = int(crow[start]), int(crow[stop])
    return torch.sparse_csr_tensor(crow[start:stop + 1] - first, csr.col_indices()[first:last],
                                   csr.values()[first:last], (stop - start, csr.size(1)), check_invariants=False)


def _times(sparse: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    out = dense.new_empty(sparse.size(0), dense.size(1))
    return torch.addmm(out, sparse, dense, beta=0, out=out)


@torch.no_grad()
def chunked_embedding(encoder, x: torch.Tensor, adjacency: torch.Tensor, chunk: int = EMBED_CHUNK) -> torch.Tensor:
    """The encoder's eval-mode output (mu for the variational kind) on the whole graph, in
    chunks of rows: H = relu((Â X) W1 + b1) one chunk at a time, each chunk's H W_mu kept
    (N x latent), then Z = Â (H W_mu) + b_mu. The same products as `GCNEncoder.forward`
    regrouped ((Â X) W = Â (X W)); peak extra memory two N x latent matrices."""
    weight1, bias1 = encoder.conv1.lin.weight, encoder.conv1.bias
    weight_mu, bias_mu = encoder.conv_mu.lin.weight, encoder.conv_mu.bias
    n = x.size(0)
    projected = x.new_empty(n, weight_mu.size(0))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        h = F.relu_(torch.addmm(bias1, _times(_rows(adjacency, start, stop), x), weight1.t()))
        projected[start:stop] = h @ weight_mu.t()
    z = x.new_empty(n, weight_mu.size(0))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        z[start:stop] = _times(_rows(adjacency, start, stop), projected).add_(bias_mu)
    return z


def held_out_sample(pos: torch.Tensor, neg: torch.Tensor, cap: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """At most `cap` of the held-out edges and as many of the non-edges, seeded."""
    if pos.size(1) <= cap and neg.size(1) <= cap:
        return pos, neg
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randperm(pos.size(1), generator=generator)[:cap].to(pos.device)
    pick_neg = torch.randperm(neg.size(1), generator=generator)[:cap].to(neg.device)
    return pos[:, pick], neg[:, pick_neg]
