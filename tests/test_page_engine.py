"""The engine parts the pages used to compute themselves: latent frames, a saved run seen as
a job, a comparison started all or nothing, and the options the figures are built with."""
from __future__ import annotations

import numpy as np
import pytest

from argae_core import compare, plots, projection
from argae_core.config import ConfigError, TrainConfig
from argae_core.frames import FrameFiller, frame_now, nearest_frame


def test_nearest_frame_prefers_the_nearer_then_the_earlier_epoch_and_never_itself():
    frames = {2: "two", 6: "six", 10: "ten"}
    assert nearest_frame(frames, 4) == "two"      # a tie between 2 and 6: the earlier
    assert nearest_frame(frames, 5) == "six"
    assert nearest_frame(frames, 6) == "two"      # its own frame is not its start
    assert nearest_frame({}, 3) is None and nearest_frame({3: "x"}, 3) is None


def test_frame_now_computes_a_missing_pca_frame_once_aligned_on_its_neighbour():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((30, 4)).astype(np.float32)
    projector = projection.Projector("pca", seed=0, cap=100)
    loads = []

    def load(epoch):
        loads.append(epoch)
        return z + 0.001 * epoch
    first = frame_now(projector, 1, load)
    second = frame_now(projector, 2, load)
    assert frame_now(projector, 1, load) is first and loads == [1, 2]
    assert np.abs(second.z_xy - first.z_xy).max() < 0.1 * np.ptp(first.z_xy)
    filler = FrameFiller(projector, load)
    assert not filler.pending(1) and filler.pending(3)


class FakeManager:
    """Accepts `room` jobs, then refuses like a full queue."""

    def __init__(self, room: int):
        self.room, self.submitted, self.stopped = room, [], []

    def submit(self, owner, config, label, group, user=None):
        if len(self.submitted) >= self.room:
            raise RuntimeError("the queue is full")
        self.submitted.append((owner, config, label, group, user))
        return f"job-{len(self.submitted)}"

    def control(self, job_id, owner, action):
        self.stopped.append((job_id, owner, action))


def test_a_comparison_starts_one_job_per_seed_and_model_under_one_group():
    manager = FakeManager(room=10)
    started = compare.start_comparison(manager, "me", TrainConfig(seed=3, reg_weight=2.0), ["gae", "argva"], 2,
                                       label=lambda c: f"{c.model} {c.seed}", user="ada@school.test")
    assert started.jobs == ["job-1", "job-2", "job-3", "job-4"] and started.seeds == [3, 4]
    assert [s[2] for s in manager.submitted] == ["gae 3", "argva 3", "gae 4", "argva 4"]
    assert {s[3] for s in manager.submitted} == {started.group}
    assert {s[4] for s in manager.submitted} == {"ada@school.test"}  # the signed-in owner of every run
    assert manager.submitted[0][1].reg_weight is None and manager.submitted[1][1].reg_weight == 2.0
    assert manager.stopped == []


def test_a_refused_comparison_stops_what_it_started_and_says_why():
    manager = FakeManager(room=3)
    with pytest.raises(RuntimeError, match="queue is full"):
        compare.start_comparison(manager, "me", TrainConfig(), ["gae", "vgae"], 2, label=str)
    assert manager.stopped == [("job-1", "me", "stop"), ("job-2", "me", "stop"), ("job-3", "me", "stop")]


def test_a_comparison_refused_for_its_config_is_rolled_back_too():
    class Picky(FakeManager):
        def submit(self, owner, config, label, group, user=None):
            if config.model == "vgae":
                raise ConfigError({"model": "no"})
            return super().submit(owner, config, label, group, user)
    manager = Picky(room=10)
    with pytest.raises(ConfigError):
        compare.start_comparison(manager, "me", TrainConfig(), ["gae", "vgae"], 1, label=str)
    assert manager.stopped == [("job-1", "me", "stop")]


ROWS = [{"epoch": e, "discriminator_loss": 1.0, "d_real": 0.6, "d_fake": 0.4, "recon_loss": 2.0 - e / 10,
         "encoder_loss": 3.0, "val_auc": 0.8, "val_ap": 0.7} for e in range(1, 4)]


def test_curve_figures_take_their_final_options_as_arguments():
    plain = plots.discriminator_loss_figure({"GAE": [], "ARGVA": ROWS})
    assert len(plain.data) == 2 and plain.layout.height == 330
    below = plots.discriminator_loss_figure({"GAE": [], "ARGVA": ROWS}, drop_empty=True, legend_below=True)
    assert [t.name for t in below.data] == ["ARGVA"]
    # the legend at the figure's bottom edge, with room under the axis for two rows of it
    assert below.layout.height == 380
    assert below.layout.legend.yref == "container" and below.layout.legend.y == 0
    assert below.layout.margin.b == plain.layout.margin.b + plots.LEGEND_ROW
    assert below.data[0].line.color == plain.data[1].line.color  # ARGVA keeps its colour
    empty = plots.validation_figure({}, note="drawn live once you press Start", x_range=(0, 50), y_range=(0, 1))
    assert empty.layout.annotations[-1].text == "drawn live once you press Start"
    assert tuple(empty.layout.xaxis.range) == (0, 50) and tuple(empty.layout.yaxis.range) == (0, 1)


def test_the_reconstruction_figure_draws_one_solid_line_per_run():
    fig = plots.reconstruction_figure({"GAE": ROWS, "VGAE": ROWS, "ARGA": []})
    assert [t.name for t in fig.data] == ["GAE", "VGAE"]
    assert {t.line.dash for t in fig.data} == {"solid"} and list(fig.data[0].y) == [1.9, 1.8, 1.7]
    assert fig.layout.title.text == "Reconstruction loss (the term every model has)"


def test_a_saved_run_reads_as_a_job_that_cannot_be_controlled(tmp_path):
    from argae_core import runs
    from argae_core.saved_run import SavedRun
    from argae_core.training import Trainer
    config = TrainConfig(epochs=3, eval_interval=1, snapshot_interval=1)
    trainer = Trainer(config)
    writer = runs.RunWriter(config, trainer.graph, root=tmp_path)
    list(runs.record_run(trainer, writer))
    saved = SavedRun.load(writer.run_id, tmp_path)
    assert saved.active is False and saved.phases == () and saved.seconds_left() is None
    assert saved.epochs_done == 3 and saved.state == "finished" and not saved.live
    assert saved.label.startswith("ARGVA on ") and saved.config == config
    assert saved.reread(tmp_path) is saved       # over: not read again
    with pytest.raises(runs.RunError):
        SavedRun.load("no-such-run", tmp_path)


def test_start_problems_check_every_run_of_the_comparison():
    assert compare.start_problems(TrainConfig(), ["gae", "argva"], 2) == {}
    assert "models" in compare.start_problems(TrainConfig(), [], 2)
    last_seed = TrainConfig(seed=2**31 - 1)
    assert "seed" in compare.start_problems(last_seed, ["gae"], 2)     # the second seed is one too many
    assert compare.start_problems(last_seed, ["gae"], 1) == {}
    assert "seeds" in compare.start_problems(TrainConfig(), ["gae", "vgae"], 3, room=4)
