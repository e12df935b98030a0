"""Training speed through the dashboard's job path vs headless, in one process.

    ARGAE_DATA_DIR=../shared/datasets python benchmarks/bench_ui_job.py [--epochs 600] [--repeats 3]
        [--executor process|ray|cluster]

(a) headless: the engine's Trainer iterated directly;
(b) UI job:   the same config submitted to a JobManager with one warm worker process, while
              this process redraws the four live charts every 0.5 s as the Train page does.
              --executor ray: one Ray task instead (a private local Ray, one CPU);
              --executor cluster: through the shared JobService actor, as a replica reaches it.
Prints epochs per second of each (median over repeats), the ratio (target >= 0.80) and the
first-point latency: Start -> first epoch record in the manager (target < 1.5 s, warm).
"""
from __future__ import annotations

import argparse
import statistics
import time

from argae_core import plots
from argae_core.config import TrainConfig
from argae_core.jobs import JobManager, ProcessExecutor
from argae_core.training import Trainer

REFRESH = 0.5


def headless(config: TrainConfig) -> float:
    trainer = Trainer(config)
    start = time.perf_counter()
    for _ in trainer:
        pass
    return config.epochs / (time.perf_counter() - start)


def ui_job(manager: JobManager, config: TrainConfig) -> tuple[float, float]:
    """(epochs per second from the first record seen to the last, seconds from submit to first
    record). The last is the sighting where the rows last grew, not the job's end: after its
    last epoch a run still computes its final metrics (clustering, prior match: about 1.5 s on
    Cora), which the headless loop does not time either."""
    submitted = time.perf_counter()
    job_id = manager.submit("bench", config)
    first = last = None
    last_epoch = 0
    while True:
        job = manager.get(job_id, "bench")
        rows = list(job.rows)
        now = time.perf_counter()
        if rows and first is None:
            first, first_epoch = now, len(rows)
        if len(rows) > last_epoch:
            last, last_epoch = now, len(rows)
        if rows:  # the page's refresh: all four figures from every row so far
            runs = {job.label: rows}
            for figure in (plots.discriminator_loss_figure, plots.encoder_loss_figure,
                           plots.discriminator_verdict_figure, plots.validation_figure):
                figure(runs).to_json()
        if not job.active:
            break
        manager.touch("bench")
        time.sleep(REFRESH if first is not None else 0.01)
    if job.state != "finished":
        raise SystemExit(f"job ended as {job.state}: {job.message}")
    # Epochs between the first and the last sighting, over the time between them (sightings
    # come every REFRESH seconds: runs of several seconds keep that error small).
    seconds = sum(r["seconds"] for r in job.rows[first_epoch:last_epoch])
    rate = (last_epoch - first_epoch) / max(last - first, seconds, 1e-9)
    return rate, first - submitted


def manager_for(executor: str):
    """The job path to measure; Ray is imported only when asked for."""
    if executor == "process":
        return JobManager(ProcessExecutor(slots=1))
    from argae_core import ray_jobs
    ray_jobs.connect("local", num_cpus=1)
    if executor == "ray":
        return JobManager(ray_jobs.RayExecutor(slots=1))
    return ray_jobs.ClusterJobManager(ray_jobs.job_service(slots=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--executor", choices=("process", "ray", "cluster"), default="process")
    args = parser.parse_args()
    config = TrainConfig(dataset=args.dataset, model="argva", epochs=args.epochs, seed=0)

    manager = manager_for(args.executor)
    ui_job(manager, config.replace(epochs=5))  # warm: worker imports, dataset cache
    head, job, latency = [], [], []
    for _ in range(args.repeats):  # interleaved, so machine noise hits both sides alike
        head.append(headless(config))
        rate, first = ui_job(manager, config)
        job.append(rate)
        latency.append(first)
    manager.shutdown()

    h, j = statistics.median(head), statistics.median(job)
    print(f"{args.dataset} ARGVA, {args.epochs} epochs, {args.repeats} repeats (median), executor {args.executor}")
    print(f"{'path':<28}{'epochs/s':>10}")
    print(f"{'headless Trainer':<28}{h:>10.1f}")
    print(f"{'UI job + live refresh':<28}{j:>10.1f}")
    print(f"ratio UI / headless: {j / h:.2f}  (target >= 0.80)")
    print(f"first-point latency (warm): median {statistics.median(latency):.2f} s, "
          f"max {max(latency):.2f} s  (target < 1.5 s)")


if __name__ == "__main__":
    main()
