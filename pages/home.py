"""Home: what ARGA / ARGVA do, in a few lines, and where to go."""
import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

st.title("ARGAE Lab")
st.markdown(
    """
Watch **adversarially regularized graph autoencoders** learn.

A graph autoencoder encodes every node into a latent vector **z** with a graph convolutional
network and learns to rebuild the graph's edges from inner products **z_i · z_j**.
**ARGA / ARGVA** (Pan et al., IJCAI 2018) add a second player: a **discriminator** that learns
to tell samples of the prior **N(0, I)** ("real") from node embeddings ("fake"), while the
encoder is pushed to fool it. The latent cloud **Z** is pulled toward the prior.
**GAE / VGAE** (Kipf & Welling, 2016) are the same autoencoders without the discriminator.
"""
)
cols = st.columns(2)
with cols[0]:
    st.page_link("pages/train.py", label="**Train**: pick a graph and knobs, watch both players' losses live",
                 icon=":material/model_training:")
with cols[1]:
    st.page_link("pages/runs.py", label="**Runs**: every saved run: reopen, download, delete",
                 icon=":material/folder_open:")
st.page_link("pages/compare.py", label="**Compare**: GAE, VGAE, ARGA and ARGVA side by side on one split, over seeds",
             icon=":material/compare:")
st.page_link("pages/latent.py", label="**Latent space**: where Z sits against the N(0, I) prior, epoch by epoch",
             icon=":material/scatter_plot:")
st.page_link("pages/learn.py", label="**Learn**: the idea, the losses, and one-click guided experiments",
             icon=":material/school:")
st.caption("Start with KarateClub or the planted-partition graph: both work offline.")
