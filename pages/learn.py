"""Learn: the idea of ARGA / ARGVA in plain words, the losses exactly as `argae_core.training`
computes them, the architecture diagram, and guided experiments that load a preset into Train."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

from argae_core.config import DEFAULT_REG_WEIGHT  # noqa: E402
from argae_core.presets import COMPARISONS, PRESETS, Preset  # noqa: E402
from pages import knobs  # noqa: E402

ARCHITECTURE_SVG = Path(__file__).resolve().parent.parent / "assets" / "architecture.svg"
# The Train page relabels these two knobs; every other label is `knobs.default_label(name)`.
TRAIN_LABELS = knobs.WEIGHT_LABELS
CHOICE_LABELS = {**knobs.DATASET_LABELS, **knobs.MODEL_LABELS, **knobs.FEATURE_LABELS}


def idea() -> None:
    st.markdown(
        """
A **graph autoencoder** squeezes every node of a graph into a short vector **z** (a row of
**Z**) with a graph convolutional network, the *encoder*, and asks that the graph's edges can be
read back from those vectors: two nodes should be linked when their vectors point the same way.

**ARGA / ARGVA** add a wish about the *shape* of the cloud **Z**: it should look like samples of a
plain Gaussian, **N(0, I)**. Nobody writes down how to measure that. Instead a second network,
the **discriminator D**, plays judge: it is shown prior samples ("real") and node vectors
("fake") and learns to tell them apart. The encoder is rewarded for fooling it. When neither
player can improve, D says 0.5 to everything and Z is spread like the prior: no holes, no
far-away clumps (Pan et al. argue this makes the embedding more robust).

**GAE / VGAE** are the same autoencoders without the judge.
"""
    )


ARCHITECTURE_ALT = ("Diagram of one ARGA / ARGVA training step: a GCN encoder turns the graph into Z, an "
                    "inner-product decoder rebuilds the edges from Z, and a discriminator D judges Z against "
                    "samples of N(0, I). The diagram is described in words below it.")


def architecture() -> None:
    st.image(str(ARCHITECTURE_SVG), width="stretch", alt=ARCHITECTURE_ALT,
             caption="One training step. Grey tags are the knobs of the Train page, with the same names.")
    with st.expander("The diagram in words"):  # for screen readers, and for anyone who prefers text
        st.markdown(
            """
1. **Graph**: the training edges *A* and the node features *X* go into the **GCN encoder**: a GCN
   layer with ReLU (**Encoder hidden** units), then a GCN layer giving μ (and log σ). VGAE / ARGVA
   sample z = μ + σ · ε with ε ~ N(0, I); GAE / ARGA take z = μ.
2. **Z** holds one row per node (**Latent size** columns).
3. The **inner-product decoder** scores every pair as sigmoid(zᵢ · zⱼ): training edges should score 1,
   sampled non-edges 0. Its binary cross-entropy is the **reconstruction loss**.
4. **Prior samples** z′ ~ N(0, I) are the "real" examples; the rows of Z are the "fake" ones.
5. The **discriminator D**, an MLP (Latent size → **Discriminator hidden** → hidden → 1), gives the
   probability that a vector is real. It is updated **Discriminator steps** times per encoder step
   and learns prior → 1, z → 0; the encoder wants D(z) → 1.
6. Losses flow back into the encoder: the reconstruction loss, the regulariser −log D(z) times the
   **Regulariser weight**, and (VGAE / ARGVA only) KL(q(z) ‖ N(0, I)) times the **KL weight**.
"""
        )


def formulas() -> None:
    st.markdown("**The encoder** (two GCN layers; VGAE / ARGVA add a second head and sample):")
    st.latex(r"H = \mathrm{ReLU}\big(\mathrm{GCN}(X, A)\big),\quad "
             r"\mu = \mathrm{GCN}_\mu(H, A),\quad \log\sigma = \mathrm{GCN}_\sigma(H, A),\quad "
             r"z_i = \mu_i + \sigma_i \odot \varepsilon_i,\ \ \varepsilon_i \sim \mathcal N(0, I)")
    st.markdown("**The game.** D wants to tell prior samples from node vectors; the encoder wants "
                "it to fail:")
    st.latex(r"\min_{\text{encoder}}\ \max_{D}\ \ "
             r"\mathbb E_{z' \sim \mathcal N(0, I)}\big[\log D(z')\big] + "
             r"\mathbb E_{z \sim q(z \mid X, A)}\big[\log\big(1 - D(z)\big)\big]")
    st.markdown("It is played in turns. **Discriminator loss**, with N fresh prior samples at every "
                "update and z held fixed (the encoder does not move during D's turn):")
    st.latex(r"\mathcal L_D = -\frac1N \sum_{i=1}^{N} \log D(z'_i)\ -\ "
             r"\frac1N \sum_{i=1}^{N} \log\big(1 - D(z_i)\big),\qquad "
             r"z'_i \sim \mathcal N(0, I),\quad D(z) = \mathrm{sigmoid}\big(\mathrm{MLP}(z)\big)")
    st.markdown("**Reconstruction loss**: binary cross-entropy of the inner-product decoder over the "
                "training edges E and as many sampled non-edges E⁻ (new ones every epoch):")
    st.latex(r"\mathcal L_{\text{recon}} = -\frac{1}{|E|} \sum_{(i,j) \in E} "
             r"\log \mathrm{sigmoid}(z_i^\top z_j)\ -\ \frac{1}{|E^-|} \sum_{(i,j) \in E^-} "
             r"\log\big(1 - \mathrm{sigmoid}(z_i^\top z_j)\big)")
    st.markdown("**Regulariser** (ARGA / ARGVA): the encoder's side of the game. It minimises "
                "−log D(z) rather than log(1 − D(z)): the same goal, but a strong push even when "
                "D is winning.")
    st.latex(r"\mathcal L_{\text{reg}} = -\frac1N \sum_{i=1}^{N} \log D(z_i)")
    st.markdown("**KL term** (VGAE / ARGVA): how far each node's distribution is from the prior, "
                "averaged over nodes:")
    st.latex(r"\mathcal L_{\text{KL}} = -\frac{1}{2N} \sum_{i=1}^{N} \sum_{d} "
             r"\big(1 + 2\log\sigma_{id} - \mu_{id}^2 - \sigma_{id}^2\big) = "
             r"\frac1N \sum_{i=1}^{N} \mathrm{KL}\big(\mathcal N(\mu_i, \sigma_i^2)\,\|\,\mathcal N(0, I)\big)")
    st.markdown("**Encoder loss**, what the encoder's optimiser minimises:")
    st.latex(r"\mathcal L_{\text{encoder}} = \mathcal L_{\text{recon}} + "
             r"\lambda_{\text{reg}}\,\mathcal L_{\text{reg}} + \lambda_{\text{KL}}\,\mathcal L_{\text{KL}}")
    st.markdown(
        rf"""
- $\lambda_{{\text{{reg}}}}$ is the **Regulariser weight**: empty means {DEFAULT_REG_WEIGHT:g} (the tutorial
  uses 1: with its 5 D steps, D won outright against ARGA on Cora); 0 keeps D training but the encoder
  ignores it. GAE / VGAE have no regulariser.
""" + r"""- $\lambda_{\text{KL}}$ is the **KL weight**: empty means $1/N$, as in PyG's ARGVA tutorial. Since
  $\mathcal L_{\text{KL}}$ is already a mean over nodes, the default adds
  $\frac{1}{N^2}\sum_i \mathrm{KL}_i$. GAE / ARGA have no KL term.
- The charts of the Train page draw the three parts *after* weighting, and their sum.
"""
    )


def one_epoch() -> None:
    st.markdown(
        """
1. The encoder computes **Z** once from the features and the training edges.
2. D is updated **Discriminator steps** times on that same Z against fresh prior samples
   (Adam at the **Discriminator learning rate**).
3. The encoder is updated once on the encoder loss, judged by the D it just faced
   (Adam at the **Encoder learning rate**).

The verdict chart shows the mean D(prior sample) and mean D(z) of each epoch's last D update.
D sees sampled vectors z = μ + σ·ε; test scores and the latent pictures use the means μ.
"""
    )


# ------------------------------------------------------------ guided experiments
def setting_text(name: str, value) -> str:
    label = TRAIN_LABELS.get(name) or knobs.default_label(name)
    shown = CHOICE_LABELS.get(value, value) if isinstance(value, str) else f"{value:g}"
    return f"{label}: **{shown}**"


def load_preset(preset: Preset) -> None:
    """Put the preset's config where its page (Train or Compare) reads it, and go there."""
    note = f"**{preset.title}.** {preset.watch}"
    if preset.page == "compare":
        st.session_state["compare_settings"] = {"config": preset.config().to_dict(), "models": list(preset.compare),
                                                "repeats": preset.seeds, "method": "pca"}
        for key in [k for k in st.session_state if str(k).startswith(("cmp_", "sweep_"))]:
            del st.session_state[key]  # widgets keep their own state; drop it so they show the preset
        st.session_state["compare_note"] = note
    else:
        knobs.use_config(preset.config())
        st.session_state["preset_note"] = note
    st.switch_page(f"pages/{preset.page}.py")


def preset_card(preset: Preset) -> None:
    with st.container(border=True):
        st.markdown(f"**{preset.title}**")
        st.markdown(preset.watch)
        settings = preset.settings
        if preset.compare:
            settings = {"models": " vs ".join(knobs.MODEL_LABELS[m] for m in preset.compare),
                        "seeds": preset.seeds, **settings}
        st.caption(" · ".join(setting_text(k, v) for k, v in settings.items()))
        if preset.needs_cora:
            st.caption(":material/folder: Needs Cora's raw files in the data folder.")
        target = "Compare" if preset.compare else "Train"
        if st.button(f"Load into {target}", key=f"preset_{preset.name}", icon=":material/play_arrow:"):
            load_preset(preset)


def guided_experiments() -> None:
    st.markdown("Each button loads a configuration into the Train page and keeps the sentence on "
                "what to watch above the charts; press **Start** there. Everything else is at its "
                "default (seed 0, 200 epochs), so you should see what the sentence says.")
    cards(PRESETS)
    st.subheader("What the regulariser changes in Z")
    st.markdown("Two comparisons on the Compare page, each over 5 seeds so that a difference can be told from "
                "noise; press **Compare** there. Then try the page's **Sweep the regulariser** mode for the "
                "whole picture: test score against prior match over regulariser weights and latent sizes.")
    cards(COMPARISONS)


def cards(presets) -> None:
    for pair in range(0, len(presets), 2):  # one row per pair, so neighbours line up
        for column, preset in zip(st.columns(2), presets[pair:pair + 2]):
            with column:
                preset_card(preset)


st.title("Learn")
st.header("The idea")
idea()
architecture()
st.header("The losses, as the code computes them")
formulas()
st.subheader("One epoch")
one_epoch()
st.header("Guided experiments")
guided_experiments()
