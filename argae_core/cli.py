"""The engine from a terminal.

    argae train --dataset cora --model argva --epochs 200 --seed 0 [--json]
    argae reproduce --seeds 5 [--epochs N] [--datasets cora,citeseer,pubmed]
    argae export-tensorboard RUN_ID [--out tensorboard/RUN_ID] [--replace]
    argae train --epochs 300 --steer 120:reg_weight=1 --steer 200:adversary=off
    argae export-script RUN_ID -o retrain.py
    argae warm      # once after installing: umap compiled into numba's disk cache

`argae` is the console script `pip install .` puts on the PATH; `python -m argae_core ...` is
the same program.

Every TrainConfig field is also a flag (`--encoder-lr 0.01`, `--kl-weight ""` for the
default). Bad input ends with one line on stderr and an exit code, never a traceback:
2 bad settings, 3 dataset unavailable, 1 anything else, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

from tqdm import tqdm

from . import paper
from .compare import Stat, finite_number
from .config import FIELDS, MODEL_KINDS, ConfigError, TrainConfig
from .data import DatasetUnavailable, Graph, load_graph, split_edges
from .metrics import DEGENERATE_HINT, DEGENERATE_NOTES
from .records import CLUSTER_METRICS, LINK_METRICS
from .storage import plain
from .threads import Yielding, asked_threads, choose_threads

EXIT_FAILED, EXIT_CONFIG, EXIT_DATASET, EXIT_INTERRUPTED = 1, 2, 3, 130
REQUIRED_JSON_KEYS = LINK_METRICS + CLUSTER_METRICS + ("mmd", "epochs_run", "diverged", "seconds_per_epoch")

PAPER_LINK, PAPER_CLUSTERING = paper.LINK, paper.CLUSTERING  # Pan et al., IJCAI 2018
PLANETOID_DATASETS = ("cora", "citeseer", "pubmed")
PER_RUN_FIELDS = ("dataset", "model", "seed")  # reproduce sets these itself


class CliError(Exception):
    """A one-line message for stderr and the exit code that goes with it."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (usage stays behind --help)."""

    def error(self, message):
        self.exit(EXIT_CONFIG, f"{self.prog}: {message} (see --help)\n")


# ------------------------------------------------------------------ parsing
def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, skip=()) -> None:
    """One optional flag per TrainConfig field; unset flags keep the config's default."""
    group = parser.add_argument_group("settings (TrainConfig fields; default in brackets)")
    for name, f in FIELDS.items():
        if name in skip:
            continue
        meta = f.metadata
        if meta["choices"]:
            bounds = "one of " + ", ".join(meta["choices"])
        elif meta["min"] is not None:
            bounds = f"{meta['min']:g} to {meta['max']:g}"
        else:
            bounds = ""
        default = "empty" if f.default is None else f.default
        text = f"{meta['help']} ({bounds}) [{default}]" if bounds else f"{meta['help']} [{default}]"
        group.add_argument(flag(name), dest=name, default=argparse.SUPPRESS, metavar="VALUE",
                           help=text.replace("%", "%%"))


def config_from_args(args: argparse.Namespace, skip=()) -> TrainConfig:
    """The TrainConfig the flags describe; CliError (exit 2) naming the flags at fault."""
    values = {name: (None if getattr(args, name) == "" else getattr(args, name))
              for name in FIELDS if name not in skip and hasattr(args, name)}
    try:
        return TrainConfig.from_dict(values).validate()
    except ConfigError as exc:
        raise config_error(exc) from None


def config_error(exc: ConfigError, context: str = "") -> CliError:
    problems = "; ".join(f"{flag(k) if k in FIELDS else k}: {v}" for k, v in exc.problems.items())
    return CliError(f"invalid settings{context}: {problems}", EXIT_CONFIG)


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads [the cores free now: usable cores less the "
                             "load average]; on a busy machine more threads than free cores "
                             "are several times slower")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=program_name(),
                           description="ARGAE Lab engine: train GAE / VGAE / ARGA / ARGVA from a "
                                       "terminal, or reproduce the ARGA paper's table.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train one model and print its metrics",
                                description="Train one model; the reported epoch is the one with "
                                            "the best validation AUC.")
    train.add_argument("--json", action="store_true",
                       help="print one JSON object (metrics + config) on stdout instead of a table")
    train.add_argument("--no-save", action="store_true", help="do not save the run under runs/")
    add_threads_flag(train)
    add_steer_flag(train)
    add_config_flags(train)
    train.set_defaults(handler=cmd_train)

    reproduce = commands.add_parser(
        "reproduce", help="train the four models over several seeds beside the paper's numbers",
        description="Train each model on each dataset for several seeds (0, 1, ...) and print "
                    "mean ± std beside Pan et al., IJCAI 2018. Datasets that cannot be loaded "
                    "are skipped with a note.")
    reproduce.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..n-1 [5]")
    reproduce.add_argument("--datasets", default=",".join(PLANETOID_DATASETS),
                           help="comma-separated [cora,citeseer,pubmed]")
    reproduce.add_argument("--models", default=",".join(MODEL_KINDS),
                           help="comma-separated [gae,vgae,arga,argva]")
    reproduce.add_argument("--json", action="store_true",
                           help="print one JSON object with every run's metrics instead of tables")
    add_threads_flag(reproduce)
    add_config_flags(reproduce, skip=PER_RUN_FIELDS)
    reproduce.set_defaults(handler=cmd_reproduce)

    export = commands.add_parser(
        "export-tensorboard", help="write a saved run as TensorBoard event files",
        description="Scalars per epoch, config and metrics as text, and every latent snapshot "
                    "(with the prior's samples, labelled) for the Embedding Projector. Then: "
                    "tensorboard --logdir tensorboard")
    export.add_argument("run_id", metavar="RUN_ID", help="a run's folder name under runs/ "
                        "(see the Runs page; $ARGAE_RUNS_DIR moves runs/)")
    export.add_argument("--out", default=None, help="folder for the event files [tensorboard/RUN_ID]")
    export.add_argument("--replace", action="store_true", help="replace what --out already holds")
    export.set_defaults(handler=cmd_export_tensorboard, threads=None)

    # Listed for --help; `python -m argae_core warm` itself is run by argae_core.warm (no torch).
    warm = commands.add_parser("warm", help="compile umap into numba's disk cache once (after installing), "
                                            "so the first UMAP picture takes seconds")
    warm.add_argument("--nice", type=int, default=0, help="lower this process's priority by N [0]")

    add_export_script_command(commands)
    return parser


def program_name() -> str:
    """`argae` when started by the console script, else how `-m` started it."""
    return "argae" if os.path.basename(sys.argv[0] or "") == "argae" else "python -m argae_core"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "warm":
        from .warm import main as warm
        return warm(["--nice", str(args.nice)])
    if args.threads is not None and args.threads < 1:
        print(f"argae: --threads: must be at least 1, got {args.threads}", file=sys.stderr)
        return EXIT_CONFIG
    set_threads(args)
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"argae: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("argae: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (`| head`): nobody is left to read a message
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:  # a bug or an OS error: still one line, details on request
        if os.environ.get("ARGAE_DEBUG"):
            raise
        print(f"argae: failed: {type(exc).__name__}: {exc} (set ARGAE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return EXIT_FAILED


def set_threads(args: argparse.Namespace) -> None:
    """torch's thread count: --threads, else the cores free now (`threads.choose_threads`);
    the reason goes into `args.threads_note` for the progress line."""
    args.threads_asked = args.threads is not None or asked_threads() is not None
    if args.threads is None:
        args.threads, args.threads_note = choose_threads()
    else:
        args.threads_note = f"{args.threads} thread(s): --threads"
    torch_threads(args.threads)


def torch_threads(count: int) -> None:
    import torch
    torch.set_num_threads(count)


# ------------------------------------------------------- export-script (issue 17)
def add_export_script_command(commands) -> None:
    export = commands.add_parser(
        "export-script", help="write one standalone Python script that retrains a saved run",
        description="Write a script that needs only torch and torch_geometric and retrains the saved run "
                    "RUN_ID (same split, knobs and steering), printing its test AUC / AP.")
    export.add_argument("run_id", metavar="RUN_ID", help="a run under runs/ (ARGAE_RUNS_DIR)")
    export.add_argument("-o", "--output", default=None, metavar="FILE", help="write here [stdout]")
    add_threads_flag(export)
    export.set_defaults(handler=cmd_export_script)


def cmd_export_script(args: argparse.Namespace) -> int:
    from .export_script import ExportError, export_script
    from .runs import RunError
    try:
        script = export_script(args.run_id)
    except (ExportError, RunError) as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    if args.output is None:
        sys.stdout.write(script.decode())
    else:
        try:
            with open(args.output, "wb") as handle:
                handle.write(script)
        except OSError as exc:
            raise CliError(f"cannot write {args.output} ({exc.strerror or exc})", EXIT_FAILED) from None
        print(f"wrote {args.output}: python {args.output} retrains run {args.run_id}", file=sys.stderr)
    return 0


# -------------------------------------------------------------------- train
def load_or_fail(config: TrainConfig) -> Graph:
    try:
        return load_graph(config)
    except DatasetUnavailable as exc:
        raise CliError(str(exc), EXIT_DATASET) from None


def make_trainer(config: TrainConfig, graph: Graph, split=None, plan=None):
    from .training import Trainer
    try:
        return Trainer(config, graph=graph, split=split, plan=plan)
    except DatasetUnavailable as exc:  # e.g. too few edges to split
        raise CliError(str(exc), EXIT_DATASET) from None
    except RuntimeError as exc:  # e.g. device cuda without a GPU
        raise CliError(f"{flag('device')}: {exc}", EXIT_CONFIG) from None


def add_steer_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steer", action="append", default=[], metavar="EPOCH:KNOB=VALUE[,...]",
                        help="change the game from EPOCH on (repeatable), e.g. 120:reg_weight=1 or "
                             "50:adversary=off,encoder_lr=0.001; knobs: reg_weight, encoder_lr, "
                             "discriminator_lr, discriminator_steps, adversary (on/off)")


def steer_plan(config: TrainConfig, items: list[str]) -> list[dict]:
    from .steering import SteeringError, plan_history
    try:
        return plan_history(config, items)
    except SteeringError as exc:
        raise CliError(f"--steer {exc}", EXIT_CONFIG) from None


def cmd_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    plan = steer_plan(config, args.steer)
    graph = load_or_fail(config)
    trainer = make_trainer(config, graph, plan=plan)
    writer = None if args.no_save else _run_writer(config, graph)
    records = iter(trainer) if writer is None else _record_run(trainer, writer)
    bar = tqdm(total=config.epochs, desc=f"{graph.name} {config.model.upper()} [{args.threads_note}]",
               unit="epoch", file=sys.stderr, disable=None, leave=False)
    yielding = Yielding(args.threads, torch_threads, asked=args.threads_asked)   # one fewer while pictures are drawn
    try:
        for record in records:
            yielding.check()
            bar.update(1)
            bar.set_postfix(loss=f"{record.encoder_loss:.3f}",
                            best_val_auc="-" if trainer.best_val_auc < 0 else f"{trainer.best_val_auc:.3f}")
    except KeyboardInterrupt:
        saved = f"; partial run saved in {writer.path}" if writer else ""
        raise CliError(f"interrupted at epoch {trainer.epoch}{saved}", EXIT_INTERRUPTED) from None
    finally:
        bar.close()
        yielding.close()
    metrics = _saved_metrics(writer) if writer else trainer.final_metrics()
    run_dir = str(writer.path) if writer else None
    if args.json:
        print(json.dumps(dict(train_json(metrics, config, run_dir), steering=trainer.steering), default=plain))
    else:
        print(metrics_table(metrics, config, graph))
        if run_dir:
            print(f"run saved in {run_dir}")
    return 0


def cmd_export_tensorboard(args: argparse.Namespace) -> int:
    from .tensorboard_export import ExportError, export_tensorboard
    out = args.out or os.path.join("tensorboard", args.run_id)
    try:
        done = export_tensorboard(args.run_id, out, replace=args.replace)
    except ExportError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    except OSError as exc:
        raise CliError(f"cannot write {out} ({exc})", EXIT_FAILED) from None
    print(f"{done['scalars']:,} scalar points and {done['snapshots']} latent snapshots of run "
          f"{args.run_id} written to {done['folder']}\nsee them with: tensorboard --logdir "
          f"{os.path.dirname(done['folder'].rstrip('/')) or done['folder']}")
    return 0


def _run_writer(config: TrainConfig, graph: Graph):
    from .runs import RunWriter
    try:
        return RunWriter(config, graph, source="cli")
    except OSError as exc:
        raise CliError(f"cannot save the run ({exc}); set ARGAE_RUNS_DIR or pass --no-save",
                       EXIT_FAILED) from None


def _record_run(trainer, writer):
    from .runs import record_run
    return record_run(trainer, writer)


def _saved_metrics(writer) -> dict:
    """The final metrics `record_run` computed and saved (no second evaluation)."""
    return json.loads((writer.path / "metrics.json").read_text())


def train_json(metrics: dict, config: TrainConfig, run_dir: str | None) -> dict:
    out = {key: None for key in REQUIRED_JSON_KEYS}
    out.update(metrics)
    out.update(config=config.to_dict(), run_dir=run_dir)
    return out


TABLE_ROWS = (("test_auc", "test AUC"), ("test_ap", "test AP"), ("test_edges", "test edges (scores rest on)"),
              ("acc", "clustering ACC"), ("nmi", "clustering NMI"), ("ari", "clustering ARI"),
              ("z_std", "spread of Z (prior: 1)"), ("norm_ratio", "norm of z / prior's"),
              ("c2st", "C2ST accuracy (0.5: like prior)"), ("c2st_shape", "C2ST at unit spread"),
              ("mmd", "MMD to N(0, I)"), ("mmd_shape", "MMD at unit spread"),
              ("best_epoch", "reported epoch (best val AUC)"), ("epochs_run", "epochs run"),
              ("diverged_at", "diverged at epoch"), ("seconds_per_epoch", "seconds per epoch"))


def metrics_table(metrics: dict, config: TrainConfig, graph: Graph) -> str:
    lines = [f"{config.model.upper()} on {graph.name} ({graph.num_nodes} nodes, "
             f"{graph.num_edges} edges), seed {config.seed}"]
    if metrics.get("diverged"):
        lines.append(f"diverged at epoch {metrics.get('diverged_at')}: a loss became NaN or "
                     "infinite; try lower learning rates")
    if metrics.get("degenerate") in DEGENERATE_NOTES:
        lines.append(f"{DEGENERATE_NOTES[metrics['degenerate']]} {DEGENERATE_HINT}")
    if metrics.get("clustering_capped"):
        lines.append(metrics["clustering_capped"])
    if metrics.get("sampler"):
        lines.append(f"trained sampled, by {metrics['sampler']}")
    width = max(len(label) for _, label in TABLE_ROWS)
    for key, label in TABLE_ROWS:
        value = metrics.get(key)
        if value is None:
            continue
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"  {label:<{width}}  {text}")
    return "\n".join(lines)


# ---------------------------------------------------------------- reproduce
def _names(text: str, allowed, what: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise CliError(f"{flag(what)}: unknown {', '.join(unknown) or 'empty list'}; choose from "
                       f"{', '.join(allowed)}", EXIT_CONFIG)
    return names


def run_config(base: TrainConfig, dataset: str, model: str, seed: int) -> TrainConfig:
    """The base settings for one cell; weights only go to models that have the term."""
    return base.replace(dataset=dataset, model=model, seed=seed).without_unused()


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .config import BUILTIN_DATASETS
    if not 1 <= args.seeds <= 100:
        raise CliError(f"--seeds: must be between 1 and 100, got {args.seeds}", EXIT_CONFIG)
    datasets = _names(args.datasets, BUILTIN_DATASETS, "datasets")
    models = _names(args.models, MODEL_KINDS, "models")
    base = config_from_args(args, skip=PER_RUN_FIELDS)
    for dataset in datasets:
        for model in models:
            try:
                run_config(base, dataset, model, 0).validate()
            except ConfigError as exc:
                raise config_error(exc, f" for {model} on {dataset}") from None
    graphs = {}
    for dataset in datasets:
        try:
            graphs[dataset] = load_graph(run_config(base, dataset, models[0], 0))
        except DatasetUnavailable as exc:
            print(f"argae: skipping {dataset}: {exc}", file=sys.stderr)
    if not graphs:
        raise CliError("no dataset could be loaded; nothing to reproduce", EXIT_DATASET)
    seeds = list(range(args.seeds))
    results = train_grid(base, graphs, models, seeds, note=args.threads_note)
    if args.json:
        print(json.dumps({"seeds": seeds, "settings": base.to_dict(), "skipped": sorted(set(datasets) - set(graphs)),
                          "results": results}, default=plain))
    else:
        print(reproduce_report(results, graphs, seeds, base))
    return 0


def train_grid(base: TrainConfig, graphs: dict[str, Graph], models: list[str],
               seeds: list[int], note: str = "") -> dict:
    """results[dataset][model] = list of final metrics, one per seed. Every model of a seed
    trains on the same edge split."""
    results = {d: {m: [] for m in models} for d in graphs}
    total = len(graphs) * len(models) * len(seeds) * base.epochs
    with tqdm(total=total, unit="epoch", file=sys.stderr, disable=None) as bar:
        for dataset, graph in graphs.items():
            for seed in seeds:
                try:
                    split = split_edges(graph, seed)
                except DatasetUnavailable as exc:
                    raise CliError(str(exc), EXIT_DATASET) from None
                for model in models:
                    config = run_config(base, dataset, model, seed)
                    bar.set_description(f"{dataset} {model} seed {seed}" + (f" [{note}]" if note else ""))
                    trainer = make_trainer(config, graph, split)
                    for _ in trainer:
                        bar.update(1)
                    bar.update(config.epochs - trainer.epoch)  # a diverged run ends early
                    results[dataset][model].append(trainer.final_metrics())
    return results


# mark a cell: meets the paper (mean, at the precision shown) or falls short
def _symbols() -> tuple[str, str, str]:
    try:
        "±✓✗".encode(sys.stdout.encoding or "ascii")
        return "±", "✓", "✗"
    except (UnicodeEncodeError, LookupError):
        return "+-", "ok", "NO"


def mean_std(values: list) -> tuple[float, float, int]:
    """Mean and sample std over the finite values (std 0 for one), and how many there were."""
    finite = [number for v in values if (number := finite_number(v)) is not None]
    if not finite:
        return math.nan, math.nan, 0
    stat = Stat.of(finite)
    return stat.mean, stat.std or 0.0, stat.n


def _cell(runs: list[dict], key: str, scale: float, digits: int, paper: float | None) -> str:
    pm, yes, no = _symbols()
    mean, std, n = mean_std([r.get(key) for r in runs])
    if n == 0:
        return "diverged"
    text = f"{mean * scale:.{digits}f} {pm} {std * scale:.{digits}f}"
    if n < len(runs):
        text += f" ({len(runs) - n} diverged)"
    if paper is None:
        return f"{text}  (paper -)"
    mark = yes if round(mean * scale, digits) >= paper else no
    return f"{text}  (paper {paper:.{digits}f}) {mark}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def reproduce_report(results: dict, graphs: dict[str, Graph], seeds: list[int],
                     base: TrainConfig) -> str:
    _, yes, _ = _symbols()
    out = [f"Mean ± std over seeds {seeds[0]}..{seeds[-1]}, {base.epochs} epochs each; reported "
           f"epoch chosen by validation AUC. Paper: Pan et al., IJCAI 2018. {yes} = mean meets or "
           "beats the paper at the precision shown."]
    met = total = 0
    for dataset, by_model in results.items():
        graph = graphs[dataset]
        link_rows, cluster_rows = [], []
        for model, runs in by_model.items():
            auc_paper, ap_paper = PAPER_LINK.get(dataset, {}).get(model, (None, None))
            link_rows.append([model.upper(), _cell(runs, "test_auc", 100, 1, auc_paper),
                              _cell(runs, "test_ap", 100, 1, ap_paper)])
            paper = PAPER_CLUSTERING.get(dataset, {}).get(model, (None, None, None))
            if graph.num_classes > 1:
                cluster_rows.append([model.upper()] + [_cell(runs, key, 1, 3, p) for key, p in
                                                       zip(("acc", "nmi", "ari"), paper)])
        cells = [c for row in link_rows + cluster_rows for c in row[1:] if "(paper -)" not in c]
        met += sum(c.endswith(yes) for c in cells)
        total += len(cells)
        out += ["", f"{graph.name}: link prediction, test AUC / AP x100",
                _table(["model", "AUC", "AP"], link_rows)]
        if cluster_rows:
            out += ["", f"{graph.name}: clustering of Z (KMeans, k = {graph.num_classes})",
                    _table(["model", "ACC", "NMI", "ARI"], cluster_rows)]
    if total:
        out += ["", f"{met} of {total} cells with a paper number meet it."]
    return "\n".join(out)
