"""The one sidebar builder (pages/knobs.draw): which knobs it draws follows config.applies."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def script():
    import streamlit as st

    from argae_core.config import TrainConfig
    from pages import knobs
    from pages.knobs import LOGGING, PLANTED, Section
    case = st.session_state["case"]
    sections = (Section(None, ("features",)), Section("Planted partition", PLANTED, fold="open"),
                Section("Model", ("model",) * ("models" not in case) + ("latent_size", "discriminator_hidden")),
                Section("Training", ("epochs", "reg_weight", "kl_weight")),
                Section("Logging and device", LOGGING, fold="closed"))
    with st.sidebar:
        st.session_state["values"] = knobs.draw(TrainConfig(model=case.get("model", "argva")), sections,
                                                models=case.get("models"), dataset=case.get("dataset"),
                                                skip=case.get("skip", ()), labels={"reg_weight": "Regulariser weight"})


def drawn(**case):
    at = AppTest.from_function(script)
    at.session_state["case"] = case
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at, set(at.session_state["values"])


def test_a_model_widget_decides_the_knobs_after_it():
    at, names = drawn(model="gae")
    assert names == {"features", "model", "latent_size", "epochs",
                     *("eval_interval", "snapshot_interval", "snapshot_nodes", "device")}
    at.selectbox(key="w_model").set_value("argva").run()
    assert {"discriminator_hidden", "reg_weight", "kl_weight"} <= set(at.session_state["values"])
    assert at.number_input(key="w_reg_weight").label == "Regulariser weight"
    assert [h.value for h in at.sidebar.header] == ["Model", "Training"]


def test_several_models_show_a_knob_any_of_them_uses_and_skip_what_another_widget_holds():
    _, names = drawn(models=["gae", "vgae"])
    assert "kl_weight" in names and "reg_weight" not in names and "discriminator_hidden" not in names
    _, names = drawn(models=["gae", "arga"], skip=("reg_weight",))
    assert "discriminator_hidden" in names and "reg_weight" not in names and "kl_weight" not in names
    _, names = drawn(models=[])
    assert "discriminator_hidden" not in names and "kl_weight" not in names


def test_planted_knobs_only_for_the_planted_partition():
    at, names = drawn(dataset="planted")
    assert set(names) >= {"planted_nodes", "planted_signal"}
    assert [e.label for e in at.sidebar.expander][:1] == ["Planted partition"]
    _, names = drawn(dataset="karate")
    assert not any(n.startswith("planted_") for n in names)
