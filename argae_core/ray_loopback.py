"""Keep Ray on 127.0.0.1.

Ray rewrites a node address of 127.0.0.1 into the machine's external address (so that other
machines could join), and its servers then listen on every interface. A class served from one
machine needs none of that: with the rewrite turned off, every server of a Ray node started in
this process (GCS, raylet, workers, agents) listens on loopback only.

    python -m argae_core.ray_loopback start --head --node-ip-address 127.0.0.1 ...

is `ray start` with the rewrite off (deploy/cluster.py starts its nodes so).
"""
from __future__ import annotations

LOOPBACK = "127.0.0.1"


def keep_on_loopback() -> None:
    """Take node addresses as given (Ray private API: checked against ray 2.60)."""
    import ray._private.services as services
    services.resolve_ip_for_localhost = lambda host: host


if __name__ == "__main__":
    keep_on_loopback()
    from ray.scripts.scripts import main
    main()
