"""The trainer: iterate it and get one `EpochRecord` per epoch.

One epoch, as in the tutorial (and Pan et al., Algorithm 1):

    z = encoder(X, A_train)
    repeat discriminator_steps:            # D learns: prior samples -> "real", z -> "fake"
        D_loss = -log D(z') - log(1 - D(z.detach())),  z' ~ N(0, I)
    encoder loss = recon(z, A_train) + reg_weight * (-log D(z)) + kl_weight * KL(q(z) || N(0, I))

The same loop serves the dashboard's jobs, the CLI, the tests and the benchmarks.
"""
from __future__ import annotations

import math
import time
import weakref

import numpy as np
import torch

from . import dense, metrics, sampling, snapshots, steering
from .config import TrainConfig
from .data import load_graph
from .devices import FUSED_ADAM, resolve_device
from .graph import Graph, Split, split_edges
from .models import MAX_LOGSTD, build_model, recon_loss_gradients
from .records import ROW_FIELDS, EpochRecord  # noqa: F401  (importable from here as before)


NEGATIVE_TABLE_LIMIT = 2**24  # node pairs up to which the sampler looks edges up in a table (16 MB)


class NegativeSampler:
    """Random non-edges for the reconstruction loss: node pairs (i, j), i != j, that are not
    training edges, uniformly, as many as there are training edges: what PyG's
    `negative_sampling` draws.

    PyG draws pair ids with Python's `random.sample` and rejects edges with `np.isin`, on the
    CPU, every epoch (on Cora about a tenth of the tutorial's epoch). Here: one `randint` on
    the device, and the training edges looked up in a table of all N^2 pairs (one byte each,
    while N^2 <= NEGATIVE_TABLE_LIMIT: Cora 7.3 MB; a gather, 17 us on Cora) or, for larger
    graphs, by binary search among the edge ids, sorted once (730 us on Cora). Both give
    the same pairs for the same draws."""

    def __init__(self, edge_index: torch.Tensor, num_nodes: int, table_limit: int = NEGATIVE_TABLE_LIMIT):
        self.num_nodes = num_nodes
        self.count = edge_index.size(1)
        self.edge_ids = torch.sort(edge_index[0] * num_nodes + edge_index[1]).values
        self.table = None
        if num_nodes * num_nodes <= table_limit:
            self.table = torch.zeros(num_nodes * num_nodes, dtype=torch.bool, device=self.edge_ids.device)
            self.table[self.edge_ids] = True
        non_edges = num_nodes * (num_nodes - 1) - self.count
        # Oversample as PyG does, so that after rejection about `count` pairs are left.
        self.draws = math.ceil(1.1 * self.count * num_nodes ** 2 / max(non_edges, 1))

    def __call__(self) -> torch.Tensor:
        pairs = torch.randint(self.num_nodes, (2, self.draws), device=self.edge_ids.device)
        ids = pairs[0] * self.num_nodes + pairs[1]
        if self.table is not None:
            is_edge = self.table.index_select(0, ids)
        else:
            nearest = torch.searchsorted(self.edge_ids, ids).clamp_(max=self.edge_ids.numel() - 1)
            is_edge = self.edge_ids[nearest] == ids
        keep = torch.logical_not(is_edge).logical_and_(pairs[0] != pairs[1])
        return pairs.index_select(1, keep.nonzero().squeeze(1)[:self.count])


_DIRECT_ADAM_OFF = ("amsgrad", "maximize", "capturable", "differentiable", "decoupled_weight_decay", "foreach")


@torch.no_grad()
def adam_step(optimizer: torch.optim.Optimizer) -> None:
    """`optimizer.step()` of a fused Adam by the two calls its fused path makes
    (`_foreach_add_` on the step counts, then `_fused_adam_` with the group's settings), without
    the Python around them: the same update, bit for bit (tests/test_fast_paths.py). Around
    those calls `step()` spent about 0.1 ms a call on Cora (one thread), six calls an epoch at
    the tutorial's recipe. Anything else (another optimizer, hooks, the first step, which makes
    the state, settings the fused path does not take) goes through `optimizer.step()`."""
    from torch.optim import optimizer as module
    calls = []
    plain = (type(optimizer) is not torch.optim.Adam or optimizer._optimizer_step_pre_hooks
             or optimizer._optimizer_step_post_hooks or getattr(module, "_global_optimizer_pre_hooks", True)
             or getattr(module, "_global_optimizer_post_hooks", True))
    for group in [] if plain else optimizer.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        states = [optimizer.state.get(p) for p in params]
        if not group["fused"] or any(group[k] for k in _DIRECT_ADAM_OFF) or torch.is_tensor(group["lr"]) \
                or not all(states):
            plain = True
            break
        calls.append((group, params, states))
    if plain:
        optimizer.step()
        return
    for group, params, states in calls:
        if not params:
            continue
        steps = [state["step"] for state in states]
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adam_(params, [p.grad for p in params], [state["exp_avg"] for state in states],
                           [state["exp_avg_sq"] for state in states], [], steps, amsgrad=False,
                           lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
                           eps=group["eps"], maximize=False, grad_scale=None, found_inf=None)


def link_auc_ap(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """ROC AUC and average precision of link scores (held-out edges `positive`, non-edges
    `negative`): what sklearn's `roc_auc_score` and `average_precision_score` give on
    labels [1...1, 0...0] (PyG's `test`), by the same steps (scores sorted high to low, one
    point per distinct score, collinear ROC points dropped, trapezoids; the precision-recall
    step sum), without sklearn's input checks, which were most of a validation's 3-4 ms on
    Cora (tests/test_metrics.py: the same floats as sklearn, ties included). Here, not in metrics.py,
    because the exported script (export_script.py) pastes this module and not that one."""
    scores = np.concatenate([np.asarray(positive).ravel(), np.asarray(negative).ravel()])
    truth = np.zeros(scores.size, dtype=np.float64)
    truth[:np.asarray(positive).size] = 1.0
    order = np.argsort(-scores, kind="stable")
    scores, truth = scores[order], truth[order]
    thresholds = np.concatenate([np.flatnonzero(np.diff(scores)), [scores.size - 1]])
    tps = np.cumsum(truth)[thresholds]
    fps = 1 + thresholds.astype(np.float64) - tps
    if tps[-1] <= 0 or fps[-1] <= 0:
        raise ValueError("AUC needs both edges and non-edges")
    # average precision: recall steps times the precision at each, highest threshold first
    precision = np.concatenate([(tps / (tps + fps))[::-1], [1.0]])
    recall = np.concatenate([(tps / tps[-1])[::-1], [0.0]])
    ap = float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))
    if fps.size > 2:  # ROC: drop the points that lie on a straight line between their neighbours
        keep = np.flatnonzero(np.concatenate([[True], np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), [True]]))
        fps, tps = fps[keep], tps[keep]
    fpr = np.concatenate([[0.0], fps]) / fps[-1]
    tpr = np.concatenate([[0.0], tps]) / tps[-1]
    return float(np.trapezoid(tpr, fpr)), ap  # scipy's trapezoid, which sklearn calls, is this sum


def one_direction(edge_index: torch.Tensor) -> torch.Tensor:
    """Each edge of a symmetric edge list once (i < j), else the list as given.

    The reconstruction loss averages over the positive pairs; with both directions of every
    edge, each score z_i . z_j appears twice, so one direction gives the same loss and
    gradient at half the gather / scatter work."""
    forward = edge_index[:, edge_index[0] < edge_index[1]]
    backward = edge_index[:, edge_index[0] > edge_index[1]].flip(0)
    n = int(edge_index.max()) + 1 if edge_index.numel() else 0
    symmetric = (2 * forward.size(1) == edge_index.size(1) and torch.equal(
        torch.sort(forward[0] * n + forward[1]).values, torch.sort(backward[0] * n + backward[1]).values))
    return forward if symmetric else edge_index


class Trainer:
    """Trains one config. Iterate for records; `stop()` ends the iteration after the
    current epoch; `final_metrics()` evaluates the epoch with the best validation AUC."""

    def __init__(self, config: TrainConfig, graph: Graph | None = None, split: Split | None = None,
                 plan: list[dict] | None = None):
        self.config = config.validate()
        self.device = resolve_device(config.device)  # chosen once; model and tensors live there
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        self.graph = graph if graph is not None else load_graph(config)
        self.split = split if split is not None else split_edges(self.graph, config.seed)
        self.x = self.graph.x.to(self.device)
        self.train_edges = self.split.train_edge_index.to(self.device)
        self.positive_edges = one_direction(self.split.train_edge_index).to(self.device)  # on the CPU: no device sync
        self.negative_edges = NegativeSampler(self.train_edges, self.graph.num_nodes)
        self.val_edges = (self.split.val_pos.to(self.device), self.split.val_neg.to(self.device))
        self.test_edges = (self.split.test_pos.to(self.device), self.split.test_neg.to(self.device))
        # Sampled training (argae_core/sampling.py): one update per batch of training edges,
        # validation on a sample of the held-out edges, Z computed in chunks of nodes.
        self.sampled = config.sampled_for(self.graph.num_nodes)
        # the batches: PyG's LinkNeighborLoader where it runs, else edge-seeded subgraphs (config
        # `sampler`); `sampler` says which, in words (the run's metrics, the CLI, the Runs page)
        self.batches, self.sampler = (
            sampling.batch_source(config.sampler, self.train_edges, self.positive_edges, self.graph.num_nodes,
                                  config.batch_nodes, edge_ids=self.negative_edges.edge_ids)
            if self.sampled else (None, None))
        self._adjacency = None  # the whole graph's Â for `embed`, built when first needed
        self.on_batch = None    # sampled: called with (epoch, batch, batches) after each update
        if self.sampled:
            self.val_edges = sampling.held_out_sample(*self.val_edges, sampling.VALIDATION_EDGES, config.seed)
        torch.manual_seed(config.seed)  # weights do not depend on how the graph was made
        self.model = build_model(config, self.graph.num_features).to(self.device)
        # fused: one pass over the weights per step instead of a dozen (encoder, Cora: 1.3 -> 0.5 ms)
        fused = self.device.type in FUSED_ADAM
        self.encoder_optimizer = torch.optim.Adam(self.model.encoder.parameters(),
                                                  lr=config.encoder_lr, fused=fused)
        self.discriminator_optimizer = (
            torch.optim.Adam(self.model.discriminator.parameters(), lr=config.discriminator_lr,
                             fused=fused)
            if config.adversarial else None)
        # the nodes each snapshot keeps (argae_core/snapshots.py; None: all); the final Z is whole
        self.snapshot_nodes = snapshots.subsample(
            self.graph.num_nodes, config.snapshot_nodes, config.seed,
            self.graph.y.numpy() if self.graph.y is not None else None)
        self._snapshot_rows = (None if self.snapshot_nodes is None
                               else torch.from_numpy(self.snapshot_nodes).to(self.device))
        self.reg_weight = config.effective_reg_weight()
        self.kl_weight = config.effective_kl_weight(self.graph.num_nodes)
        self.epoch = 0
        self.diverged_at: int | None = None
        self.best_epoch = 0
        self.best_val_auc = -math.inf
        self._best_state: dict | None = None
        self._stop = False
        self._encoded: dict | None = None  # the last encode(): the encoder's output, z, and what made z
        self._d_batch: tuple | None = None  # (z it was filled from, z's version, [prior; z] rows)
        self._phases = None  # the epoch in progress, when step mode has begun one
        self._ready: EpochRecord | None = None  # an epoch step mode finished, not yet yielded
        self.encoder_updates = 0  # Z changes only with these (a D update leaves it as it was)
        self._step_z: tuple[int, torch.Tensor] | None = None  # (encoder_updates, snapshot rows of Z)
        self.history: list[dict] = []
        # steering (argae_core/steering.py): the settings in effect, changes queued for the
        # next epoch, changes planned at given epochs (a replayed history), changes applied
        self.settings = steering.initial_settings(config)
        self._pending: dict = {}
        self._plan = steering.schedule_of(plan or [])
        self.steering: list[dict] = []

    # ------------------------------------------------------------ iteration
    def __iter__(self):
        while self._ready is not None or not self.finished:
            yield self.step()

    @property
    def finished(self) -> bool:
        if self._phases is not None:  # an epoch begun in step mode is not over yet
            return False
        return self._stop or self.diverged_at is not None or self.epoch >= self.config.epochs

    def stop(self) -> None:
        self._stop = True

    def steer(self, change: dict) -> None:
        """Queue a change of the game (knobs: `steering.STEERABLE`), checked now and put into
        effect when the next epoch starts."""
        self._pending.update(steering.check_change(self.config, change))

    # ---------------------------------------------------------------- steps
    def encode(self, x: torch.Tensor | None = None, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """Z for this epoch, as PyG's `encode` makes it in training mode (variational: the
        reparametrised sample mu + eps * exp(log std), log std clamped at MAX_LOGSTD, eps
        drawn by `randn_like`), as a tensor without autograd history; the encoder's output,
        which carries it, is kept for `encoder_step`."""
        x, edge_index = self.x if x is None else x, self.train_edges if edge_index is None else edge_index
        if not self.config.variational:
            out = self.model.encoder(x, edge_index)
            self._encoded = {"out": out, "z": out.detach()}
            return self._encoded["z"]
        out = self.model.encoder(x, edge_index, joint=True)  # [mu | log std]
        mu, logstd = out.detach().split(out.size(1) // 2, dim=1)
        with torch.no_grad():
            clamped = logstd.clamp(max=MAX_LOGSTD)
            noise = torch.randn_like(clamped)
            scale = torch.exp(clamped)
            z = mu + noise * scale
        self._encoded = {"out": out, "z": z, "mu": mu, "logstd": logstd,
                         "clamped": clamped, "noise": noise, "scale": scale}
        return z

    def discriminator_step(self, z: torch.Tensor) -> tuple[float, float, float]:
        """One D update on prior samples vs z; returns (loss, mean D(real), mean D(fake)).

        Real and fake go through D as one batch: the same loss as PyG's
        `discriminator_loss` (BCE on both halves) at half the calls; the gradients are
        written out (`Discriminator.batch_gradients`), not traced by autograd. The batch is
        kept: z is copied into its second half once per epoch (the updates of an epoch share
        one z), and each update draws the prior samples into its first half in place, the
        same draws as `torch.randn_like(z)`."""
        batch, n = self._discriminator_batch(z), z.size(0)
        batch[:n].normal_()
        loss, prob = self.model.discriminator.batch_gradients(batch, n)
        adam_step(self.discriminator_optimizer)
        real, fake = prob.view(2, n).mean(1).tolist()
        return float(loss), real, fake

    def _discriminator_batch(self, z: torch.Tensor) -> torch.Tensor:
        """[prior rows; z rows]: the kept batch, its z half filled from this z (once per z)."""
        source, version, batch = self._d_batch or (None, None, None)
        if batch is None or batch.shape != (2 * z.size(0), *z.shape[1:]) or batch.device != z.device \
                or batch.dtype != z.dtype:
            batch, source = z.new_empty(2 * z.size(0), *z.shape[1:]), None
        if source is None or source() is not z or version != z._version:
            batch[z.size(0):].copy_(z.detach())
        self._d_batch = (weakref.ref(z), z._version, batch)
        return batch

    def updates(self):
        """The encoder updates of one epoch, as (z, positive pairs, draw negative pairs):
        full-batch, once on the whole graph; sampled, once per batch of training edges, z of
        the batch's subgraph and pairs in its local ids."""
        if self.batches is None:
            yield self.encode(), self.positive_edges, self.negative_edges
            return
        for batch in self.batches.epoch():
            yield (self.encode(self.x[batch.nodes], batch.edge_index), batch.positives,
                   lambda negatives=batch.negatives: negatives)

    def encoder_step(self, z: torch.Tensor, positives: torch.Tensor | None = None, negatives=None) -> dict:
        """One encoder update on recon + weighted regulariser + weighted KL, for the z of the
        last `encode()` (on the whole graph's pairs unless `positives` and `negatives`, a
        function drawing them, are given: a sampled batch's, in its local ids).

        The losses are PyG's (`recon_loss`, `reg_loss`, `kl_loss`); their gradients w.r.t. z,
        mu and log std are written out (models.recon_loss_gradients,
        Discriminator.regulariser_gradients, `_kl_and_output_gradient` for the KL and the
        reparametrisation), and autograd runs only through the encoder, from its output: the
        same update as `loss.backward()` on the sum (tests/test_fast_paths.py), without
        tracing the losses (Cora, tutorial sizes: about a dozen element-wise steps each way)."""
        encoded = self._encoded
        if encoded is None or encoded["z"] is not z:
            raise ValueError("encoder_step takes the z that the last encode() returned")
        self._encoded = None  # the encoder's graph goes with the backward pass below
        grad_z = torch.zeros_like(z)
        positives = self.positive_edges if positives is None else positives
        negatives = self.negative_edges if negatives is None else negatives
        recon = recon_loss_gradients(z, positives, negatives(), grad_z)
        loss = recon
        parts = {"recon_loss": float(recon)}
        if self.model_is_adversarial:  # steering can switch the adversary off
            reg_loss, reg_grad = self.model.discriminator.regulariser_gradients(z, self.reg_weight)
            grad_z += reg_grad
            reg = self.reg_weight * reg_loss
            loss = loss + reg
            parts["reg_loss"] = float(reg)
        self.encoder_optimizer.zero_grad()
        if self.config.variational:
            kl, grad_out = self._kl_and_output_gradient(encoded, grad_z)
            loss = loss + kl
            parts["kl_loss"] = float(kl)
            encoded["out"].backward(grad_out)  # [mu | log std], as the encoder gave it
        else:
            encoded["out"].backward(grad_z)
        adam_step(self.encoder_optimizer)
        self.encoder_updates += 1
        parts["encoder_loss"] = float(loss)
        return parts

    @torch.no_grad()
    def _kl_and_output_gradient(self, encoded: dict, grad_z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The weighted KL term (PyG's `kl_loss` on the clamped log std) and the gradient of
        the whole loss w.r.t. the encoder's [mu | log std], given its gradient w.r.t. z:

            d/d mu      = dL/dz + w mu / N
            d/d logstd  = dL/dz eps exp(s) + w (exp(s)^2 - 1) / N  where logstd <= MAX_LOGSTD, else 0

        (s the clamped log std, z = mu + eps exp(s), w the KL weight)."""
        mu, clamped, scale = encoded["mu"], encoded["clamped"], encoded["scale"]
        n, latent = mu.shape
        square = scale * scale
        # PyG's -1/2 mean over nodes of sum over dimensions of (1 + 2 s - mu^2 - exp(s)^2), as
        # sums over all entries (two passes fewer than five element-wise steps and a row sum;
        # the loss to float rounding, the gradients below untouched)
        total = mu.numel() + 2 * clamped.sum() - (mu * mu).sum() - square.sum()
        kl = -0.5 * total / n
        per_node = self.kl_weight / n
        grad_out = grad_z.new_empty(n, 2 * latent)
        torch.add(grad_z, mu, alpha=per_node, out=grad_out[:, :latent])
        grad_logstd = torch.mul(grad_z, encoded["noise"], out=grad_out[:, latent:])
        grad_logstd.mul_(scale).add_(square.sub_(1), alpha=per_node)
        if float(encoded["logstd"].max()) > MAX_LOGSTD:  # rare: skip the mask pass when none is
            grad_logstd.masked_fill_(encoded["logstd"] > MAX_LOGSTD, 0)
        return self.kl_weight * kl, grad_out

    @property
    def model_is_adversarial(self) -> bool:
        return self.config.adversarial and self.settings["adversary"]  # steering can switch it off

    def step(self) -> EpochRecord:
        """Train one epoch (or what is left of one begun by `advance`) and return its record."""
        if self._ready is not None:  # an epoch `advance` completed: iteration still sees it
            record, self._ready = self._ready, None
            return record
        if self._phases is None:
            self._phases = self.epoch_phases()
        for item in self._phases:
            if isinstance(item, EpochRecord):
                self._phases = None
                return item
        raise RuntimeError("epoch_phases ended without a record")  # unreachable by construction

    def advance(self) -> dict | EpochRecord:
        """One update only (a discriminator update, or the encoder update): step mode.

        Returns the update's numbers; after the encoder update, the next call returns the
        epoch's record (which iterating the trainer then also yields, once)."""
        if self._ready is not None:
            return self._ready
        if self._phases is None:
            self._phases = self.epoch_phases()
        item = next(self._phases)
        if isinstance(item, EpochRecord):
            self._phases, self._ready = None, item
        return item

    def epoch_phases(self):
        """One epoch as a generator: a dict after each discriminator update and after the
        encoder update, then the epoch's `EpochRecord` (never raises on divergence)."""
        start = time.perf_counter()
        self.epoch += 1
        entry = steering.apply(self, {**self._plan.pop(self.epoch, {}), **self._pending})
        self._pending = {}
        if entry:
            self.steering.append(entry)
        self.model.train()
        d_losses, d_real, d_fake, all_parts = [], None, None, []
        batches = len(self.batches) if self.sampled else 1
        for batch, (z, positives, negatives) in enumerate(self.updates(), 1):
            where = {"batch": batch, "batches": batches} if self.sampled else {}
            if self.model_is_adversarial:
                updates = self.settings["discriminator_steps"]  # this epoch's, steered or not
                for update in range(1, updates + 1):
                    loss, d_real, d_fake = self.discriminator_step(z)
                    d_losses.append(loss)
                    yield {"phase": "discriminator", "epoch": self.epoch, "update": update, "updates": updates, **where,
                           "discriminator_loss": loss, "d_real": d_real, "d_fake": d_fake}
            all_parts.append(self.encoder_step(z, positives, negatives))
            if self.sampled and self.on_batch is not None:
                self.on_batch(self.epoch, batch, batches)
            # ends_epoch: the record comes next (sampled: after the last batch's update only)
            yield {"phase": "encoder", "epoch": self.epoch, **where, "ends_epoch": batch == batches, **all_parts[-1]}
        # sampled: the epoch's losses are the means over its batches (one batch: as they are)
        parts = (dict(all_parts[0]) if len(all_parts) == 1 else
                 {key: float(np.mean([p[key] for p in all_parts])) for key in all_parts[-1]})
        record = EpochRecord(epoch=self.epoch, **parts,
                             discriminator_loss=float(np.mean(d_losses)) if d_losses else None,
                             d_real=d_real, d_fake=d_fake)
        if not all(math.isfinite(v) for v in record.row().values() if isinstance(v, float)):
            record.diverged = True
            self.diverged_at = self.epoch
        validate = not record.diverged and (self.epoch % self.config.eval_interval == 0
                                            or self.epoch == self.config.epochs)
        keep_z = not record.diverged and (self.epoch % self.config.snapshot_interval == 0
                                          or self.epoch == 1 or self.epoch >= self.config.epochs
                                          or self._stop)
        z = self.embed() if validate or keep_z else None  # one eval-mode pass serves both
        if validate:
            record.val_auc, record.val_ap = self._validate(z)
        if keep_z:
            record.z, record.d_score = self.snapshot(z, subsample=True)
            record.d_weights = self.discriminator_weights()
        record.seconds = time.perf_counter() - start
        self.history.append(record.row())
        yield record

    # ----------------------------------------------------------- evaluation
    @torch.no_grad()
    def embed(self) -> torch.Tensor:
        """Z in eval mode: the encoder's mean for variational models (what PyG's `encode`
        returns outside training), its output otherwise. The encoder is called directly, so
        the posterior of an epoch in progress (mu / log std, which `kl_loss` reads) stays."""
        if self.sampled:  # no N x hidden tensor at once
            if self._adjacency is None:
                self._adjacency = sampling.full_adjacency(self.train_edges, self.graph.num_nodes)
            return sampling.chunked_embedding(self.model.encoder, self.x, self._adjacency)
        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model.encoder(self.x, self.train_edges)
        finally:
            self.model.train(was_training)
        return out[0].contiguous() if self.config.variational else out  # mu: a view of both heads

    @torch.no_grad()
    def snapshot(self, z: torch.Tensor | None = None, subsample: bool = False
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """(Z, D(z) per node) as CPU arrays; `z` is `embed()` unless the caller has it already.
        `subsample`: only the rows of `snapshot_nodes` (what a saved snapshot keeps)."""
        z = self.embed() if z is None else z
        if subsample and self._snapshot_rows is not None:
            z = z.index_select(0, self._snapshot_rows)
        score = None
        if self.config.adversarial:
            score = torch.sigmoid(self.model.discriminator(z)).squeeze(-1).cpu().numpy()
        return z.cpu().numpy(), score

    @torch.no_grad()
    def step_snapshot(self) -> tuple[np.ndarray, np.ndarray | None]:
        """`snapshot(subsample=True)` after one update of step mode. Z is embedded again only
        after an encoder update: a discriminator update changes D(z), not Z, and on a big
        graph each embedding is a full chunked pass (it was made on every click). Only the
        snapshot's rows are kept in between."""
        if self._step_z is None or self._step_z[0] != self.encoder_updates:
            z = self.embed()
            if self._snapshot_rows is not None:
                z = z.index_select(0, self._snapshot_rows)
            self._step_z = (self.encoder_updates, z)
        return self.snapshot(self._step_z[1])

    def discriminator_weights(self) -> dict[str, np.ndarray] | None:
        """D's parameters as arrays (a few tens of KB), so a page can draw D's verdict over the
        latent space at a snapshot; None without a discriminator."""
        if not self.config.adversarial:
            return None
        return {name: value.detach().cpu().numpy().copy()
                for name, value in self.model.discriminator.state_dict().items()}

    @torch.no_grad()
    def _validate(self, z: torch.Tensor) -> tuple[float, float]:
        # PyG's `test` (decoder scores of the held-out edges and non-edges, sklearn's AUC and AP),
        # with the scores taken by link_auc_ap: the same floats, 0.1 ms instead of 3
        if min(edges.size(1) for edges in self.val_edges) == 0:  # one class: as PyG says it
            auc, ap = self.model.test(z, *self.val_edges)
        else:
            auc, ap = link_auc_ap(*[self.model.decoder(z, edges, sigmoid=True).cpu().numpy()
                                    for edges in self.val_edges])
        if auc > self.best_val_auc:
            self.best_val_auc, self.best_epoch = auc, self.epoch
            self._best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return float(auc), float(ap)

    def final_metrics(self) -> dict:
        """Test link prediction, clustering and prior match at the best-validation epoch."""
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
            self._step_z = None
        z = self.embed()
        out = {"epochs_run": self.epoch, "diverged": self.diverged_at is not None,
               "diverged_at": self.diverged_at, "best_epoch": self.best_epoch or self.epoch,
               "seconds_per_epoch": (float(np.mean([h["seconds"] for h in self.history]))
                                     if self.history else None)}
        if self.sampler:
            out["sampler"] = self.sampler
        products = dense.in_use() if self.device.type == "cpu" else None
        if products:  # which library computed the dense products (an exported script pins them)
            out["dense_products"] = products
        if self.diverged_at is not None and self._best_state is None:
            return out  # nothing trustworthy to evaluate
        auc, ap = self.model.test(z, *self.test_edges)
        # how many held-out edges the scores rest on (KarateClub: about 7)
        out.update(test_auc=float(auc), test_ap=float(ap), test_edges=int(self.test_edges[0].size(1)),
                   test_non_edges=int(self.test_edges[1].size(1)))
        z_np = z.cpu().numpy()
        with torch.no_grad():
            scores = torch.cat([self.model.decoder(z, edges, sigmoid=True) for edges in self.test_edges])
        out["degenerate"] = metrics.degenerate(z_np, scores.cpu().numpy())
        if self.graph.y is not None and self.graph.num_classes > 1:
            out.update(metrics.clustering(z_np, self.graph.y.numpy(), seed=self.config.seed))
        out.update(metrics.prior_match(z_np, seed=self.config.seed))
        return out
