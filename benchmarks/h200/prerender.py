"""Render the full preset's lab videos for one network, one folder per process (the benchmark reuses them)."""
import sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from codephys_plugin.benchmark.cli import PRESETS
from codephys_plugin.benchmark import datasets

WORK, NETWORK, WORKERS = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
PROTOCOL = PRESETS["full"]
JOBS = [("train", None), ("val", None)] + [("test", c) for c in PROTOCOL.conditions()]

def render(job):
    split, condition = job
    name = split if condition is None else f"{split}_{condition}"
    started = time.time()
    datasets.ensure(WORK, NETWORK, datasets.dataset_config(PROTOCOL, NETWORK, split, condition), name)
    return name, round(time.time() - started, 1)

if __name__ == "__main__":
    started = time.time()
    with ProcessPoolExecutor(WORKERS) as pool:
        for name, seconds in pool.map(render, JOBS):
            print(name, seconds, flush=True)
    print("prerender total", round(time.time() - started, 1), flush=True)
