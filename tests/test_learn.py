"""The Learn page, the guided-experiment presets, and links that carry a configuration."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

os.environ.setdefault("ARGAE_EXECUTOR", "thread")  # trainings in this process: no worker spawn

from apptest_helpers import AppTest, open_page  # noqa: E402

from argae_core.config import TrainConfig  # noqa: E402
from argae_core.presets import BASE, COMPARISONS, PRESETS, preset  # noqa: E402
from argae_core.training import Trainer  # noqa: E402

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def widget_values(at: AppTest) -> dict:
    """The Train page's sidebar widgets (keys w_<field>) as field -> value."""
    out = {}
    for kind in ("number_input", "selectbox"):
        for widget in getattr(at.sidebar, kind):
            if widget.key and widget.key.startswith("w_"):
                out[widget.key[2:]] = widget.value
    return out


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
    return a == b


# ------------------------------------------------------------------ the page
def test_learn_page_renders_the_idea_the_losses_and_the_diagram():
    at = open_page("pages/learn.py")
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Learn"
    formulas = " ".join(x.value for x in at.latex)
    for term in (r"\mathcal L_D", r"\mathcal L_{\text{recon}}", r"\mathcal L_{\text{reg}}",
                 r"\mathcal L_{\text{KL}}", r"\min_{\text{encoder}}", r"\lambda_{\text{KL}}"):
        assert term in formulas
    assert at.get("image"), "the architecture diagram is missing"
    assert len([b for b in at.button if b.key and b.key.startswith("preset_")]) == len(PRESETS) + len(COMPARISONS)


def test_the_diagram_uses_the_train_page_knob_names():
    svg = (Path(APP).parent / "assets" / "architecture.svg").read_text()
    for label in ("Encoder hidden", "Latent size", "Discriminator hidden", "Discriminator steps",
                  "Regulariser weight", "KL weight"):
        assert f">{label}<" in svg


# ------------------------------------------------------------------ presets
@pytest.mark.parametrize("p", PRESETS, ids=lambda p: p.name)
def test_each_preset_validates_and_changes_what_it_names(p):
    config = p.config()
    assert config.problems() == {}
    assert p.watch and p.title
    for name, value in {**BASE, **p.changes}.items():
        assert getattr(config, name) == value
    assert config.dataset != "cora" or "Cora" in p.watch


def test_preset_names_are_unique_and_looked_up():
    assert len({p.name for p in PRESETS}) == len(PRESETS)
    assert preset("starved_discriminator").config().discriminator_steps == 1
    with pytest.raises(KeyError, match="known"):
        preset("nope")


@pytest.mark.parametrize("p", PRESETS, ids=lambda p: p.name)
def test_clicking_a_preset_opens_train_with_its_values(p):
    at = open_page("pages/learn.py")
    at.button(key=f"preset_{p.name}").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Train"
    shown = widget_values(at)
    expected = p.config().to_dict()
    for name, value in {**BASE, **p.changes}.items():
        if name == "discriminator_steps" and not p.config().adversarial:
            continue  # GAE / VGAE show no discriminator widgets; the URL check below covers it
        assert same(shown[name], expected[name]), (name, shown[name], value)
    assert any(p.watch in i.value for i in at.info)
    assert dict(at.query_params) == p.config().to_query()  # the link to share is the preset


def test_a_preset_replaces_earlier_widget_values():
    at = open_page("pages/train.py")
    at.number_input(key="w_discriminator_steps").set_value(7)
    at.run()
    at.switch_page("pages/learn.py")
    at.run()
    at.button(key="preset_starved_discriminator").click()
    at.run()
    assert at.number_input(key="w_discriminator_steps").value == 1


def test_a_link_with_settings_opens_train_with_those_values():
    starved = preset("starved_discriminator").config()
    at = open_page("pages/train.py", starved.to_query())
    assert not at.warning, [w.value for w in at.warning]
    shown = widget_values(at)
    for name in ("dataset", "model", "discriminator_steps", "discriminator_lr"):
        assert same(shown[name], getattr(starved, name)), name
    assert shown["discriminator_steps"] == 1


# ------------------------------------------- the "what to watch" claims, briefly


def verdicts(config: TrainConfig) -> list[tuple[float, float, float]]:
    return [(r.d_real, r.d_fake, r.discriminator_loss) for r in Trainer(config)]


def test_starved_discriminator_keeps_guessing(one_thread):
    rows = verdicts(preset("starved_discriminator").config().replace(epochs=30))
    assert all(0.4 < real < 0.6 and 0.4 < fake < 0.6 for real, fake, _ in rows)
    assert abs(rows[-1][2] - 2 * math.log(2)) < 0.1


def test_overpowered_discriminator_wins_from_epoch_two(one_thread):
    config = preset("overpowered_discriminator").config().replace(epochs=10)
    rows = verdicts(config)
    assert all(real > 0.95 and fake < 0.05 for real, fake, _ in rows[1:])
    default_judge = verdicts(config.replace(discriminator_steps=5, discriminator_lr=0.001))
    assert not (default_judge[-1][0] > 0.95 and default_judge[-1][1] < 0.05)


def test_without_the_regulariser_the_judge_wins(one_thread):
    config = preset("regulariser_off").config().replace(epochs=40)
    real, fake, _ = verdicts(config)[-1]
    assert real > 0.95 and fake < 0.05
    real, fake, _ = verdicts(preset("argva").config().replace(epochs=40))[-1]
    assert real < 0.9 and fake > 0.1


# ------------------------------------------------------------------ comparisons
@pytest.mark.parametrize("p", COMPARISONS, ids=lambda p: p.name)
def test_clicking_a_comparison_opens_compare_with_its_models_seeds_and_knobs(p):
    at = open_page("pages/compare.py")
    at.multiselect(key="cmp_models").set_value(["vgae"])  # earlier choices are replaced
    at.run()
    at.switch_page("pages/learn.py")
    at.run()
    at.button(key=f"preset_{p.name}").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Compare"
    assert at.multiselect(key="cmp_models").value == list(p.compare)
    assert at.number_input(key="cmp_repeats").value == p.seeds
    assert at.number_input(key="cmp_latent_size").value == p.config().latent_size
    assert at.selectbox(key="cmp_dataset").value == "cora"
    assert any(p.watch in i.value for i in at.info)


@pytest.mark.slow
def test_at_latent_8_argva_s_z_is_closer_to_the_prior_than_gae_s_and_at_64_it_is_not(cora_available, one_thread):
    """The two comparisons' claims on seed 0 (their notes quote 5 seeds): a fresh classifier
    tells ARGVA's latent-8 Z from the prior clearly less often than GAE's; at 64 both ~always."""
    def c2st(p, model):
        trainer = Trainer(p.config().replace(model=model, reg_weight=None, kl_weight=None))
        for _ in trainer:
            pass
        return trainer.final_metrics()["c2st"]
    at_work, idle = preset("regulariser_at_work"), preset("regulariser_idle")
    assert c2st(at_work, "gae") - c2st(at_work, "argva") > 0.05
    assert min(c2st(idle, "gae"), c2st(idle, "argva")) > 0.95


def test_the_2d_game_stays_near_equilibrium_while_a_fresh_classifier_sees_more(one_thread):
    trainer = Trainer(preset("two_d_latent").config())
    last = list(trainer)[-1]
    assert 0.4 < last.d_fake < 0.5 < last.d_real < 0.65
    assert trainer.final_metrics()["c2st"] > 0.65
