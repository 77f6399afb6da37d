"""The demo's answer key, measured: when does a plain detector see the fault, and when a limit?

The demo promises that the simulated outer-race spall is visible long before failure while the
healthy assets stay quiet. This runs the simulator and checks that promise with the simplest
honest detector: per-burst features (rms, kurtosis, envelope-spectrum prominence at BPFO computed
from the measured speed), z-scored against the first `fit_s` seconds of each asset. It is a
property of the simulator, not a product detector (those live in `pdm/`).

Run: `python -m edgetwin.sim.story [plant.yaml] [--hours 10]`
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import signal as sps
from scipy import stats

from edgetwin.core.config import PlantConfig, load_plant
from edgetwin.sim.bearing import defect_frequencies
from edgetwin.sim.plant import PlantSimulator

DEMO = Path(__file__).with_name("plants") / "demo.yaml"
FEATURES = ("rms", "kurtosis", "envelope_bpfo")


@dataclass
class AssetStory:
    path: str
    fault_mode: str
    onset_s: float | None
    failure_s: float | None
    max_z_healthy: dict[str, float] = field(default_factory=dict)  # before onset (or all run)
    first_alarm_s: dict[str, float | None] = field(default_factory=dict)  # first z > threshold
    bearing_temp_max_healthy: float = float("nan")
    bearing_temp_cross_s: float | None = None


def burst_features(x: np.ndarray, rate_hz: float, bpfo_hz: float) -> tuple[float, float, float]:
    """rms (g), excess kurtosis, and envelope-spectrum peak within 2 % of BPFO over its median."""
    lo, hi = min(2000.0, 0.2 * rate_hz), min(5000.0, 0.45 * rate_hz)
    sos = sps.butter(4, [lo, hi], btype="bandpass", fs=rate_hz, output="sos")
    env = np.abs(sps.hilbert(sps.sosfilt(sos, x)))
    spec = np.abs(np.fft.rfft(env - env.mean()))
    f = np.fft.rfftfreq(len(env), 1.0 / rate_hz)
    near = np.abs(f - bpfo_hz) <= 0.02 * bpfo_hz + f[1]
    band = (f > 10.0) & (f < 500.0)
    return (
        float(np.std(x)),
        float(stats.kurtosis(x)),
        float(spec[near].max() / np.median(spec[band])),
    )


def run(
    plant: PlantConfig,
    hours: float = 10.0,
    fit_s: float = 1800.0,
    z_alarm: float = 6.0,
    temp_limit_c: float = 50.0,
    seed: int | None = None,
) -> list[AssetStory]:
    sim = (
        PlantSimulator.for_source(plant, start_ns=0)
        if seed is None
        else PlantSimulator(plant, seed, 0)
    )
    scalars: dict[str, list[np.ndarray]] = {}  # signal id -> [(ts_s, value)] per step
    bursts: list[tuple[str, float, float, np.ndarray]] = []  # (asset, ts_s, rate_hz, values)
    for _ in range(int(np.ceil(hours * 6))):
        for table in sim.step(600.0):
            ts_s = table["ts"].cast(pa.int64()).to_numpy() / 1e9
            signal = table["signal"].combine_chunks()
            codes = signal.indices.to_numpy()
            names = signal.dictionary.to_pylist()
            if "value" in table.column_names:
                val = table["value"].to_numpy()
                for code, name in enumerate(names):
                    m = codes == code
                    scalars.setdefault(name, []).append(np.column_stack([ts_s[m], val[m]]))
                continue
            rates = table["rate_hz"].to_numpy()
            for r in range(table.num_rows):
                name = names[codes[r]]
                if name.endswith("/vib_de"):
                    values = np.asarray(table["values"][r].values, dtype=float)
                    bursts.append((name.rsplit("/", 1)[0], ts_s[r], rates[r], values))
    series = {k: np.concatenate(v) for k, v in scalars.items()}
    feats: dict[str, list[tuple[float, float, float, float]]] = {p: [] for p in sim.assets}
    for path, t0, rate, x in bursts:
        speed = series[f"{path}/speed"]
        shaft_hz = float(np.interp(t0, speed[:, 0], speed[:, 1])) / 60.0  # measured, at the burst
        if shaft_hz < 1.0:
            continue  # stopped
        bpfo = defect_frequencies(sim.asset_model(path).params.bearing.geometry(), shaft_hz).bpfo
        feats[path].append((t0, *burst_features(x, rate, bpfo)))
    temps = {p: [series[f"{p}/bearing_temp"]] for p in sim.assets}
    stories = []
    for path, gt in sim.ground_truth().items():
        story = AssetStory(path, gt.fault_mode, gt.onset_s, gt.failure_s)
        f = np.asarray(feats[path])
        healthy_until = gt.onset_s if gt.onset_s is not None else np.inf
        fit = f[f[:, 0] <= fit_s, 1:]
        z = (f[:, 1:] - fit.mean(axis=0)) / fit.std(axis=0)
        after = f[:, 0] > fit_s
        for j, name in enumerate(FEATURES):
            pre = after & (f[:, 0] < healthy_until)
            story.max_z_healthy[name] = float(z[pre, j].max()) if pre.any() else float("nan")
            hits = np.flatnonzero(after & (z[:, j] > z_alarm))
            story.first_alarm_s[name] = float(f[hits[0], 0]) if len(hits) else None
        tt = np.concatenate(temps[path])
        pre_t = tt[tt[:, 0] < healthy_until]
        story.bearing_temp_max_healthy = float(pre_t[:, 1].max())
        cross = np.flatnonzero(tt[:, 1] > temp_limit_c)
        story.bearing_temp_cross_s = float(tt[cross[0], 0]) if len(cross) else None
        stories.append(story)
    return stories


def _fmt_h(t: float | None) -> str:
    return "-" if t is None else f"{t / 3600:.2f} h"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plant", nargs="?", default=str(DEMO))
    ap.add_argument("--hours", type=float, default=10.0)
    args = ap.parse_args(argv)
    from rich.console import Console

    head = (
        f"{'asset':<10}{'fault':<11}{'onset':>8}{'failure':>9}  {'max healthy z (rms/kurt/env)':<30}"
        f"{'first z>6 (rms/kurt/env)':<30}{'Tb max ok':>10}{'Tb>50C':>9}"
    )
    lines = [head, "-" * len(head)]
    for s in run(load_plant(args.plant), hours=args.hours):
        zs = "/".join(f"{s.max_z_healthy[k]:.1f}" for k in FEATURES)
        first = "/".join(_fmt_h(s.first_alarm_s[k]) for k in FEATURES)
        lines.append(
            f"{s.path.rsplit('/', 1)[-1]:<10}{s.fault_mode:<11}{_fmt_h(s.onset_s):>8}"
            f"{_fmt_h(s.failure_s):>9}  {zs:<30}{first:<30}{s.bearing_temp_max_healthy:>10.1f}"
            f"{_fmt_h(s.bearing_temp_cross_s):>9}"
        )
    Console(width=160).print("\n".join(lines), highlight=False)


if __name__ == "__main__":
    main()
