"""Simulator throughput: how much faster than real time, in samples/s and waveform MB/s.

The end-to-end pipeline target is >= 1 M samples/s on 2 cores, so the simulator has to leave
most of that budget to the runtime, the store and the detectors. This measures generation only
(tables built, nothing stored) and, in the same run, the floor: drawing the same number of
float32 Gaussian numbers with numpy, the least any noisy simulator must spend.

Run: `python -m edgetwin.sim.throughput [plant.yaml] [--hours H] [--dt S] [--repeats N]`
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetwin.core.config import PlantConfig, load_plant
from edgetwin.sim.plant import PlantSimulator

DEMO = Path(__file__).with_name("plants") / "demo.yaml"
TARGET_E2E_SAMPLES_S = 1_000_000


@dataclass(frozen=True)
class Throughput:
    plant: str
    assets: int
    plant_s: float
    dt_s: float
    wall_s: float  # median over repeats
    cpu_s: float  # median process CPU time: what a busy shared machine cannot inflate
    scalar_rows: int
    waveform_points: int
    waveform_bytes: int
    floor_cpu_s: float  # median CPU time of numpy drawing the same number of values

    @property
    def samples_per_s(self) -> float:
        """Per CPU second (one core), the figure that does not depend on other load."""
        return (self.scalar_rows + self.waveform_points) / self.cpu_s

    @property
    def samples_per_wall_s(self) -> float:
        return (self.scalar_rows + self.waveform_points) / self.wall_s

    @property
    def waveform_mb_per_s(self) -> float:
        return self.waveform_bytes / self.cpu_s / 1e6

    @property
    def real_time_factor(self) -> float:
        return self.plant_s / self.cpu_s


def replicate(plant: PlantConfig, copies: int) -> PlantConfig:
    """The same line `copies` times over (line1, line2, ...), for scaling runs."""
    if copies <= 1:
        return plant
    assets = []
    for c in range(copies):
        for a in plant.assets:
            assets.append(a.model_copy(update={"path": a.path.replace("line1", f"line{c + 1}")}))
    return plant.model_copy(update={"assets": assets, "name": f"{plant.name}x{copies}"})


def measure(
    plant: PlantConfig, plant_s: float, dt_s: float, repeats: int = 5, seed: int = 7
) -> Throughput:
    """Median wall time of simulating `plant_s` plant seconds in steps of `dt_s`."""
    walls, cpus, floors = [], [], []
    rows = points = nbytes = 0
    n_steps = max(1, round(plant_s / dt_s))
    sim = PlantSimulator(plant, seed=seed, start_ns=0)
    for _ in range(repeats):
        sim = PlantSimulator(plant, seed=seed, start_ns=0)
        rows = points = nbytes = 0
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(n_steps):
            for table in sim.step(dt_s):
                if "values" in table.column_names:
                    values = table.column("values")
                    n = sum(len(chunk.values) for chunk in values.chunks)
                    points += n
                    nbytes += table.nbytes
                else:
                    rows += table.num_rows
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        rng = np.random.default_rng(0)
        c0 = time.process_time()
        rng.standard_normal(rows + points, dtype=np.float32)
        floors.append(time.process_time() - c0)
    return Throughput(
        plant=plant.name,
        assets=len(sim.assets),
        plant_s=n_steps * dt_s,
        dt_s=dt_s,
        wall_s=statistics.median(walls),
        cpu_s=statistics.median(cpus),
        scalar_rows=rows,
        waveform_points=points,
        waveform_bytes=nbytes,
        floor_cpu_s=statistics.median(floors),
    )


def _table(results: list[Throughput]) -> str:
    head = (
        f"{'plant':<10}{'assets':>7}{'plant h':>8}{'dt s':>6}{'cpu s':>7}{'wall s':>8}{'x real':>9}"
        f"{'Msamples/s':>11}{'(wall)':>8}{'scalar/s':>10}{'wave MB/s':>10}{'vs 1M/s':>8}"
        f"{'vs floor':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        floor_rate = (r.scalar_rows + r.waveform_points) / r.floor_cpu_s
        lines.append(
            f"{r.plant:<10}{r.assets:>7}{r.plant_s / 3600:>8.1f}{r.dt_s:>6.0f}{r.cpu_s:>7.2f}"
            f"{r.wall_s:>8.2f}{r.real_time_factor:>9.0f}{r.samples_per_s / 1e6:>11.2f}"
            f"{r.samples_per_wall_s / 1e6:>8.2f}"
            f"{r.scalar_rows / r.cpu_s:>10.0f}{r.waveform_mb_per_s:>10.1f}"
            f"{r.samples_per_s / TARGET_E2E_SAMPLES_S:>8.1f}x"
            f"{r.samples_per_s / floor_rate:>8.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plant", nargs="?", default=str(DEMO))
    ap.add_argument("--hours", type=float, default=2.0, help="plant hours per run")
    ap.add_argument("--dt", type=float, nargs="+", default=[1.0, 10.0, 60.0], help="step sizes, s")
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 5], help="line copies")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    base = load_plant(args.plant)
    results = [
        measure(replicate(base, c), args.hours * 3600.0, dt, args.repeats)
        for c in args.copies
        for dt in args.dt
    ]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from rich.console import Console

    console = Console(width=140)
    console.print(_table(results), highlight=False)
    console.print(
        f"median of {args.repeats} runs; rates per CPU second of one core ('(wall)': per wall "
        f"second on this machine as loaded now); 'vs 1M/s' = ratio to the end-to-end target; "
        f"'vs floor' = ratio to numpy drawing as many float32 normals; peak RSS {peak_mib:.0f} MiB",
        highlight=False,
    )


if __name__ == "__main__":
    main()
