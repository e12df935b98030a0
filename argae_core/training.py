"""The trainer: iterate it and get one `EpochRecord` per epoch.

One epoch, as in the tutorial (and Pan et al., Algorithm 1):

    z = encoder(X, A_train)
    repeat discriminator_steps:            # D learns: prior samples -> "real", z -> "fake"
        D_loss = -log D(z') - log(1 - D(z.detach())),  z' ~ N(0, I)
    encoder loss = recon(z, A_train) + reg_weight * (-log D(z)) + kl_weight * KL(q(z) || N(0, I))

The same loop serves the dashboard's jobs, the CLI, the tests and the benchmarks.
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from . import metrics, sampling, steering
from .config import TrainConfig
from .data import load_graph
from .graph import Graph, Split, split_edges
from .models import build_model, pick_device
from .records import ROW_FIELDS, EpochRecord  # noqa: F401  (importable from here as before)


class NegativeSampler:
    """Random non-edges for the reconstruction loss: node pairs (i, j), i != j, that are not
    training edges, uniformly, as many as there are training edges: what PyG's
    `negative_sampling` draws.

    PyG draws pair ids with Python's `random.sample` and rejects edges with `np.isin`, on the
    CPU, every epoch (on Cora about a tenth of the tutorial's epoch). Here: one `randint` on
    the device and a binary search among the training edge ids, sorted once."""

    def __init__(self, edge_index: torch.Tensor, num_nodes: int):
        self.num_nodes = num_nodes
        self.count = edge_index.size(1)
        self.edge_ids = torch.sort(edge_index[0] * num_nodes + edge_index[1]).values
        non_edges = num_nodes * (num_nodes - 1) - self.count
        # Oversample as PyG does, so that after rejection about `count` pairs are left.
        self.draws = math.ceil(1.1 * self.count * num_nodes ** 2 / max(non_edges, 1))

    def __call__(self) -> torch.Tensor:
        pairs = torch.randint(self.num_nodes, (2, self.draws), device=self.edge_ids.device)
        ids = pairs[0] * self.num_nodes + pairs[1]
        nearest = torch.searchsorted(self.edge_ids, ids).clamp_(max=self.edge_ids.numel() - 1)
        keep = (self.edge_ids[nearest] != ids) & (pairs[0] != pairs[1])
        return pairs[:, keep][:, :self.count]


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
        self.device = pick_device(config.device)
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        self.graph = graph if graph is not None else load_graph(config)
        self.split = split if split is not None else split_edges(self.graph, config.seed)
        self.x = self.graph.x.to(self.device)
        self.train_edges = self.split.train_edge_index.to(self.device)
        self.positive_edges = one_direction(self.train_edges)
        self.negative_edges = NegativeSampler(self.train_edges, self.graph.num_nodes)
        self.val_edges = (self.split.val_pos.to(self.device), self.split.val_neg.to(self.device))
        self.test_edges = (self.split.test_pos.to(self.device), self.split.test_neg.to(self.device))
        # Sampled training (argae_core/sampling.py): one update per batch of training edges,
        # validation on a sample of the held-out edges, Z computed in chunks of nodes.
        self.sampled = config.sampled_for(self.graph.num_nodes)
        self.batches = (sampling.EdgeBatches(self.train_edges, self.positive_edges, self.graph.num_nodes,
                                             config.batch_nodes, edge_ids=self.negative_edges.edge_ids)
                        if self.sampled else None)
        self._adjacency = None  # the whole graph's Â for `embed`, built when first needed
        self.on_batch = None    # sampled: called with (epoch, batch, batches) after each update
        if self.sampled:
            self.val_edges = sampling.held_out_sample(*self.val_edges, sampling.VALIDATION_EDGES, config.seed)
        torch.manual_seed(config.seed)  # weights do not depend on how the graph was made
        self.model = build_model(config, self.graph.num_features).to(self.device)
        # fused: one pass over the weights per step instead of a dozen (encoder, Cora: 1.3 -> 0.5 ms)
        self.encoder_optimizer = torch.optim.Adam(self.model.encoder.parameters(),
                                                  lr=config.encoder_lr, fused=True)
        self.discriminator_optimizer = (
            torch.optim.Adam(self.model.discriminator.parameters(), lr=config.discriminator_lr,
                             fused=True)
            if config.adversarial else None)
        self.reg_weight = config.effective_reg_weight()
        self.kl_weight = config.effective_kl_weight(self.graph.num_nodes)
        self.epoch = 0
        self.diverged_at: int | None = None
        self.best_epoch = 0
        self.best_val_auc = -math.inf
        self._best_state: dict | None = None
        self._stop = False
        self._phases = None  # the epoch in progress, when step mode has begun one
        self._ready: EpochRecord | None = None  # an epoch step mode finished, not yet yielded
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
    def encode(self) -> torch.Tensor:
        return self.model.encode(self.x, self.train_edges)

    def discriminator_step(self, z: torch.Tensor) -> tuple[float, float, float]:
        """One D update on prior samples vs z; returns (loss, mean D(real), mean D(fake)).

        Real and fake go through D as one batch: the same loss as PyG's
        `discriminator_loss` (BCE on both halves) at half the calls; the gradients are
        written out (`Discriminator.update_gradients`), not traced by autograd."""
        loss, prob = self.model.discriminator.update_gradients(torch.randn_like(z), z.detach())
        self.discriminator_optimizer.step()
        n = z.size(0)
        return float(loss), float(prob[:n].mean()), float(prob[n:].mean())

    def updates(self):
        """The encoder updates of one epoch, as (z, positive pairs, draw negative pairs):
        full-batch, once on the whole graph; sampled, once per batch of training edges, z of
        the batch's subgraph and pairs in its local ids."""
        if self.batches is None:
            yield self.encode(), self.positive_edges, self.negative_edges
            return
        for batch in self.batches.epoch():
            yield (self.model.encode(self.x[batch.nodes], batch.edge_index), batch.positives,
                   lambda negatives=batch.negatives: negatives)

    def encoder_step(self, z: torch.Tensor, positives: torch.Tensor | None = None, negatives=None) -> dict:
        """One encoder update on recon + weighted regulariser + weighted KL (on the whole
        graph's pairs unless `positives` and `negatives`, a function drawing them, are given)."""
        positives = self.positive_edges if positives is None else positives
        negatives = self.negative_edges if negatives is None else negatives
        recon = self.model.recon_loss(z, positives, negatives())
        loss = recon
        parts = {"recon_loss": float(recon.detach())}
        if self.model_is_adversarial:  # steering can switch the adversary off
            reg = self.reg_weight * self._without_discriminator_grads(self.model.reg_loss, z)
            loss = loss + reg
            parts["reg_loss"] = float(reg.detach())
        if self.config.variational:
            kl = self.kl_weight * self.model.kl_loss()
            loss = loss + kl
            parts["kl_loss"] = float(kl.detach())
        self.encoder_optimizer.zero_grad()
        loss.backward()
        self.encoder_optimizer.step()
        parts["encoder_loss"] = float(loss.detach())
        return parts

    def _without_discriminator_grads(self, loss_fn, z: torch.Tensor) -> torch.Tensor:
        """loss_fn(z) with D's weights frozen: the encoder's backward pass then skips D's weight
        gradients, which the encoder update never uses (the next D step zeroes them anyway)."""
        discriminator = self.model.discriminator
        discriminator.requires_grad_(False)
        try:
            return loss_fn(z)
        finally:
            discriminator.requires_grad_(True)

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
                for update in range(1, self.settings["discriminator_steps"] + 1):
                    loss, d_real, d_fake = self.discriminator_step(z)
                    d_losses.append(loss)
                    yield {"phase": "discriminator", "epoch": self.epoch, "update": update, **where,
                           "discriminator_loss": loss, "d_real": d_real, "d_fake": d_fake}
            all_parts.append(self.encoder_step(z, positives, negatives))
            if self.sampled and self.on_batch is not None:
                self.on_batch(self.epoch, batch, batches)
            # ends_epoch: the record comes next (sampled: after the last batch's update only)
            yield {"phase": "encoder", "epoch": self.epoch, **where, "ends_epoch": batch == batches, **all_parts[-1]}
        # sampled: the epoch's losses are the means over its batches (one batch: as they are)
        parts = {key: float(np.mean([p[key] for p in all_parts])) for key in all_parts[-1]}
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
            record.z, record.d_score = self.snapshot(z)
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
        return out[0] if self.config.variational else out

    @torch.no_grad()
    def snapshot(self, z: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(Z, D(z) per node) as arrays; `z` is `embed()` unless the caller has it already."""
        z = self.embed() if z is None else z
        score = None
        if self.config.adversarial:
            score = torch.sigmoid(self.model.discriminator(z)).squeeze(-1).cpu().numpy()
        return z.cpu().numpy(), score

    def discriminator_weights(self) -> dict[str, np.ndarray] | None:
        """D's parameters as arrays (a few tens of KB), so a page can draw D's verdict over the
        latent space at a snapshot; None without a discriminator."""
        if not self.config.adversarial:
            return None
        return {name: value.detach().cpu().numpy().copy()
                for name, value in self.model.discriminator.state_dict().items()}

    def _validate(self, z: torch.Tensor) -> tuple[float, float]:
        auc, ap = self.model.test(z, *self.val_edges)
        if auc > self.best_val_auc:
            self.best_val_auc, self.best_epoch = auc, self.epoch
            self._best_state = copy.deepcopy(self.model.state_dict())
        return float(auc), float(ap)

    def final_metrics(self) -> dict:
        """Test link prediction, clustering and prior match at the best-validation epoch."""
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        z = self.embed()
        out = {"epochs_run": self.epoch, "diverged": self.diverged_at is not None,
               "diverged_at": self.diverged_at, "best_epoch": self.best_epoch or self.epoch,
               "seconds_per_epoch": (float(np.mean([h["seconds"] for h in self.history]))
                                     if self.history else None)}
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
