"""Steering the game mid-run: the engine applies a change between two epochs (the effective
setting moves from the next epoch on), every change is saved with the run, replays, and
reaches a training through the job manager's control path and the CLI."""
from __future__ import annotations

import json

import pytest

from argae_core import cli, runs, steering
from argae_core.config import TrainConfig
from argae_core.jobs import JobManager, ThreadExecutor
from argae_core.runs import RunWriter, load_run, record_run
from argae_core.steering import SteeringError
from argae_core.training import Trainer
from test_jobs import wait

CONFIG = TrainConfig(epochs=12, model="argva", discriminator_steps=2)


def test_a_change_takes_effect_from_the_next_epoch_and_is_recorded():
    trainer = Trainer(CONFIG)
    records = []
    for record in trainer:
        records.append(record)
        if record.epoch == 4:
            trainer.steer({"reg_weight": 0, "encoder_lr": 0.01, "discriminator_steps": 5})
        if record.epoch == 8:
            trainer.steer({"adversary": "off"})
    by_epoch = {r.epoch: r for r in records}
    assert by_epoch[4].reg_loss > 0 and by_epoch[5].reg_loss == 0      # weight 0 from epoch 5
    assert by_epoch[8].discriminator_loss is not None                   # D still played at 8
    assert by_epoch[9].discriminator_loss is None and by_epoch[9].reg_loss is None  # off from 9
    assert trainer.encoder_optimizer.param_groups[0]["lr"] == 0.01
    assert trainer.steering == [
        {"epoch": 5, "changes": {"reg_weight": [0.25, 0.0], "encoder_lr": [0.005, 0.01],
                                 "discriminator_steps": [2, 5]}},
        {"epoch": 9, "changes": {"adversary": [True, False]}}]
    assert steering.describe(trainer.steering[1]) == "epoch 9: adversary on -> off"
    at = steering.settings_at(CONFIG, trainer.steering, 4)
    assert at["reg_weight"] == 0.25 and steering.settings_at(CONFIG, trainer.steering, 5)["reg_weight"] == 0


def test_discriminator_steps_change_the_number_of_updates_from_the_next_epoch():
    trainer = Trainer(CONFIG.replace(epochs=4))
    trainer.step()
    trainer.steer({"discriminator_steps": 4})
    phases = []
    while isinstance(item := trainer.advance(), dict):   # then the epoch's record
        phases.append(item)
    assert [p["update"] for p in phases if p["phase"] == "discriminator"] == [1, 2, 3, 4]
    assert {p["updates"] for p in phases if p["phase"] == "discriminator"} == {4}  # step mode's "of N"


def test_a_change_sent_mid_epoch_leaves_that_epoch_s_count_alone():
    """Step mode stopped after D update 1 of 2: a change of the steps counts from the next
    epoch; the one under way still says "of 2"."""
    trainer = Trainer(CONFIG.replace(epochs=4))
    first = trainer.advance()
    trainer.steer({"discriminator_steps": 3})
    rest = []
    while isinstance(item := trainer.advance(), dict):
        rest.append(item)
    assert [(p["update"], p["updates"]) for p in [first, *rest] if p["phase"] == "discriminator"] == [(1, 2), (2, 2)]
    assert [(p["update"], p["updates"]) for p in trainer.epoch_phases() if isinstance(p, dict)
            and p["phase"] == "discriminator"] == [(1, 3), (2, 3), (3, 3)]


def test_the_updates_ahead_follow_the_history_and_what_is_pending():
    history = [{"epoch": 3, "changes": {"discriminator_steps": [2, 5]}}]
    assert steering.discriminator_updates_ahead(CONFIG, []) == 2
    assert steering.discriminator_updates_ahead(CONFIG, history) == 5
    assert steering.discriminator_updates_ahead(CONFIG, history, {"discriminator_steps": 1}) == 1
    assert steering.discriminator_updates_ahead(CONFIG, history, {"adversary": False}) == 0
    assert steering.discriminator_updates_ahead(CONFIG.replace(model="gae"), []) == 0


def test_a_replayed_history_trains_the_same_run():
    live = Trainer(CONFIG)
    for record in live:
        if record.epoch == 3:
            live.steer({"reg_weight": 2.0, "discriminator_lr": 0.01})
    replay = Trainer(CONFIG, plan=live.steering)
    replayed = [r.row()["encoder_loss"] for r in replay]
    assert replayed == [h["encoder_loss"] for h in live.history]
    assert replay.steering == live.steering
    unsteered = [r.row()["encoder_loss"] for r in Trainer(CONFIG)]
    assert unsteered[:3] == replayed[:3] and unsteered[3:] != replayed[3:]


@pytest.mark.parametrize("change, words", [
    ({"latent_size": 3}, "cannot be steered"), ({"reg_weight": -1}, "goes from 0"),
    ({"discriminator_steps": 2.5}, "whole number"), ({"adversary": "maybe"}, "on or off"),
    ({"encoder_lr": "fast"}, "not a number"), ({}, "at least one knob")])
def test_bad_changes_are_refused_with_a_message(change, words):
    with pytest.raises(SteeringError, match=words):
        Trainer(CONFIG).steer(change)


def test_a_model_without_a_discriminator_can_only_change_its_learning_rate():
    trainer = Trainer(TrainConfig(model="gae", epochs=3))
    with pytest.raises(SteeringError, match="no discriminator"):
        trainer.steer({"reg_weight": 1})
    trainer.steer({"encoder_lr": 0.02})
    list(trainer)
    assert trainer.steering == [{"epoch": 1, "changes": {"encoder_lr": [0.005, 0.02]}}]


def test_the_history_is_saved_with_the_run_and_shown_in_the_listing(tmp_path):
    trainer = Trainer(CONFIG)
    writer = RunWriter(CONFIG, trainer.graph, root=tmp_path)
    for record in record_run(trainer, writer):
        if record.epoch == 6:
            trainer.steer({"reg_weight": 1})
    run = load_run(writer.run_id, tmp_path)
    assert run.steering == [{"epoch": 7, "changes": {"reg_weight": [0.25, 1.0]}}]
    assert len(run.records) == 12   # records keep their columns; the history says the settings
    summary, = runs.list_runs(tmp_path)[0]
    assert summary.steered_at == "7"


def test_a_damaged_history_is_a_warning_not_a_failure(tmp_path):
    trainer = Trainer(CONFIG.replace(epochs=2))
    writer = RunWriter(CONFIG, trainer.graph, root=tmp_path)
    list(record_run(trainer, writer))
    (writer.path / "steering.json").write_text('{"changes": [{"epoch": 3, "changes": {"reg_weight": [1, 900]}}]}')
    run = load_run(writer.run_id, tmp_path)
    assert run.steering == [] and any("steering" in w for w in run.warnings)


def test_steering_reaches_a_job_through_the_manager():
    manager = JobManager(ThreadExecutor(slots=1), owner_timeout=60)
    try:
        job_id = manager.submit("alice", TrainConfig(epochs=10_000))
        wait(lambda: manager.get(job_id, "alice").epochs_done >= 3)
        manager.control(job_id, "alice", "pause")
        wait(lambda: manager.get(job_id, "alice").state == "paused")
        held = manager.get(job_id, "alice").epochs_done
        with pytest.raises(SteeringError):
            manager.steer(job_id, "alice", {"reg_weight": "x"})
        with pytest.raises(SteeringError):          # not bob's run
            manager.steer(job_id, "bob", {"reg_weight": 1})
        manager.steer(job_id, "alice", {"reg_weight": 1, "adversary": "off"})
        wait(lambda: manager.get(job_id, "alice").steer_from == held + 1)
        assert manager.get(job_id, "alice").steer_pending == {"reg_weight": 1.0, "adversary": False}
        manager.control(job_id, "alice", "step")
        wait(lambda: manager.get(job_id, "alice").epochs_done == held + 1)
        job = manager.get(job_id, "alice")
        assert job.steering == [{"epoch": held + 1, "changes": {"reg_weight": [0.25, 1.0], "adversary": [True, False]}}]
        assert job.steer_pending == {} and job.state == "paused"
        assert job.rows[held - 1]["discriminator_loss"] is not None and job.rows[held]["discriminator_loss"] is None
        manager.control(job_id, "alice", "stop")
        wait(lambda: not manager.get(job_id, "alice").active)
        assert load_run(job.run_id).steering == job.steering
    finally:
        manager.shutdown()


def test_the_cli_steers_from_a_plan(capsys):
    code = cli.main(["train", "--epochs", "8", "--no-save", "--json", "--steer", "5:reg_weight=1,adversary=off",
                     "--steer", "7:adversary=on"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["steering"] == [{"epoch": 5, "changes": {"reg_weight": [0.25, 1.0], "adversary": [True, False]}},
                               {"epoch": 7, "changes": {"adversary": [False, True]}}]


@pytest.mark.parametrize("plan, words", [("five:reg_weight=1", "EPOCH:knob=value"),
                                         ("300:reg_weight=1", "only 8 epochs"),
                                         ("3:speed=2", "cannot be steered")])
def test_the_cli_refuses_a_bad_plan_in_one_line(capsys, plan, words):
    code = cli.main(["train", "--epochs", "8", "--no-save", "--steer", plan])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CONFIG and words in err and len(err.strip().splitlines()) == 1
