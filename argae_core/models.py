"""GAE / VGAE / ARGA / ARGVA from `torch_geometric.nn`, with the tutorial's GCN encoder and
3-layer MLP discriminator.

    encoder:        H = relu(Â X W1 + b1);  mu = Â H W_mu + b_mu;  logstd = Â H W_logstd + b_logstd
                    Â = D^-1/2 (A + I) D^-1/2   (Kipf & Welling's GCN, as PyG's GCNConv)
    decoder:        p(A_ij = 1 | z) = sigmoid(z_i . z_j)             (inner product)
    discriminator:  D(z) = sigmoid(MLP(z)),  "real" = sample of N(0, I), "fake" = node embedding

The GCN layers are written here rather than taken from PyG's `GCNConv` for speed (same
parameters, same initialisation, same outputs to float rounding; tests/test_fast_paths.py).
The graph and the features are fixed during a run, so Â is built once as a sparse matrix and
mostly-zero features (Cora: 98.7 % zeros) are kept sparse. Encoder forward + backward on Cora,
CPU time, one thread, loaded 2-core machine: GCNConv 27 ms, these layers 3.8 ms (hidden 64,
latent 32); 89 ms and 19 ms (hidden 256, latent 64). Most of GCNConv's time is X W1 on a dense
2708 x 1433 X; the rest is its scatter-based message passing, and torch's own sparse-matrix
backward, which transposes the sparse matrix on every call (`FixedSparse` keeps the transpose,
and computes its products as `embedding_bag` row sums). The variational heads run as one layer.
The decoder keeps PyG's class and math, computed in chunks (`ChunkedDecoder`); the trainer's
losses have their gradients written out (`recon_loss_gradients`, `Discriminator.batch_gradients`
and `regulariser_gradients`), each checked against autograd on PyG's loss.
"""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import ARGA, ARGVA, GAE, VGAE
from torch_geometric.nn.models.autoencoder import EPS, MAX_LOGSTD, InnerProductDecoder  # noqa: F401  (MAX_LOGSTD: training.py takes it from here)
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import zeros

from .config import TrainConfig
from .dense import linear_relu, times_transposed, times_weight, weight_gradient

SPARSE_FEATURES_BELOW = 0.1  # feature density under which X W runs sparse (measured crossover 0.1-0.2)


class FixedSparse:
    """A constant sparse matrix M with its transpose, so `M @ dense` is one sparse product
    forwards and one backwards, with gradients for `dense` only.

    Each product is a weighted sum of rows of `dense` per row of M: PyTorch's `embedding_bag`
    (mode "sum", the entries of M as per-sample weights, a row's entries in column order),
    which is 2-3.5x faster on the CPU than the CSR matrix product (Cora, one thread: X W1 at
    hidden 256 1.97 -> 0.82 ms, its backward 1.94 -> 0.83, Â H 0.44 -> 0.22) and gives the
    same sums (bit for bit for 0/1 features; Â to float rounding)."""

    def __init__(self, matrix: torch.Tensor):  # sparse COO
        matrix = matrix.coalesce()
        self.shape = tuple(matrix.shape)
        self.rows, self.columns = _bags(matrix), _bags(matrix.t().coalesce())

    def __matmul__(self, dense: torch.Tensor) -> torch.Tensor:
        return _FixedSparseMatmul.apply(dense, self)

    def size(self, dim: int) -> int:
        return self.shape[dim]


def _bags(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(column of each entry, where each row's entries begin, the entries' values) of a
    coalesced COO matrix: its CSR arrays, as `embedding_bag` takes them."""
    with warnings.catch_warnings():  # torch calls CSR "beta"; only its arrays are used
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        csr = matrix.to_sparse_csr()
    return csr.col_indices(), csr.crow_indices()[:-1].contiguous(), csr.values()


class _FixedSparseMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dense, fixed):
        ctx.fixed = fixed
        return _sparse_times_dense(fixed.rows, dense)

    @staticmethod
    def backward(ctx, grad):
        return _sparse_times_dense(ctx.fixed.columns, grad), None


def _sparse_times_dense(bags: tuple, dense: torch.Tensor) -> torch.Tensor:
    """M @ dense for M given by its `_bags`: row i is sum over M's entries (i, j) of M_ij dense_j."""
    columns, starts, values = bags
    return F.embedding_bag(columns, dense.contiguous(), starts, mode="sum", per_sample_weights=values)


def normalized_adjacency(edge_index: torch.Tensor, num_nodes: int) -> FixedSparse:
    """Â = D^-1/2 (A + I) D^-1/2 by PyG's `gcn_norm`; row i gathers the messages into node i."""
    edges, weights = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
    return FixedSparse(torch.sparse_coo_tensor(edges.flip(0), weights, (num_nodes, num_nodes),
                                               check_invariants=True))


def feature_matrix(x: torch.Tensor) -> torch.Tensor | FixedSparse:
    """X as given, or as a `FixedSparse` when mostly zeros (the sparse product is then cheaper)."""
    density = float(torch.count_nonzero(x)) / max(x.numel(), 1)
    return FixedSparse(x.to_sparse_coo()) if density < SPARSE_FEATURES_BELOW else x


class GCNLayer(nn.Module):
    """One GCN layer, Â (X W) + b, with GCNConv's parameters and initialisation
    (`lin.weight` glorot, `bias` zeros)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        zeros(self.bias)

    def forward(self, x: torch.Tensor | FixedSparse, adjacency: FixedSparse) -> torch.Tensor:
        # In place: the product is a fresh tensor nothing else holds (one N x out pass less).
        return (adjacency @ weighted(x, self.lin.weight)).add_(self.bias)


def weighted(x: torch.Tensor | FixedSparse, weight: torch.Tensor) -> torch.Tensor:
    """x W^T, with autograd: sparse features by their `FixedSparse` product; dense x by
    `dense.times_weight` forwards and for x's gradient (grad W), `dense.weight_gradient` for
    W's (grad^T x)."""
    if isinstance(x, FixedSparse):
        return x @ weight.t()
    return _WeightProduct.apply(x, weight)


class _WeightProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return times_weight(x, weight.t())

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return (times_weight(grad, weight) if ctx.needs_input_grad[0] else None,
                weight_gradient(grad, x, weight.new_empty(weight.shape)) if ctx.needs_input_grad[1] else None)


class GCNEncoder(nn.Module):
    """Two GCN layers; the variational kind has a second head for log std.

    Like `GCNConv(cached=True)`, the encoder is for one fixed graph at a time: Â and the
    feature matrix are prepared on the first call and reused while the same `x` and
    `edge_index` tensors come back (other tensors: prepared again)."""

    def __init__(self, in_channels: int, hidden: int, latent: int, variational: bool):
        super().__init__()
        self.conv1 = GCNLayer(in_channels, hidden)
        self.conv_mu = GCNLayer(hidden, latent)
        self.conv_logstd = GCNLayer(hidden, latent) if variational else None
        self._prepared: tuple | None = None  # (x, edge_index, features, adjacency)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, joint: bool = False):
        """Z (GAE), or (mu, log std); `joint`: the variational heads as one [N x 2 latent]
        tensor, mu first (the trainer's backward then starts there: no concatenation of the
        two heads' gradients)."""
        features, adjacency = self.prepare(x, edge_index)
        h = F.relu_(self.conv1(features, adjacency))  # in place, as in GCNLayer.forward
        if self.conv_logstd is None:
            return self.conv_mu(h, adjacency)
        # Both heads as one layer: one H W product and one sparse product of width 2 x latent
        # instead of two of width latent (the same sums per entry), split into two views.
        heads = (self.conv_mu, self.conv_logstd)
        weight = torch.cat([head.lin.weight for head in heads])
        out = (adjacency @ weighted(h, weight)).add_(torch.cat([head.bias for head in heads]))
        return out if joint else out.split(self.conv_mu.out_channels, dim=1)

    def prepare(self, x: torch.Tensor, edge_index: torch.Tensor) -> tuple:
        """(features, Â) for these tensors, built once per graph."""
        cached = self._prepared
        if cached is None or cached[0] is not x or cached[1] is not edge_index:
            cached = (x, edge_index, feature_matrix(x), normalized_adjacency(edge_index, x.size(0)))
            self._prepared = cached
        return cached[2], cached[3]


PAIR_CHUNK = 4096  # node pairs scored at a time: their gathered rows stay in cache
CHUNK_STRETCH = 1.25  # the training loss's chunks may grow by this much to be one fewer
PAIR_BLOCK_FLOATS = 2**18  # the training loss gathers up to 1 MB of rows per end of its pairs


def pair_chunk(width: int) -> int:
    """Pairs per chunk of the training loss for rows of `width` floats: 1 MB of gathered rows
    per end, at least PAIR_CHUNK (Cora, recon loss and gradient: latent 32, 4096 -> 8192
    pairs 2.09 -> 1.86 ms; latent 64 stays at 4096: 8192 there is 2.5x slower, out of cache)."""
    return max(PAIR_CHUNK, PAIR_BLOCK_FLOATS // max(width, 1))


class ChunkedDecoder(InnerProductDecoder):
    """PyG's inner-product decoder, sigmoid(z_i . z_j) for each pair (i, j), in chunks of pairs.

    PyG's gathers z[i] and z[j] for all pairs at once: two pairs x latent matrices, which
    autograd keeps for the backward pass. At 100k nodes (1.3M training and negative pairs,
    latent 64) that is about 650 MB and two thirds of an epoch; chunked, the gathered rows
    stay in cache and nothing pair-sized is kept: forward + backward 1.3 s -> 0.45 s there,
    the same on Cora (benchmarks/bench_scaling.py)."""

    def forward(self, z: torch.Tensor, edge_index: torch.Tensor, sigmoid: bool = True) -> torch.Tensor:
        value = _PairScores.apply(z, edge_index[0], edge_index[1])
        return torch.sigmoid(value) if sigmoid else value


class _PairScores(torch.autograd.Function):
    """score_e = z[src_e] . z[dst_e]; d score_e / d z[src_e] = z[dst_e] and vice versa."""

    @staticmethod
    def forward(ctx, z, src, dst):
        ctx.save_for_backward(z, src, dst)
        scores = z.new_empty(src.numel())
        for start, s, d in _chunks(src, dst):
            scores[start:start + s.numel()] = (z.index_select(0, s) * z.index_select(0, d)).sum(dim=1)
        return scores

    @staticmethod
    def backward(ctx, grad):
        z, src, dst = ctx.saved_tensors
        grad_z = torch.zeros_like(z)
        for start, s, d in _chunks(src, dst):
            g = grad[start:start + s.numel(), None]
            grad_z.index_add_(0, s, g * z.index_select(0, d))
            grad_z.index_add_(0, d, g * z.index_select(0, s))
        return grad_z, None, None


def _chunks(src: torch.Tensor, dst: torch.Tensor, size: int = PAIR_CHUNK, stretch: float = 1.0):
    """(start, src, dst) of consecutive chunks of pairs, at most `size` each; with `stretch`
    > 1, as few equal chunks of up to `stretch` x `size` as that allows (a remainder of a few
    hundred pairs costs a chunk's dozen small steps)."""
    if stretch > 1 and src.numel():
        size = math.ceil(src.numel() / math.ceil(src.numel() / (stretch * size)))
    for start in range(0, src.numel(), size):
        yield start, src[start:start + size], dst[start:start + size]


@torch.no_grad()
def recon_loss_gradients(z: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                         grad_z: torch.Tensor) -> torch.Tensor:
    """PyG's `recon_loss` (the inner-product decoder's binary cross entropy),

        -mean log(sigmoid(z_i . z_j) + EPS) over positive pairs
        -mean log(1 - sigmoid(z_i . z_j) + EPS) over negative pairs,

    with its gradient w.r.t. z added into `grad_z`, written out: each chunk of pairs is
    gathered once and scored, and its gradient scattered at once (autograd gathers the rows
    again in the backward pass, and traces a dozen element-wise steps). The derivative of
    each term is autograd's: log's 1 / (x + EPS) times sigmoid's p (1 - p), over the count.
    Returns the loss (tests/test_fast_paths.py: against PyG's, with autograd)."""
    total = z.new_zeros(())
    for pairs, is_positive in ((positive, True), (negative, False)):
        count, part = pairs.size(1), z.new_zeros(())
        for _, src, dst in _chunks(pairs[0], pairs[1], pair_chunk(z.size(1)), stretch=CHUNK_STRETCH):
            a, b = z.index_select(0, src), z.index_select(0, dst)
            p = torch.sigmoid((a * b).sum(dim=1))
            slope = p * (1 - p)
            if is_positive:  # d/ds -log(p + EPS)
                inside = p + EPS
                slope.div_(inside).neg_()
            else:            # d/ds -log(1 - p + EPS)
                inside = (1 - p).add_(EPS)
                slope.div_(inside)
            part = part - torch.log(inside).sum()
            slope = slope.div_(count).unsqueeze(1)
            grad_z.index_add_(0, src, b.mul_(slope))
            grad_z.index_add_(0, dst, a.mul_(slope))
        total = total + part / count  # no pairs: NaN, as the mean of nothing in PyG
    return total


class Discriminator(nn.Module):
    """The tutorial's MLP: latent -> hidden -> hidden -> 1 logit."""

    def __init__(self, latent: int, hidden: int):
        super().__init__()
        self.lin1 = nn.Linear(latent, hidden)
        self.lin2 = nn.Linear(hidden, hidden)
        self.lin3 = nn.Linear(hidden, 1)
        self._workspace: dict = {}  # (rows, device, dtype) -> the update's kept buffers

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.lin3(F.relu(self.lin2(F.relu(self.lin1(z)))))

    def update_gradients(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's loss on prior samples ("real", target 1) and node embeddings ("fake", target 0),
        and its gradients written into the weights' `.grad`: what

            logits = self(torch.cat([real, fake])).squeeze(-1)
            loss = 2 * binary_cross_entropy_with_logits(logits, [1] * n + [0] * n)
            loss.backward()

        computes (the same products in the same order; tests/test_fast_paths.py), written out.
        Returns (loss, D(x) per row as probabilities, real rows first); see `batch_gradients`."""
        return self.batch_gradients(torch.cat([real, fake]), real.size(0))

    @torch.no_grad()
    def batch_gradients(self, x: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`update_gradients` on x = [real; fake] (n rows each), given as one tensor, so a
        caller can keep that batch and refill only the prior half in place (training.py).

        Autograd's bookkeeping, the target tensor, zeroing and accumulating `.grad`, and a
        fresh tensor for every product and ReLU were a good part of an update at these sizes;
        here the ReLUs' backward runs in place, the gradients go into the weights' own
        `.grad` tensors (overwritten, never accumulated), and what is left is the five matrix
        products (Cora, latent 32, one thread: CPU ms per update 6.7 with autograd, 3.5
        written out, 2.7 with kept buffers).

        The hidden layers run feature-major: H^T = relu(W x^T + b), [hidden x 2n], each
        feature's values side by side, and their gradients likewise. Then each weight gradient,
        G^T H (a sum over all 2n rows), is a product of two contiguous feature-major operands,
        and every product is `dense.times_transposed`'s a @ b^T with `a` contiguous: on this
        project's machine oneDNN computes those about twice as fast as MKL computes the
        row-major weight gradients (Cora, one thread, 5,416 rows: 64 x 64 weight 475 -> 215 us,
        64 x 32 285 -> 104 us; the whole update 1.47-1.59 -> 1.19-1.26 ms). The probabilities
        returned are a view of a kept buffer: valid until the next call."""
        work = self._buffers_for(x, 2 * n)
        lin1, lin2, lin3 = self.lin1, self.lin2, self.lin3
        h1 = _hidden(times_transposed(lin1.weight, x), lin1.bias)                    # [hidden, 2n]
        h2 = _hidden(times_transposed(lin2.weight, h1.t()), lin2.bias)               # [hidden, 2n]
        logits = torch.addmm(lin3.bias.unsqueeze(1), lin3.weight, h2, out=work["logits"])  # [1, 2n]
        prob = torch.sigmoid(logits, out=work["prob"])
        # d loss / d logit = 2 (sigmoid - target) / 2n: (sigmoid - target) / n, the same
        # floats (doubling is exact, so 2s / 2n and s / n round alike)
        grad = torch.sub(prob, work["target"], out=work["grad"]).div_(n)
        # 2 x mean BCE = (sum of softplus(-logit) over real rows + softplus(logit) over fake) / n
        loss = F.softplus(torch.mul(logits, work["sign"], out=work["signed"])).sum() / n
        torch.mm(grad, h2.t(), out=_grad_buffer(lin3.weight))                       # [1, hidden]
        torch.sum(grad, 1, out=_grad_buffer(lin3.bias))
        # [hidden, 1] x [1, 2n]: one product per entry, as a broadcast; then ReLU's backward
        g2 = torch.mul(lin3.weight.t(), grad, out=work["g2"])
        g2 = torch.ops.aten.threshold_backward.grad_input(g2, h2, 0, grad_input=g2)
        times_transposed(g2, h1, out=_grad_buffer(lin2.weight))                     # G2^T H1
        torch.sum(g2, 1, out=_grad_buffer(lin2.bias))
        g1 = times_transposed(lin2.weight.t(), g2.t())                              # (G2 W2)^T
        g1 = torch.ops.aten.threshold_backward.grad_input(g1, h1, 0, grad_input=g1)
        times_transposed(g1, x.t(), out=_grad_buffer(lin1.weight))                  # G1^T x
        torch.sum(g1, 1, out=_grad_buffer(lin1.bias))
        return loss, prob[0]

    @torch.no_grad()
    def regulariser_gradients(self, z: torch.Tensor, weight: float) -> tuple[torch.Tensor, torch.Tensor]:
        """PyG's `reg_loss`, -mean log(sigmoid(D(z)) + EPS) (the encoder wants D to call z
        "real"), and `weight` x its gradient w.r.t. z, with D's weights held fixed: what
        autograd computes through D with D's parameters frozen, written out (the same
        products; tests/test_fast_paths.py). Returns (unweighted loss, weighted gradient)."""
        lin1, lin2, lin3 = self.lin1, self.lin2, self.lin3
        h1 = linear_relu(z, lin1)
        h2 = linear_relu(h1, lin2)
        p = torch.sigmoid(torch.addmm(lin3.bias, h2, lin3.weight.t()))            # [n, 1]
        inside = p + EPS
        loss = -torch.log(inside).mean()
        grad = (p * (1 - p)).div_(inside).mul_(-weight / z.size(0))              # d / d logit
        grad = torch.ops.aten.threshold_backward(grad * lin3.weight, h2, 0)  # [n, 1] x [1, hidden]
        grad = torch.ops.aten.threshold_backward(times_weight(grad, lin2.weight), h1, 0)
        return loss, times_weight(grad, lin1.weight)

    def _buffers_for(self, x: torch.Tensor, rows: int) -> dict[str, torch.Tensor]:
        """The update's kept buffers, feature-major ([width x rows])."""
        key = (rows, x.device, x.dtype)
        work = self._workspace.get(key)
        if work is None:
            hidden = self.lin1.out_features
            work = {name: x.new_empty(width, rows) for name, width in
                    (("g2", hidden), ("logits", 1), ("prob", 1), ("grad", 1), ("signed", 1))}
            real = torch.arange(rows, device=x.device) < rows // 2  # the batch is [real; fake]
            work["target"] = real.to(x.dtype).unsqueeze(0)         # BCE targets 1 then 0
            work["sign"] = 1 - 2 * work["target"]                   # -1 on real rows, +1 on fake
            self._workspace = {key: work}  # one size at a time: a new graph replaces the old
        return work


def _hidden(pre: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """relu(pre + bias) in place, for a feature-major [width x rows] `pre` (bias per row)."""
    return pre.add_(bias.unsqueeze(1)).relu_()


def _grad_buffer(parameter: nn.Parameter) -> torch.Tensor:
    """The parameter's `.grad`, made once and then overwritten in place (never accumulated)."""
    if parameter.grad is None or parameter.grad.shape != parameter.shape:
        parameter.grad = torch.empty_like(parameter)
    return parameter.grad


def build_model(config: TrainConfig, num_features: int) -> GAE:
    """The PyG autoencoder a config names (ARGVA / ARGA carry `.discriminator`)."""
    encoder = GCNEncoder(num_features, config.encoder_hidden, config.latent_size, config.variational)
    if not config.adversarial:
        return (VGAE if config.variational else GAE)(encoder, ChunkedDecoder())
    discriminator = Discriminator(config.latent_size, config.discriminator_hidden)
    return (ARGVA if config.variational else ARGA)(encoder, discriminator, ChunkedDecoder())

