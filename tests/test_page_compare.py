"""The Compare page under AppTest: two KarateClub models give a two-row table and a reading;
two seeds give mean ± std; no model selected shows an error and starts nothing; stop."""
from __future__ import annotations

import os

os.environ.setdefault("ARGAE_EXECUTOR", "thread")  # as in test_pages: no worker processes

from apptest_helpers import AppTest, button, open_page, run_until  # noqa: E402



def has_table(at: AppTest) -> bool:
    return any(s.value == "Test metrics" for s in at.subheader)


def reading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**What the table says**"))


def set_knobs(at: AppTest, epochs: int, repeats: int = 1) -> None:
    assert at.selectbox(key="cmp_dataset").value == "karate"
    assert at.multiselect(key="cmp_models").value == ["gae", "argva"]
    at.number_input(key="cmp_epochs").set_value(epochs)
    at.number_input(key="cmp_eval_interval").set_value(2)
    at.number_input(key="cmp_repeats").set_value(repeats)
    at.run()


def test_two_karate_models_give_a_two_row_table_and_a_reading():
    at = open_page("pages/compare.py")
    set_knobs(at, epochs=12)
    button(at, "Compare").click()
    at.run()
    state = at.session_state["compare"]
    assert len(state["jobs"]) == 2 and state["group"].startswith("cmp-")
    # the table is drawn by the run that sees the jobs end; the buttons by the one after
    run_until(at, lambda a: has_table(a) and not button(a, "Compare").disabled)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["GAE", "ARGVA"]
    assert {"AUC", "AP", "ACC", "NMI", "ARI", "MMD to prior"} <= set(table.columns)
    assert all("±" not in str(v) for v in table["AUC"])
    for column in ("AUC", "MMD to prior"):  # exactly one best per column unless tied
        assert sum(str(v).endswith("★") for v in table[column]) >= 1
    said = reading(at)
    assert "N(0, I)" in said and "MMD" in said and "One seed only" in said
    # a latent picture per model; validation, reconstruction, D loss, D verdict, encoder loss parts
    assert len(at.get("plotly_chart")) == 2 + 5
    assert button(at, "Stop").disabled

    # Leaving the page and coming back keeps the comparison.
    at.switch_page("pages/home.py")
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    assert has_table(at) and at.session_state["compare"]["jobs"] == state["jobs"]


def test_two_seeds_give_mean_and_std():
    at = open_page("pages/compare.py")
    set_knobs(at, epochs=6, repeats=2)
    button(at, "Compare").click()
    at.run()
    assert at.session_state["compare"]["seeds"] == [0, 1]
    assert len(at.session_state["compare"]["jobs"]) == 4
    run_until(at, has_table)
    table = at.dataframe[0].value
    assert len(table) == 2
    assert all("±" in str(v) for v in table["AUC"])
    assert "seed-to-seed std" in reading(at) and "One seed only" not in reading(at)


def test_no_model_selected_shows_an_error_and_starts_nothing():
    at = open_page("pages/compare.py")
    at.multiselect(key="cmp_models").set_value([])
    at.run()
    assert any("pick at least one model" in e.value for e in at.error)
    assert button(at, "Compare").disabled
    assert "compare" not in at.session_state


def test_stop_ends_every_run_of_the_comparison():
    at = open_page("pages/compare.py")
    set_knobs(at, epochs=5000)
    button(at, "Compare").click()
    run_until(at, lambda a: not button(a, "Stop").disabled)
    button(at, "Stop").click()
    run_until(at, has_table)
    table = at.dataframe[0].value
    assert all("stopped" in note for note in table["runs"])
    assert "stopped early" in reading(at)
