"""The dashboard's pages (app.py lists them with st.navigation).

`page_setup` lives here, not in `common`, because it must run before a page imports the
engine: importing torch and PyG takes seconds on a fresh server, and until `page_setup`
runs, a deep link is shown in Streamlit's pages/-folder mode (every file listed as a page).
"""
from __future__ import annotations

import threading

import streamlit as st

from pages import internals


def page_setup() -> None:
    """First call of every page. A folder named pages/ makes Streamlit start in its old
    multipage mode: a deep link such as /train on a fresh server would run that page alone,
    without app.py's navigation, page config and heartbeat. Switch the server to app.py's
    st.navigation and rerun, so the link opens as intended. (Not at import time: a rerun
    raised during an import breaks a second session importing the module at that moment.)"""
    if not internals.real_server():
        return  # AppTest: it runs pages directly on purpose
    if internals.in_pages_folder_mode():
        internals.leave_pages_folder_mode()
        st.rerun()


# ------------------------------------------------------------------ the engine
# Importing the engine (torch, PyG, scikit-learn) takes 5-15 s on a fresh server. app.py
# starts it in a thread on the first visit, so pages that do not need it (Home) show at once;
# a page that needs it says so while it waits (`engine_loading_note`).
_ENGINE_LOADED = threading.Event()
_ENGINE_LOCK = threading.Lock()
_engine_thread: threading.Thread | None = None


def load_engine_in_background() -> None:
    """Once per server: import pages.common (the engine with it) in a thread. Its background
    services (job manager, workers, projection warm-up) start on the first script run after
    (they are `st.cache_resource`s: a script thread's business)."""
    global _engine_thread
    with _ENGINE_LOCK:
        if _engine_thread is not None:
            return

        def load() -> None:
            try:
                from pages import common  # noqa: F401
            finally:
                _ENGINE_LOADED.set()
        _engine_thread = threading.Thread(target=load, name="engine-import", daemon=True)
        _engine_thread.start()


def engine_ready() -> bool:
    return _ENGINE_LOADED.is_set()


def engine_loading_note():
    """An info box while the engine is still importing (None once it is loaded): call it
    before the page's engine imports and `.empty()` the box after them."""
    if engine_ready() or not internals.real_server():
        return None  # loaded, or AppTest (which imports the engine with the page)
    return st.info("Loading the engine (torch, PyTorch Geometric): on a server's first visit "
                   "this takes a few seconds; the page appears when it is ready.",
                   icon=":material/hourglass_top:")
