"""The Train page's Steer panel (AppTest): a change made mid-run moves the run's effective
setting from the next epoch on and leaves a marker on every live chart; a saved run's link
says it was steered."""
from __future__ import annotations

import json

from apptest_helpers import AppTest, button, open_page, run_until

from argae_core import runs
from argae_core.config import TrainConfig


def epochs_shown(at: AppTest) -> int:
    return int({m.label: m.value for m in at.metric}.get("Epoch", 0))


def card(at: AppTest, label: str) -> str:
    return {m.label: m.value for m in at.metric}[label]


def marker_lines(chart) -> list[tuple[float, str]]:
    layout = json.loads(chart.proto.spec)["layout"]
    texts = [a["text"] for a in layout.get("annotations", []) if a.get("text", "").startswith("epoch ")]
    xs = [s["x0"] for s in layout.get("shapes", []) if s.get("line", {}).get("dash") == "dash"]
    return list(zip(xs, texts))


def test_a_change_mid_run_applies_from_the_next_epoch_and_leaves_a_marker():
    at = open_page("pages/train.py", {"epochs": "5000"})
    button(at, "Start").click()
    run_until(at, lambda a: epochs_shown(a) >= 3)
    button(at, "Pause").click()
    at.run()
    run_until(at, lambda a: any(b.label == "Resume" for b in a.button))
    held = epochs_shown(at)
    job_id = at.session_state["train_job"]
    assert card(at, "D(z)") != "-"
    at.number_input(key=f"steer_{job_id}_reg_weight").set_value(1.0)
    at.toggle(key=f"steer_{job_id}_adversary").set_value(False)
    button(at, "Apply from the next epoch").click()
    at.run()
    assert any("Sent: regulariser weight -> 1; adversary -> off" in s.value for s in at.success)
    run_until(at, lambda a: any("Queued, in effect from epoch" in c.value for c in a.caption))
    assert epochs_shown(at) == held   # paused: nothing in effect yet
    button(at, "Step").click()
    run_until(at, lambda a: epochs_shown(a) == held + 1 and not any("Queued" in c.value for c in a.caption))
    label = f"epoch {held + 1}: regulariser weight 0.25 -> 1; adversary on -> off"
    charts = at.get("plotly_chart")
    assert len(charts) == 4 and all(marker_lines(c) == [(held + 1, label)] for c in charts)
    assert card(at, "D(z)") == "-" and card(at, "Discriminator loss") == "-"   # no D step from that epoch
    button(at, "Stop").click()
    run_until(at, lambda a: not button(a, "Start").disabled)
    summary = next(r for r in runs.list_runs()[0] if r.steered_at)
    run = runs.load_run(summary.run_id)
    assert run.steering == [{"epoch": held + 1, "changes": {"reg_weight": [0.25, 1.0], "adversary": [True, False]}}]
    assert run.records["discriminator_loss"].notna().tolist()[:held + 1] == [True] * held + [False]

    shared = open_page("pages/train.py", {"run": summary.run_id})   # the run's shareable link
    assert any(f"**Steered** while it trained: {label}." in w.value for w in shared.warning)
    assert all(marker_lines(c) == [(held + 1, label)] for c in shared.get("plotly_chart"))


def test_the_panel_refuses_what_the_model_cannot_change():
    at = open_page("pages/train.py", {"epochs": "5000", "model": "gae"})
    button(at, "Start").click()
    run_until(at, lambda a: epochs_shown(a) >= 2)
    job_id = at.session_state["train_job"]
    steer_keys = [w.key for w in at.number_input if w.key.startswith("steer_")]
    assert steer_keys == [f"steer_{job_id}_encoder_lr"] and not at.toggle   # no D, no regulariser
    at.number_input(key=f"steer_{job_id}_encoder_lr").set_value(0.01)
    button(at, "Apply from the next epoch").click()
    at.run()
    run_until(at, lambda a: a.get("plotly_chart") and marker_lines(a.get("plotly_chart")[0]))
    assert "encoder learning rate 0.005 -> 0.01" in marker_lines(at.get("plotly_chart")[0])[0][1]
    button(at, "Stop").click()
    run_until(at, lambda a: not button(a, "Start").disabled)


def test_the_runs_page_shows_where_a_run_was_steered(tmp_path, monkeypatch):
    from argae_core.training import Trainer
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(tmp_path))
    config = TrainConfig(epochs=10)
    trainer = Trainer(config)
    writer = runs.RunWriter(config, trainer.graph, source="test")
    for record in runs.record_run(trainer, writer):
        if record.epoch in (3, 6):
            trainer.steer({"reg_weight": record.epoch / 3})
    at = open_page("pages/runs.py")
    table = next(d.value for d in at.dataframe if "steered at" in d.value.columns)
    assert table["steered at"].tolist() == ["4, 7"]
    assert any("**Steered** while it trained: epoch 4: regulariser weight 0.25 -> 1 · "
               "epoch 7: regulariser weight 1 -> 2" in w.value for w in at.warning)
    charts = at.get("plotly_chart")
    assert len(charts) == 4 and all([x for x, _ in marker_lines(c)] == [4, 7] for c in charts)
    script = next(b for b in at.get("download_button") if b.label == "Script to retrain (Python)")
    assert not script.disabled
