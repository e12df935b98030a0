"""The Streamlit internals pages/internals.py relies on (no documented API does these jobs in
Streamlit 1.67). If a new Streamlit moves one, these fail by name, before a user meets it."""
from __future__ import annotations

import inspect

from streamlit.testing.v1 import AppTest


def test_the_internals_are_where_pages_internals_looks_for_them():
    from streamlit.runtime import Runtime
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    assert callable(Runtime.exists) and callable(Runtime.instance)
    assert list(inspect.signature(Runtime.is_active_session).parameters) == ["self", "session_id"]
    assert "uses_pages_directory" in vars(PagesManager)   # a class attribute the server reads
    assert "get_pages" in vars(PagesManager)
    assert get_script_run_ctx() is None                   # outside a script run


def script():
    import streamlit as st

    from pages import internals
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    pages = list(get_script_run_ctx().pages_manager.get_pages().values())
    st.session_state["seen"] = {
        "session": internals.session_id(), "real": internals.real_server(),
        "folder": internals.in_pages_folder_mode(), "alive": internals.session_alive("nobody"),
        "page_keys": sorted(pages[0]) if pages else []}


def test_under_a_test_runtime_the_internals_answer_as_the_pages_expect():
    at = AppTest.from_function(script)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    seen = at.session_state["seen"]
    assert seen["session"] and seen["session"] != "no-session"
    assert seen["real"] is False            # page_setup and the loading note stand aside
    assert seen["folder"] is False
    assert seen["alive"] in (False, None)   # an unknown session is not alive
    assert "script_path" in seen["page_keys"]


def test_outside_a_script_run_there_is_no_session():
    from pages import internals
    assert internals.session_id() == "no-session"
    assert internals.session_alive("x") is None
    assert internals.in_pages_folder_mode() in (True, False)
