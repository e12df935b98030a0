"""TrainConfig: validation names the field at fault; dict / JSON / query round trips."""
import json

import pytest

from argae_core.config import FIELDS, MODEL_KINDS, ConfigError, TrainConfig


def problems_of(**changes) -> dict:
    return TrainConfig(**changes).problems()


def test_defaults_are_valid_for_every_model_kind():
    for kind in MODEL_KINDS:
        assert TrainConfig(model=kind).problems() == {}


@pytest.mark.parametrize("changes, field, words", [
    ({"latent_size": 0}, "latent_size", "at least 1"),
    ({"encoder_lr": -0.01}, "encoder_lr", "at least"),
    ({"discriminator_lr": float("nan")}, "discriminator_lr", "finite"),
    ({"model": "gan"}, "model", "unknown value 'gan'"),
    ({"dataset": "imagenet"}, "dataset", "unknown dataset 'imagenet'"),
    ({"model": "gae", "kl_weight": 0.5}, "kl_weight", "not variational"),
    ({"model": "arga", "kl_weight": 0.5}, "kl_weight", "not variational"),
    ({"model": "vgae", "reg_weight": 1.0}, "reg_weight", "no discriminator"),
    ({"model": "gae", "reg_weight": 1.0}, "reg_weight", "no discriminator"),
    ({"epochs": 1.5}, "epochs", "whole number"),
    ({"features": "tfidf"}, "features", "unknown value"),
    ({"dataset": "planted", "planted_p_in": 0.0, "planted_p_out": 0.0}, "planted_p_in", "no edges"),
    ({"planted_nodes": 20, "planted_communities": 30}, "planted_communities", "more communities"),
    ({"sampling": "minibatch"}, "sampling", "choose one of auto, full, sampled"),
    ({"batch_nodes": 10}, "batch_nodes", "at least 64"),
    ({"batch_nodes": 2.5}, "batch_nodes", "whole number"),
    ({"sample_threshold": 0}, "sample_threshold", "at least 1"),
    ({"planted_nodes": 2_000_000}, "planted_nodes", "at most 1000000"),
])
def test_each_bad_value_is_reported_under_its_field(changes, field, words):
    found = problems_of(**changes)
    assert field in found, found
    assert words in found[field]


def test_weights_allowed_where_the_model_has_the_term():
    assert problems_of(model="argva", kl_weight=0.5, reg_weight=2.0) == {}
    assert problems_of(model="vgae", kl_weight=0.0) == {}
    assert problems_of(model="arga", reg_weight=0.0) == {}


def test_validate_raises_config_error_with_all_problems():
    with pytest.raises(ConfigError) as caught:
        TrainConfig(latent_size=0, encoder_lr=-1.0).validate()
    assert set(caught.value.problems) == {"latent_size", "encoder_lr"}
    assert "latent_size" in str(caught.value)


def test_effective_weights_follow_the_model_kind():
    assert TrainConfig(model="gae").effective_reg_weight() == 0.0
    assert TrainConfig(model="arga", reg_weight=None).effective_reg_weight() > 0
    assert TrainConfig(model="arga", reg_weight=0.25).effective_reg_weight() == 0.25
    assert TrainConfig(model="arga").effective_kl_weight(100) == 0.0
    assert TrainConfig(model="vgae").effective_kl_weight(100) == pytest.approx(0.01)
    assert TrainConfig(model="argva", kl_weight=2.0).effective_kl_weight(100) == 2.0


def test_from_dict_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"latent": 8, "epochs": "many", "encoder_lr": [1]})
    assert set(caught.value.problems) == {"latent", "epochs", "encoder_lr"}
    assert caught.value.problems["latent"] == "unknown setting"
    assert "whole number" in caught.value.problems["epochs"]


def test_from_dict_coerces_text_and_integral_floats():
    config = TrainConfig.from_dict({"epochs": "30", "latent_size": 8.0, "encoder_lr": "0.01"})
    assert (config.epochs, config.latent_size, config.encoder_lr) == (30, 8, 0.01)
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({"epochs": 2.5})
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({"epochs": True})


def test_from_dict_is_lenient_about_unknown_keys_when_asked():
    assert TrainConfig.from_dict({"epochs": 3, "colour": "red"}, strict=False).epochs == 3


def changed_config() -> TrainConfig:
    return TrainConfig(dataset="planted", model="arga", latent_size=8, encoder_lr=0.02,
                       reg_weight=0.5, planted_signal=2.5, seed=7)


def test_dict_round_trip():
    config = changed_config()
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_json_round_trip_and_bad_json():
    config = changed_config()
    assert TrainConfig.from_json(config.to_json()) == config
    assert json.loads(config.to_json())["model"] == "arga"
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_json("{not json")
    assert "json" in caught.value.problems
    with pytest.raises(ConfigError):
        TrainConfig.from_json("[1, 2]")


def test_query_round_trip_keeps_only_changes():
    config = changed_config()
    query = config.to_query()
    assert set(query) == {"dataset", "model", "latent_size", "encoder_lr", "reg_weight",
                          "planted_signal", "seed"}
    assert all(isinstance(v, str) for v in query.values())
    assert TrainConfig.from_query(query) == config
    assert TrainConfig().to_query() == {}


def test_query_empty_string_means_default_weight():
    config = TrainConfig.from_query({"model": "argva", "kl_weight": ""})
    assert config.kl_weight is None


def test_from_query_validates():
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_query({"latent_size": "0"})
    assert "latent_size" in caught.value.problems


def test_every_field_has_help_and_consistent_bounds():
    for name, f in FIELDS.items():
        assert f.metadata["help"], name
        lo, hi = f.metadata["min"], f.metadata["max"]
        if lo is not None and hi is not None:
            assert lo <= hi, name
        if f.default is not None and f.metadata["choices"]:
            assert f.default in f.metadata["choices"], name


# ------------------------------------------------------------- issue 14: every path refuses
@pytest.mark.parametrize("text, field", [
    ('{"encoder_lr": 1' + "0" * 400 + "}", "encoder_lr"),     # OverflowError in float()
    ('{"planted_p_in": 1' + "0" * 400 + "}", "planted_p_in"),  # OverflowError in isfinite()
    ('{"epochs": 1' + "0" * 400 + "}", "epochs"),
    ('{"epochs": 1' + "0" * 5000 + "}", "json"),               # over Python's 4,300 digits
    ("[" * 100_000 + "]" * 100_000, "json"),                   # RecursionError
])
def test_from_json_refuses_huge_numbers_and_deep_nesting_with_the_field(text, field):
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_json(text).validate()
    assert field in caught.value.problems
    assert len(str(caught.value)) < 300, "the message quotes the whole number"


@pytest.mark.parametrize("name", ["planted_nodes", "planted_communities", "epochs", "model"])
def test_none_for_a_required_field_is_a_config_error(name):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(**{name: None}).validate()
    assert caught.value.problems[name] == "is required"


def test_from_dict_refuses_a_non_mapping_and_non_text_keys():
    with pytest.raises(ConfigError):
        TrainConfig.from_dict([("epochs", 3)])
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({1: 2, "epochs": 3})
    assert caught.value.problems == {"1": "unknown setting"}


@pytest.mark.parametrize("changes", [
    {"planted_nodes": 200_000, "planted_p_in": 1.0},   # ~5e9 edges
    {"planted_nodes": 20_000},                         # ~4.6e6 edges at the default p_in
])
def test_a_planted_partition_too_big_for_memory_is_refused_with_number_and_limit(changes):
    found = problems_of(dataset="planted", **changes)
    assert "planted_nodes" in found, found
    assert "edges" in found["planted_nodes"] and "limit of" in found["planted_nodes"]


def big_planted(nodes: int, **changes) -> dict:
    """Degree about 10, 10 communities (benchmarks/bench_scaling.py's graphs)."""
    return problems_of(**{"dataset": "planted", "planted_nodes": nodes, "planted_communities": 10,
                          "planted_p_in": 8 / (nodes / 10), "planted_p_out": 2 / (nodes * 0.9), **changes})


def test_full_batch_refuses_a_million_nodes_that_sampled_training_takes():
    assert big_planted(1_000_000) == {}  # auto: sampled above the threshold
    assert big_planted(1_000_000, sampling="sampled") == {}
    full = big_planted(1_000_000, sampling="full")["planted_nodes"]
    assert "over the limit of 2,000,000 for full-batch" in full and "4,999,960 edges" in full
    assert "set sampling to sampled" in full
    # auto with a threshold above the graph trains full-batch: the same refusal
    assert "full-batch" in big_planted(1_000_000, sample_threshold=2_000_000)["planted_nodes"]
    # beyond the sampled limit too: refused whatever the mode, without advice to sample
    huge = big_planted(1_000_000, planted_p_in=0.002)["planted_nodes"]
    assert "limit of 12,000,000" in huge and "sampling" not in huge


def test_sampled_for_follows_the_mode_and_the_threshold():
    config = TrainConfig(sample_threshold=50_000)
    assert not config.sampled_for(50_000) and config.sampled_for(50_001)
    assert config.replace(sampling="sampled").sampled_for(34)
    assert not config.replace(sampling="full").sampled_for(10**6)


def test_planted_size_is_only_checked_when_the_planted_graph_is_used():
    assert problems_of(dataset="karate", planted_nodes=200_000, planted_p_in=1.0) == {}


# ------------------------------------------------------------ which models use a knob
from argae_core.config import (FIELDS, USED_BY, applies, knobs_used, unused_settings,  # noqa: E402
                               used_by_any)


def test_every_knob_names_the_model_kinds_that_use_it():
    assert {f.metadata["used_by"] for f in FIELDS.values()} <= set(USED_BY)
    adversarial_only = {"discriminator_hidden", "discriminator_lr", "discriminator_steps", "reg_weight"}
    for name in FIELDS:
        assert applies(name, "argva") is True  # ARGVA has every term
        assert applies(name, "arga") is (name != "kl_weight")
        assert applies(name, "vgae") is (name not in adversarial_only)
        assert applies(name, "gae") is (name not in adversarial_only | {"kl_weight"})
    assert knobs_used("gae") == [n for n in FIELDS if n not in adversarial_only | {"kl_weight"}]


def test_a_shared_sidebar_shows_a_knob_when_any_model_uses_it():
    assert used_by_any("kl_weight", ["gae", "vgae"]) and not used_by_any("kl_weight", ["gae", "arga"])
    assert used_by_any("reg_weight", ["arga"]) and not used_by_any("reg_weight", [])


def test_without_unused_empties_the_weights_a_model_has_no_term_for():
    both = TrainConfig(reg_weight=2.0, kl_weight=0.5)
    assert both.replace(model="gae").without_unused().to_dict() == {
        **both.to_dict(), "model": "gae", "reg_weight": None, "kl_weight": None}
    assert both.replace(model="vgae").without_unused().kl_weight == 0.5
    assert both.replace(model="vgae").without_unused().reg_weight is None
    assert both.replace(model="arga").without_unused().reg_weight == 2.0
    assert both.without_unused() == both
    # what a model does not use but is required stays as it is (harmless, never empty)
    assert TrainConfig(model="gae", discriminator_lr=0.01).without_unused().discriminator_lr == 0.01
    for model in ("gae", "vgae", "arga", "argva"):
        assert both.replace(model=model).without_unused().problems() == {}


def test_unused_settings_of_a_run():
    assert unused_settings(TrainConfig(model="argva", dataset="planted")) == set()
    gae = unused_settings(TrainConfig(model="gae"))
    assert {"reg_weight", "kl_weight", "discriminator_lr", "planted_nodes"} <= gae
    assert "encoder_lr" not in gae and "dataset" not in gae
    assert unused_settings(TrainConfig(model="vgae", dataset="planted")) == {
        "discriminator_hidden", "discriminator_lr", "discriminator_steps", "reg_weight"}
