"""The cells of `harness characterize --ray [ADDRESS]` as Ray tasks: on a cluster (ADDRESS, as
`ray.init` takes it) or on a Ray instance started here (`local`). Optional: `pip install
tinyml-board-harness[ray]`. Results come back in the order of the items, as from the local pool
(harness/interrupt.run_pool), so both give the same characterization."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from harness.errors import HarnessError
from harness.interrupt import Interrupted, signum_of

ROOT = Path(__file__).resolve().parent.parent


def run_ray(fn: Callable, items: list, address: str, on_done: Callable = lambda r: None) -> list:
    try:
        import ray
    except ImportError:
        raise HarnessError("--ray needs Ray: pip install 'tinyml-board-harness[ray]'") from None
    started = not ray.is_initialized()
    if started:
        # the workers import this checkout of harness, wherever the cluster runs them
        ray.init(address=None if address == "local" else address, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    task = ray.remote(fn)
    refs = [task.remote(item) for item in items]
    index = {ref: i for i, ref in enumerate(refs)}
    results: dict[int, object] = {}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                results[index[ref]] = ray.get(ref)
                on_done(results[index[ref]])
    except KeyboardInterrupt as e:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise Interrupted(signum_of(e), [results[i] for i in sorted(results)]) from None
    finally:
        if started:
            ray.shutdown()
    return [results[i] for i in range(len(items))]
