"""Guided experiments: each one a TrainConfig change and a sentence on what to watch.

A preset's settings are applied on top of `TrainConfig()` defaults plus `BASE` (the
planted-partition graph at the tutorial's sizes and 5 discriminator steps: offline, 300
nodes, 32 informative features, a few seconds per run), never on top of whatever the user had, so the run the sentence describes is the run
the user gets. The numbers in the sentences were measured with the default seed 0 and
seeds 1-2 on CPU, 200 epochs; tests/test_learn.py re-checks the verdicts quickly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import TrainConfig

# The tutorial's game (the project's defaults are tuned for Cora link prediction: a wider
# encoder and a weaker judge); the sentences below were measured with these settings.
BASE = {"dataset": "planted", "encoder_hidden": 64, "latent_size": 32, "discriminator_steps": 5}
TUTORIAL_REG = {"reg_weight": 1.0}


@dataclass(frozen=True)
class Preset:
    name: str                     # stable id (button keys, tests)
    title: str                    # short, for the button
    watch: str                    # what to look at on the Train page, and what you should see
    changes: dict = field(default_factory=dict)  # TrainConfig fields set over BASE
    compare: tuple[str, ...] = ()  # models to set side by side on the Compare page (empty: Train)
    seeds: int = 1                # Compare: how many seeds

    @property
    def needs_cora(self) -> bool:
        return self.config().dataset == "cora"

    @property
    def page(self) -> str:
        return "compare" if self.compare else "train"

    @property
    def base(self) -> dict:
        """The settings the preset starts from: BASE for Train presets; a comparison starts
        from the defaults (the sizes it is about are in its `changes`)."""
        return {} if self.compare else BASE

    @property
    def settings(self) -> dict:
        return {**self.base, **self.changes}

    def config(self) -> TrainConfig:
        """The preset's full config, validated."""
        return TrainConfig().replace(**self.settings).validate()


PRESETS: tuple[Preset, ...] = (
    Preset(
        "argva", "ARGVA: the full game",
        "Both players at the tutorial's settings. Watch the discriminator's verdict: D(prior) and "
        "D(z) stay near 0.5 for about 10 epochs, D pulls ahead around epoch 20 (D(prior) about "
        "0.8), then the encoder fights back and the two settle near 0.68 / 0.32. Reconstruction "
        "loss ends near 2.7: the encoder gives up some reconstruction to fool the judge.",
        {"model": "argva", **TUTORIAL_REG}),
    Preset(
        "plain_gae", "Plain GAE: no judge",
        "No discriminator and no regulariser: only reconstruction is trained, so there is no "
        "verdict to draw. Reconstruction loss ends near 0.9, against about 2.7 for ARGVA; test "
        "AUC on this graph is about the same (0.79-0.89 over seeds 0-2 for both).",
        {"model": "gae"}),
    Preset(
        "regulariser_off", "Regulariser off: a judge nobody listens to",
        "ARGVA with regulariser weight 0: D still trains, but the encoder ignores it (a VGAE "
        "with a spectator). D wins outright: after 30-35 epochs D(prior) is above 0.95 and D(z) "
        "below 0.05, ending near 1 and 0, where the full game holds near 0.68 / 0.32. The "
        "regulariser is what keeps the judge from telling Z apart from N(0, I).",
        {"model": "argva", "reg_weight": 0.0}),
    Preset(
        "starved_discriminator", "Starved discriminator",
        "D gets 1 update per encoder update at 1/100 of the default learning rate, so it never "
        "learns: D(prior) and D(z) both stay near 0.5 (0.52 / 0.52 at the end with seed 0) and "
        "the discriminator loss stays on the 2 ln 2 guessing line. Its regulariser hardly pushes "
        "the encoder: reconstruction loss ends near 1.0, as with the regulariser off.",
        {"model": "argva", "discriminator_steps": 1, "discriminator_lr": 1e-5, **TUTORIAL_REG}),
    Preset(
        "overpowered_discriminator", "Overpowered discriminator",
        "ARGA (no sampling noise for the encoder to hide behind) against a judge with 10 updates "
        "per encoder update at 10 times the default learning rate. D wins at once: from epoch 2 "
        "on, D(prior) is above 0.95 and D(z) below 0.05. With the default judge ARGA takes about "
        "30 epochs to get there. Switch the model to ARGVA with the same judge: D leads early "
        "(about 0.75 / 0.3 over the first 10 epochs), then the verdict settles near 0.68 / 0.30, "
        "as in the default game.",
        {"model": "arga", "discriminator_steps": 10, "discriminator_lr": 0.01, **TUTORIAL_REG}),
    Preset(
        "no_features", "No node features",
        "Each node's 32 features are replaced by a one-hot id, so the encoder sees only the "
        "graph. Validation AUC stays between about 0.4 and 0.66 for the first 100 epochs (0.5 is "
        "guessing; with features it is above 0.75 from epoch 5). Test AUC ends at 0.53-0.73 over "
        "seeds 0-2 (0.79-0.89 with features) and clustering accuracy drops from about 0.99 to "
        "0.36-0.87.",
        {"model": "argva", "features": "identity", **TUTORIAL_REG}),
    Preset(
        "row_normalised", "Row-normalised features (Cora)",
        "Cora's 0/1 word-presence rows scaled to sum to 1 (PyG's NormalizeFeatures). With the tutorial's "
        "learning rates ARGVA's test AUC falls from about 0.91 with raw features to about 0.69, "
        "and clustering NMI from about 0.45 to 0.08. Set features back to raw to compare. Needs "
        "Cora's raw files (the Train page says where to put them if they are missing).",
        {"dataset": "cora", "model": "argva", "features": "row_normalized", **TUTORIAL_REG}),
    Preset(
        "large_kl", "Large KL weight",
        "KL weight 1 instead of the default 1 / N (1/300 here) pulls every node's distribution "
        "onto N(0, I). The sampled codes then look like prior samples to D (about 0.54 / 0.46, "
        "near the 0.5 line) but carry less of the graph: reconstruction loss ends near 4 instead "
        "of 2.7, and validation AUC is highest early (about 0.8 by epoch 10) and slides to "
        "0.63-0.73 by epoch 200, where the default ends at 0.82-0.85.",
        {"model": "argva", "kl_weight": 1.0, **TUTORIAL_REG}),
)


# Comparisons over 5 seeds on Cora, measured with `benchmarks/bench_regulariser.py --dataset
# cora --seeds 5` (200 epochs, Z at the best validation epoch; the README's "What the
# regulariser does" tables). Not on the planted graph: its Z is clumped by the communities,
# so the regulariser widens Z there (spread 0.46 -> 0.64 at latent 8, weight 0 -> 16) while a
# classifier still tells it from the prior 98-99 % of the time at every weight and size >= 8.
COMPARISONS: tuple[Preset, ...] = (
    Preset(
        "regulariser_at_work", "The regulariser at work (latent 8, Cora)",
        "GAE against ARGVA with 8 latent dimensions, 5 seeds. Watch the second table: a fresh classifier "
        "tells GAE's Z from prior samples 96 % of the time (± 1), ARGVA's 85 % (± 4), a difference well "
        "beyond the seeds' spread; ARGVA's spread is 0.60 of the prior's against GAE's 0.52. It costs "
        "nothing in link prediction here: test AUC 0.914 against 0.910. Both clouds are still far narrower "
        "than N(0, I): look at the norm histogram, which keeps the scale the UMAP picture hides.",
        {"dataset": "cora", "latent_size": 8}, compare=("gae", "argva"), seeds=5),
    Preset(
        "regulariser_idle", "The regulariser doing nothing (latent 64, Cora)",
        "GAE against ARGVA at the defaults (64 latent dimensions), 5 seeds. Every prior-match number is the "
        "same: spread 0.21 against 0.23 of the prior's, the classifier tells both from the prior 99 % of the "
        "time, MMD 0.131 against 0.127. With 64 dimensions the inner-product decoder keeps each coordinate "
        "small (z_i . z_j must stay of order one), so Z is as narrow as that needs whatever the discriminator "
        "says: D(prior) and D(z) still split apart on the Train page, but Z does not move. Test AUC: 0.932 "
        "against 0.938.",
        {"dataset": "cora"}, compare=("gae", "argva"), seeds=5),
)


PRESETS = PRESETS + (
    Preset(
        "two_d_latent", "2-D latent: the plane is the latent space",
        "ARGVA with 2 latent dimensions, so the Latent page's discriminator view is D's exact verdict over "
        "the whole latent space, as in GAN Lab: press Play there and watch the 0.5 contour move with Z. "
        "The game stays near equilibrium: D(prior) and D(z) end near 0.55 / 0.44 (seeds 0-2), D barely "
        "tells the clouds apart. Yet a fresh classifier tells Z from prior samples 76-80 % of the time and "
        "Z's spread is 0.72-0.87 of the prior's: Z has the four communities' clumps, which this D does not "
        "pick up. Test AUC 0.74-0.85.",
        {"model": "argva", "latent_size": 2, **TUTORIAL_REG}),
)


def preset(name: str) -> Preset:
    """The preset called `name` (KeyError names the known ones)."""
    for p in PRESETS + COMPARISONS:
        if p.name == name:
            return p
    raise KeyError(f"no preset {name!r}; known: {', '.join(p.name for p in PRESETS + COMPARISONS)}")
