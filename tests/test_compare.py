"""argae_core.compare on fixed inputs: configs of a comparison, mean ± std over seeds, the
best value per column (MMD: lowest), and the generated reading of the table."""
from __future__ import annotations

import math

import pytest

from argae_core import compare
from argae_core.compare import Outcome, best_per_column, mean_rows, reading, summarize, table_rows
from argae_core.config import TrainConfig


def scores(auc, ap, mmd, acc=None, nmi=None, ari=None) -> dict:
    labelled = {"acc": acc, "nmi": nmi, "ari": ari} if acc is not None else {}
    return {"test_auc": auc, "test_ap": ap, "mmd": mmd, "epochs_run": 10, "best_epoch": 10, **labelled}


def two_models(gae_mmd=0.0372, argva_mmd=0.0120, gae_auc=0.912, argva_auc=0.908):
    return summarize([Outcome("gae", 0, "finished", scores(gae_auc, 0.920, gae_mmd, 0.70, 0.60, 0.50)),
                      Outcome("argva", 0, "finished", scores(argva_auc, 0.921, argva_mmd, 0.75, 0.65, 0.55))])


def text(summaries, latent_size=None) -> str:
    return " ".join(reading(summaries, latent_size))


# ------------------------------------------------------------------ configs
def test_configs_share_knobs_and_seed_and_drop_weights_a_model_has_no_term_for():
    base = TrainConfig(dataset="planted", epochs=30, latent_size=8, encoder_lr=0.01, reg_weight=2.0,
                       kl_weight=0.5, model="argva")
    configs = compare.comparison_configs(base, ["gae", "vgae", "arga", "argva"], compare.seeds_for(3, 2))
    assert [(c.model, c.seed) for c in configs] == [
        ("gae", 3), ("vgae", 3), ("arga", 3), ("argva", 3), ("gae", 4), ("vgae", 4), ("arga", 4), ("argva", 4)]
    for config in configs:
        config.validate()  # GAE with a KL weight would be refused
        assert (config.dataset, config.epochs, config.latent_size, config.encoder_lr) == ("planted", 30, 8, 0.01)
        assert config.reg_weight == (2.0 if config.adversarial else None)
        assert config.kl_weight == (0.5 if config.variational else None)


def test_problems_name_the_input_at_fault():
    assert compare.comparison_problems(["gae", "argva"], 2, room=8) == {}
    assert "at least one model" in compare.comparison_problems([], 1, room=8)["models"]
    assert "1 to 5" in compare.comparison_problems(["gae"], 6, room=8)["seeds"]
    too_many = compare.comparison_problems(["gae", "vgae", "arga", "argva"], 3, room=8)["seeds"]
    assert "12 runs" in too_many and "8 more" in too_many
    assert "stop your other runs" in compare.comparison_problems(["gae"], 1, room=0)["seeds"]
    assert compare.comparison_problems(["gae", "vgae", "arga", "argva"], 5) == {}  # room not checked


def test_group_ids_are_distinct_and_marked():
    ids = {compare.new_group_id() for _ in range(20)}
    assert len(ids) == 20 and all(i.startswith("cmp-") for i in ids)


# -------------------------------------------------------------- aggregation
def test_mean_and_sample_std_over_seeds():
    summaries = summarize([Outcome("gae", s, "finished", scores(auc, 0.9, mmd))
                           for s, auc, mmd in ((0, 0.80, 0.10), (1, 0.90, 0.20), (2, 0.85, 0.30))])
    (gae,) = summaries
    assert gae.stats["test_auc"].mean == pytest.approx(0.85)
    assert gae.stats["test_auc"].std == pytest.approx(0.05)      # sample std (n - 1)
    assert gae.stats["mmd"].std == pytest.approx(0.1)
    assert gae.stats["test_auc"].n == 3 and gae.runs == 3
    row = table_rows(summaries)[0]
    assert row["AUC"] == "0.850 ± 0.050" and row["MMD to prior"] == "0.2000 ± 0.1000"
    assert row["runs"] == "3 seeds"


def test_one_seed_has_no_std_and_runs_without_scores_are_counted_not_averaged():
    summaries = summarize([Outcome("arga", 0, "finished", scores(0.9, 0.9, 0.05)),
                           Outcome("arga", 1, "failed", None),
                           Outcome("arga", 2, "diverged", {"diverged": True, "test_auc": math.nan})])
    (arga,) = summaries
    assert arga.stats["test_auc"].std is None and arga.stats["test_auc"].n == 1
    assert table_rows(summaries)[0]["AUC"] == "0.900"
    assert table_rows(summaries)[0]["runs"] == "3 seeds: 1 failed, 1 diverged"


def test_best_per_column_higher_is_better_except_mmd():
    best = best_per_column(two_models())
    assert best["test_auc"] == ["gae"]
    assert best["test_ap"] == ["argva"]
    assert best["mmd"] == ["argva"]   # the lower MMD, although it is the smaller number
    rows = {r["model"]: r for r in table_rows(two_models())}
    assert rows["ARGVA"]["MMD to prior"].endswith("★") and not rows["GAE"]["MMD to prior"].endswith("★")
    assert rows["GAE"]["AUC"].endswith("★")


def test_ties_at_the_shown_precision_mark_both_and_single_values_mark_none():
    tied = best_per_column(two_models(gae_auc=0.9121, argva_auc=0.9118))
    assert sorted(tied["test_auc"]) == ["argva", "gae"]
    assert best_per_column(summarize([Outcome("gae", 0, "finished", scores(0.9, 0.9, 0.1))])) == {}


def test_metrics_no_model_has_are_left_out_of_the_table():
    summaries = summarize([Outcome("gae", 0, "finished", scores(0.9, 0.9, 0.1)),
                           Outcome("argva", 0, "finished", scores(0.8, 0.8, 0.05))])
    assert list(table_rows(summaries)[0]) == ["model", "AUC", "AP", "MMD to prior", "runs"]


def test_mean_rows_average_each_epoch_over_the_seeds_that_have_it():
    seed0 = [{"epoch": 1, "encoder_loss": 2.0, "val_auc": None, "diverged": False},
             {"epoch": 2, "encoder_loss": 1.0, "val_auc": 0.6, "diverged": False}]
    seed1 = [{"epoch": 1, "encoder_loss": 4.0, "val_auc": None, "diverged": False},
             {"epoch": 2, "encoder_loss": 3.0, "val_auc": 0.8, "diverged": True},
             {"epoch": 3, "encoder_loss": 5.0, "val_auc": None, "diverged": False}]
    rows = mean_rows([seed0, seed1])
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0]["encoder_loss"] == 3.0 and rows[0]["val_auc"] is None
    assert rows[1]["val_auc"] == pytest.approx(0.7) and rows[1]["diverged"] is True
    assert rows[2]["encoder_loss"] == 5.0
    assert mean_rows([seed0]) == seed0


# ------------------------------------------------------------------ reading
def prior(z_std, c2st, mmd, c2st_shape=0.52, edges=527, **link) -> dict:
    """Final metrics with the prior-match measures (and Cora-sized test split by default)."""
    return {"test_auc": link.get("auc", 0.92), "test_ap": link.get("ap", 0.92), "z_std": z_std,
            "norm_ratio": z_std, "c2st": c2st, "c2st_shape": c2st_shape, "mmd": mmd, "mmd_shape": 0.001,
            "test_edges": edges, "epochs_run": 200, "best_epoch": 150}


def over_seeds(model, rows) -> list[Outcome]:
    return [Outcome(model, seed, "finished", prior(**row)) for seed, row in enumerate(rows)]


def test_reading_names_spread_and_classifier_accuracy_in_units_of_the_prior():
    said = text(two_models())
    assert "test AUC is 0.4 points higher for GAE (0.912 vs 0.908): too small to matter" in said
    assert "trade-off" not in said
    cora = summarize([Outcome("gae", 0, "finished", prior(0.22, 1.00, 0.1287)),
                      Outcome("argva", 0, "finished", prior(0.22, 1.00, 0.1287))])
    said = text(cora)
    assert "Spread of Z in units of the prior's" in said and "GAE 0.22, ARGVA 0.22" in said
    assert "held-out accuracy GAE 100 %, ARGVA 100 %" in said


def test_the_issue_s_cora_defaults_read_as_equally_far_from_the_prior():
    """GAE and ARGVA at latent 64 on Cora (the issue's table): nothing to see, said so,
    with the setting where the regulariser acts."""
    cora = summarize([Outcome("gae", 0, "finished", prior(0.22, 1.00, 0.1311, auc=0.923)),
                      Outcome("argva", 0, "finished", prior(0.22, 1.00, 0.1274, auc=0.935))])
    said = text(cora, latent_size=64)
    assert "equally far from N(0, I) on every measure" in said
    assert "try latent size 8 or 2" in said
    assert "likely real" not in said and "closer to N(0, I) than" not in said
    assert "within the uncertainty of 527 test edges" in said  # the 1.2-point AUC gap


def test_a_real_difference_needs_size_and_seeds():
    gae = over_seeds("gae", [dict(z_std=0.53, c2st=0.98, mmd=0.053), dict(z_std=0.55, c2st=0.97, mmd=0.050),
                             dict(z_std=0.51, c2st=0.99, mmd=0.056)])
    argva = over_seeds("argva", [dict(z_std=0.66, c2st=0.90, mmd=0.028), dict(z_std=0.68, c2st=0.89, mmd=0.026),
                                 dict(z_std=0.64, c2st=0.91, mmd=0.030)])
    said = text(summarize(gae + argva), latent_size=8)
    assert "ARGVA's latent cloud is closer to N(0, I) than GAE's" in said and "a real difference" in said
    one_seed = text(summarize(gae[:1] + argva[:1]), latent_size=8)
    assert "looks closer" in one_seed and "with one seed it cannot be told from noise" in one_seed
    assert "a real difference" not in one_seed
    noisy = over_seeds("argva", [dict(z_std=0.40, c2st=0.80, mmd=0.01), dict(z_std=0.90, c2st=0.999, mmd=0.09)])
    said = text(summarize(gae[:2] + noisy), latent_size=8)
    assert "within the seed-to-seed spread" in said and "a real difference" not in said


def test_a_tiny_test_split_is_not_read_as_a_difference():
    """KarateClub: 7 test edges; GAE 0.39 against ARGVA 0.88 is within the split's error."""
    karate = summarize([Outcome("gae", 0, "finished", prior(0.5, 0.9, 0.05, edges=7, auc=0.39)),
                        Outcome("argva", 0, "finished", prior(0.5, 0.9, 0.05, edges=7, auc=0.88))])
    said = text(karate)
    assert "rest on 7 held-out edges" in said and "too few to compare models" in said
    assert "49.0 points higher for ARGVA (0.880 vs 0.390), on only 7 test edges: too few" in said
    big = summarize([Outcome("gae", s, "finished", prior(0.5, 0.9, 0.05, edges=527, auc=auc))
                     for s, auc in enumerate((0.80, 0.81))]
                    + [Outcome("argva", s, "finished", prior(0.5, 0.9, 0.05, edges=527, auc=auc))
                       for s, auc in enumerate((0.90, 0.91))])
    said = text(big)
    assert "rest on 527 held-out edges" in said and "too few" not in said
    assert "beyond the seed-to-seed std (up to 0.7 points): real" in said


def test_a_trade_off_is_said_only_when_both_differences_are_real():
    gae = over_seeds("gae", [dict(z_std=0.53, c2st=0.98, mmd=0.053, auc=0.93), dict(z_std=0.55, c2st=0.97, mmd=0.05, auc=0.94)])
    argva = over_seeds("argva", [dict(z_std=0.80, c2st=0.80, mmd=0.02, auc=0.85), dict(z_std=0.82, c2st=0.78, mmd=0.021, auc=0.86)])
    said = text(summarize(gae + argva))
    assert "A trade-off: ARGVA's cloud is closer to the prior, but GAE predicts links better." in said


def test_reading_of_ties():
    said = text(two_models(gae_mmd=0.01201, argva_mmd=0.01199, gae_auc=0.9081, argva_auc=0.9079))
    assert "equally far from N(0, I)" in said
    assert "AUC is the same for both (0.908)" in said
    assert "trade-off" not in said and "wins on both" not in said


def test_reading_with_a_single_model_and_without_labels():
    said = text(summarize([Outcome("gae", 0, "finished", scores(0.9, 0.91, 0.1))]))
    assert "Only GAE was trained" in said and "AUC 0.900" in said
    assert "no class labels" in said


def test_reading_says_whether_differences_exceed_the_seed_spread():
    real = summarize([Outcome("gae", s, "finished", scores(auc, 0.9, 0.04)) for s, auc in ((0, 0.80), (1, 0.82))]
                     + [Outcome("argva", s, "finished", scores(auc, 0.9, 0.01)) for s, auc in ((0, 0.90), (1, 0.92))])
    said = text(real)
    assert "AUC is 10.0 points higher for ARGVA (0.910 vs 0.810), beyond the seed-to-seed std" in said
    assert ": real" in said
    assert "One seed only" not in said
    noisy = summarize([Outcome("gae", s, "finished", scores(auc, 0.9, 0.04)) for s, auc in ((0, 0.70), (1, 0.90))]
                      + [Outcome("argva", s, "finished", scores(auc, 0.9, 0.01)) for s, auc in ((0, 0.75), (1, 0.95))])
    assert "within the seed-to-seed std (up to 14.1 points): not a clear difference" in text(noisy)


def test_reading_with_three_models_names_best_and_worst():
    summaries = summarize([Outcome("gae", 0, "finished", scores(0.90, 0.9, 0.04)),
                           Outcome("vgae", 0, "finished", scores(0.90, 0.9, 0.02)),
                           Outcome("argva", 0, "finished", scores(0.85, 0.9, 0.01))])
    said = text(summaries)
    assert "AUC is highest for GAE and VGAE (0.900), 5.0 points above ARGVA, the lowest (0.850)" in said
    assert "ARGVA's latent cloud looks closer to N(0, I) by MMD (0.0100 vs 0.0400)" in said


def test_reading_of_diverged_failed_and_stopped_runs():
    summaries = summarize([Outcome("gae", 0, "finished", scores(0.9, 0.9, 0.04, 0.5, 0.4, 0.3)),
                           Outcome("arga", 0, "diverged", {"diverged": True, "diverged_at": 3}),
                           Outcome("vgae", 0, "failed", None),
                           Outcome("argva", 0, "stopped", scores(0.7, 0.7, 0.02, 0.4, 0.3, 0.2))])
    said = text(summaries)
    assert "ARGA diverged (a loss became NaN or infinite), before any validation, so without scores." in said
    assert "VGAE failed" in said
    assert "ARGVA was stopped early" in said
    assert "ARGVA's latent cloud looks closer to N(0, I)" in said  # the two models with scores are compared
    assert "no class labels" not in said
    scored = summarize([Outcome("arga", 0, "diverged", scores(0.8, 0.8, 0.1))])
    assert "the scores come from the best validation epoch before that" in text(scored)


def test_reading_with_nothing_scored():
    assert "no numbers to compare" in text(summarize([Outcome("gae", 0, "failed", None)]))
    assert reading([]) == ["No run reached its test evaluation, so there are no numbers to compare."]


def test_prior_columns_mark_the_value_nearest_the_prior_s_and_go_in_their_own_table():
    summaries = summarize([Outcome("gae", 0, "finished", prior(0.53, 0.98, 0.053)),
                           Outcome("argva", 0, "finished", prior(1.60, 0.60, 0.030))])
    best = best_per_column(summaries)
    assert best["c2st"] == ["argva"]          # 0.60 is nearer 0.5 than 0.98
    assert best["z_std"] == ["gae"]           # |0.53 - 1| < |1.60 - 1|
    link = table_rows(summaries, families=("link",))
    assert list(link[0]) == ["model", "AUC", "AP", "runs"]
    prior_rows = table_rows(summaries, families=("prior",))
    assert "C2ST (0.5: like prior)" in prior_rows[0] and "AUC" not in prior_rows[0]


# ------------------------------------------------------------------ the sweep
def test_sweep_configs_cover_the_grid_seed_major_on_one_split_per_seed():
    from argae_core import sweep
    base = TrainConfig(dataset="planted", model="argva", epochs=20)
    configs = sweep.sweep_configs(base, [0.0, 1.0], [2, 8], [0, 1])
    assert [(c.seed, c.latent_size, c.reg_weight) for c in configs] == [
        (0, 2, 0.0), (0, 2, 1.0), (0, 8, 0.0), (0, 8, 1.0), (1, 2, 0.0), (1, 2, 1.0), (1, 8, 0.0), (1, 8, 1.0)]
    assert all(c.validate() and c.model == "argva" and c.epochs == 20 for c in configs)
    assert sweep.sweep_problems("argva", [0.0, 1.0], [2, 8], 2) == {}
    assert "adversarial" in sweep.sweep_problems("gae", [1.0], [2], 1)["model"]
    assert "at least one" in sweep.sweep_problems("argva", [], [2], 1)["reg_weights"]
    assert "from 1 to 512" in sweep.sweep_problems("argva", [1.0], [600], 1)["latent_sizes"]
    assert sweep.sweep_problems("argva", list(sweep.REG_WEIGHTS), list(sweep.LATENT_SIZES), 5) == {}
    assert "105 runs" in sweep.sweep_problems("argva", [0.0, 1.0, 4.0], [2, 8, 16, 64, 3, 5, 7], 5)["seeds"]


def test_a_sweep_plan_submits_in_waves_as_room_allows_and_stops_when_cancelled():
    from argae_core import sweep
    plan = sweep.SweepPlan("cmp-x", sweep.sweep_configs(TrainConfig(model="argva"), [0.0, 1.0, 4.0], [2, 8], [0]))
    submitted = []
    submit = lambda config: submitted.append(config) or f"job-{len(submitted)}"  # noqa: E731
    assert plan.top_up(submit, room=4) == 4 and plan.waiting == 2
    assert plan.top_up(submit, room=0) == 0
    assert plan.top_up(submit, room=10) == 2 and plan.waiting == 0 and plan.job_ids[-1] == "job-6"
    assert [c.reg_weight for c in submitted] == [0.0, 1.0, 4.0, 0.0, 1.0, 4.0]
    cancelled = sweep.SweepPlan("cmp-y", submitted[:3])
    cancelled.cancel()
    assert cancelled.waiting == 0 and cancelled.top_up(submit, room=5) == 0


def test_sweep_points_average_seeds_per_cell_and_the_reading_follows_them():
    from argae_core import sweep
    def run(weight, latent, seed, auc, c2st):
        return sweep.SweepRun(weight, latent, Outcome("argva", seed, "finished",
                                                      {"test_auc": auc, "c2st": c2st, "z_std": 0.5}))
    runs = [run(0.0, 8, 0, 0.91, 0.98), run(0.0, 8, 1, 0.90, 0.97), run(4.0, 8, 0, 0.88, 0.80),
            run(4.0, 8, 1, 0.86, 0.82), run(0.0, 64, 0, 0.92, 1.0)]
    points = sweep.summarize_sweep(runs)
    assert [(p.latent_size, p.reg_weight, p.runs) for p in points] == [(8, 0.0, 2), (8, 4.0, 2), (64, 0.0, 1)]
    assert points[1].stats["c2st"].mean == pytest.approx(0.81)
    said = " ".join(sweep.sweep_reading(points))
    assert "Latent 8: from weight 0 to 4 the classifier's accuracy goes 0.97 -> 0.81 (closer to the prior's 0.5)" in said
    assert "test AUC 0.905 -> 0.870" in said and "Latent 64" not in said  # one weight: nothing to read
    assert "too few" not in said
    tiny = [sweep.SweepRun(r.reg_weight, r.latent_size, Outcome("argva", r.outcome.seed, "finished",
                                                               {**r.outcome.metrics, "test_edges": 7})) for r in runs]
    assert "rest on 7 held-out edges per run: too few" in " ".join(sweep.sweep_reading(sweep.summarize_sweep(tiny)))
