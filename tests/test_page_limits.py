"""The Train page refuses settings that ask for the impossible, before any work starts."""
from __future__ import annotations

import time

from apptest_helpers import button, open_page


def test_a_planted_partition_too_big_is_refused_in_the_page_with_number_and_limit():
    at = open_page("pages/train.py", {"dataset": "planted", "planted_p_in": "1.0"})
    started = time.perf_counter()
    at.number_input(key="w_planted_nodes").set_value(200_000).run()
    assert time.perf_counter() - started < 30, "the page tried to draw the graph"
    assert not at.exception
    said = [e.value for e in at.error]
    # sampling auto: a graph this size would train sampled, so the sampled limit is the one named
    assert "5,059,900,000 edges" in said[0] and "limit of 12,000,000" in said[0], said
    # said once, with the memory it would need (it was two messages saying one refusal)
    assert len(said) == 1 and "GB of memory" in said[0], said
    assert button(at, "Start").disabled


def test_a_planted_partition_that_fits_again_is_estimated_not_refused():
    at = open_page("pages/train.py", {"dataset": "planted"})
    at.number_input(key="w_planted_nodes").set_value(200_000).run()
    assert at.error and button(at, "Start").disabled
    at.number_input(key="w_planted_nodes").set_value(2_000).run()
    assert not at.error, [e.value for e in at.error]
    assert any("Estimate" in c.value for c in at.caption), [c.value for c in at.caption]
    assert not button(at, "Start").disabled


def test_a_link_asking_for_too_big_a_graph_says_why_it_was_not_used():
    at = open_page("pages/train.py", {"dataset": "planted", "planted_nodes": "200000", "planted_p_in": "1.0"})
    said = " ".join(w.value for w in at.warning)
    assert "could not be used" in said and "limit of 12,000,000" in said, said
