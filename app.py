"""ARGAE Lab: entry point. Page config, navigation, and the session heartbeat; nothing heavy."""
import streamlit as st

st.set_page_config(page_title="ARGAE Lab", page_icon="assets/icon.svg", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
]
# Navigation first: until it is sent, the browser lists every file of pages/ as a page, and
# the first import of the engine (torch, PyG) below takes seconds on a fresh server.
navigation = st.navigation(PAGES)

import pages  # noqa: E402  (after the navigation on purpose; light: no torch)
from pages import signin  # noqa: E402  (light too)

signin.require_sign_in()   # with sign-in configured, nothing else shows until the visitor signs in

# The page helpers import in a thread, after the first page's run (that run comes first);
# the services (workers, graph summaries, umap warm-up) start on the run after, in processes
# of lower priority. Torch is imported only there: Home and Train need none of it here.
if pages.engine_ready():
    from pages import common
    common.start_background_services()
    common.heartbeat()
try:
    navigation.run()
finally:
    pages.load_engine_in_background()
