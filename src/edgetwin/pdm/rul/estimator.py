"""`CnnRulRegressor`: regime normalisation, windows, a k-fold ensemble of CNNs, conformal intervals.

Training recipe (scikit-learn contract: ``__init__`` stores, ``fit`` returns self):

1. detect operating regimes and standardise sensors per regime (`RegimeNormalizer`);
2. cut a window ending at every cycle of every engine, target = min(RUL, cap);
3. split the *engines* into ``n_folds`` folds; member i trains on the other folds with AdamW and
   stops early on fold i (validation by engine, never by window, so no engine leaks); with
   ``n_repeats > 1`` this is done again on fresh random partitions (repeated k-fold);
4. the out-of-fold predictions of the members calibrate split-conformal intervals; each engine
   gets the mean of the members (one per repeat) that never saw it. A second, selection-free
   set comes with them (`cross_selected`: each half of a held-out fold predicted at the epoch
   the other half chose); it gives ``cross_oof_rmse_`` and, with ``calibration="cross"``,
   the intervals;
5. the members' mean is the point prediction, exported as one ONNX graph.

torch is imported inside the methods that need it, so this module is cheap to import.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError
from edgetwin.pdm.datasets.cmapss import N_SENSORS, N_SETTINGS, CmapssRuns
from edgetwin.pdm.metrics import rmse
from edgetwin.pdm.rul.conformal import MondrianIntervals
from edgetwin.pdm.rul.regimes import RegimeNormalizer
from edgetwin.pdm.rul.windows import (
    add_age,
    add_regime_onehot,
    all_windows,
    cap_rul,
    causal_baselines,
    pool_steps,
    preprocess_histories,
)

log = logging.getLogger(__name__)

#: What training one member gives back: (model at its kept epoch, held-out prediction there,
#: selection-free held-out prediction (`cross_selected`), epochs run, seconds, time budget).
MemberResult = tuple[Any, np.ndarray, np.ndarray, int, float, float]

#: Cycles of history the model reads. 80, not 40 (the default until 2026-11-25): most of the
#: error sits between 50 cycles left and the cap, where an engine's last 40 cycles need not show
#: wear; 80 cycles reach back to the engine's own pre-wear level (docs/pdm_rul.md, "Window").
DEFAULT_WINDOW = 80
#: Cycles averaged per input step: 80 cycles reach the network as 40 steps, so it costs what the
#: 40-cycle window cost and the INT8 twin keeps its speed-up (at full rate it fell to 2.4x).
DEFAULT_STEP_CYCLES = 2


class CnnRulRegressor:
    """Remaining-useful-life regressor for run-to-failure fleets (C-MAPSS layout).

    Parameters
    ----------
    window: cycles of history the model reads.
    step_cycles: cycles averaged into one time step of the network's input (``window`` must be a
        multiple): the network sees window / step_cycles steps, so a longer history costs no
        more at inference (see `pool_steps`).
    cap_cycles: RUL target cap (piecewise-linear target), cycles.
    n_folds: engine folds per repeat (>= 2); each fold is held out by one member.
    n_repeats: repeated engine k-fold (bagging over fold partitions): ``n_repeats`` random
        engine partitions, each trained as ``n_folds`` members, so ``n_folds * n_repeats``
        members in all, folded into the one grouped graph. Every engine is held out exactly
        once per repeat, so its out-of-fold prediction (conformal calibration, ``oof_rmse_``)
        is the mean of the ``n_repeats`` members that never saw it. 1 = plain k-fold (the
        default). 2 (20 members) left the test split level (3 seeds) at 1.7-1.9x the
        inference time, so it is an option, not the default; see docs/pdm_rul.md.
    max_epochs, patience: early stopping on the held-out fold's RMSE.
    batch_size, lr, weight_decay: AdamW settings.
    samples_per_epoch: windows drawn per epoch (neighbouring windows overlap heavily, so a
        full pass is redundant; this also makes an epoch cost the same on any fleet size).
    channels, dropout: network width and head dropout.
    activation: of the convolutions, ``"relu"`` (default; int8-friendly, see
        `edgetwin.pdm.rul.net`), ``"leaky"`` or ``"gelu"``.
    head_activation: of the head's hidden layer (``None``: same as ``activation``). GELU
        here (a [batch, 64] tensor, cheap to run in float inside the INT8 twin) kept the
        accuracy of the all-GELU net, which all-ReLU and LeakyReLU lost (see docs/pdm_rul.md).
    residual: ``"sum"`` (``act(h + conv(h))``), whose skip connection folds into the
        convolution at export: no residual ``Add`` in the graph, 8 % less INT8 and 4 % less
        fp32 latency at batch 1; or ``"branch"`` (``h + act(conv(h))``, the network before
        2026-11-25), 0.19 / 0.05 cycles lower out-of-fold RMSE on FD001 / FD002 (3 seeds).
        The default trades that for latency; see docs/pdm_rul.md.
    age_scale: the model also reads the asset's age, its cycle number / ``age_scale``:
        ``"auto"`` (default) divides by the training engines' mean life, a number by that many
        cycles, ``None`` leaves the age out. Histories must then count cycles from the asset's
        first (or carry the cycle number in full rows).
    baseline_cycles: the model also reads each sensor minus its mean over the asset's first
        ``baseline_cycles`` cycles (change since start; histories must start at cycle 1);
        ``None`` leaves it out. Age and change since start together (the defaults since
        2026-11-25) give the model how far the engine has drifted from its own start and in
        how many cycles, i.e. its rate of wear: the selection-free out-of-fold RMSE fell by
        1.4-2.8 cycles on FD001 and FD002 at two seeds; either alone gained less (age) or was
        unstable (change since start). See docs/pdm_rul.md, "Age and change since start".
    regime_onehot: when true, the model also reads each cycle's operating regime as one-hot
        columns (nothing is added when a single regime is detected).
    noise_std: std of Gaussian noise added to training windows (standardised units).
    warp_std: when set, training windows are also magnitude-warped (Um et al. 2017): each
        feature of each window is multiplied by a smooth random curve through 4 knots drawn
        from N(1, warp_std), evenly spaced over the window (linear in between); see
        `magnitude_warp`.
    ema_decay: when set, each member keeps an exponential moving average (Polyak averaging)
        of its weights, updated after every optimiser step with this decay (warmed up as
        ``min(ema_decay, (1 + t) / (10 + t))`` at step t); the averaged weights are the ones
        validated for early stopping and kept. Same network, so no inference cost.
    huber_delta: when set, the training loss is Huber with this threshold (cycles) instead of
        the squared error: residuals beyond it count linearly.
    coverage: target coverage of the conformal intervals.
    calibration: which out-of-fold predictions calibrate the intervals (and the PHM08 shift):
        ``"kept"`` (default), each member's at the epoch it keeps, which early stopping chose
        on that same fold; or ``"cross"``, the selection-free ones of `cross_selected`.
        Measured on the 3-seed bench (2026-11-25): the cross ones are 0.39 / 0.28 cycles worse
        (FD001 / FD002) and move test coverage by +0.007 / -0.002 only, so the default stays;
        see docs/pdm_rul.md, "Calibration free of early stopping's choice".
    time_budget_s: total training time allowed; members share it, and a member that runs out
        stops at its best epoch so far (logged).
    n_threads: torch intra-op threads (of each worker process when ``n_jobs > 1``).
    n_jobs: members trained at the same time, in spawned worker processes (1: one by one in
        this process). Each member seeds its own generators, so the members do not depend on
        it; ``n_jobs=2, n_threads=1`` (what ``train-rul`` uses) runs two members on two cores
        (one process with ``n_threads=2`` was not timed against it).
        Workers are spawned, so a script that fits with ``n_jobs > 1`` needs the usual
        ``if __name__ == "__main__":`` guard.
    max_engines: train on the first engines only (for quick tests); None = all.
    random_state: seed of the fold split and of the members.
    """

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        step_cycles: int = DEFAULT_STEP_CYCLES,
        cap_cycles: float = 125.0,
        n_folds: int = 10,
        n_repeats: int = 1,
        n_jobs: int = 1,
        max_epochs: int = 40,
        patience: int = 8,
        batch_size: int = 256,
        samples_per_epoch: int = 10240,
        lr: float = 2e-3,
        weight_decay: float = 0.05,
        channels: int = 32,
        dropout: float = 0.5,
        activation: str = "relu",
        head_activation: str | None = "gelu",
        residual: str = "sum",
        noise_std: float = 0.3,
        warp_std: float | None = None,
        ema_decay: float | None = None,
        huber_delta: float | None = None,
        age_scale: float | str | None = "auto",
        baseline_cycles: int | None = 20,
        regime_onehot: bool = False,
        coverage: float = 0.9,
        calibration: str = "kept",
        time_budget_s: float = 540.0,
        n_threads: int = 2,
        max_engines: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.window = window
        self.step_cycles = step_cycles
        self.cap_cycles = cap_cycles
        self.n_folds = n_folds
        self.n_repeats = n_repeats
        self.n_jobs = n_jobs
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.samples_per_epoch = samples_per_epoch
        self.lr = lr
        self.weight_decay = weight_decay
        self.channels = channels
        self.dropout = dropout
        self.activation = activation
        self.head_activation = head_activation
        self.residual = residual
        self.noise_std = noise_std
        self.warp_std = warp_std
        self.ema_decay = ema_decay
        self.huber_delta = huber_delta
        self.age_scale = age_scale
        self.baseline_cycles = baseline_cycles
        self.regime_onehot = regime_onehot
        self.coverage = coverage
        self.calibration = calibration
        self.time_budget_s = time_budget_s
        self.n_threads = n_threads
        self.max_engines = max_engines
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters, as stored in the module manifest."""
        import inspect

        return {k: getattr(self, k) for k in inspect.signature(type(self)).parameters}

    # -- data ----------------------------------------------------------------------------------
    def _engine_windows(self, runs: CmapssRuns) -> tuple[list[np.ndarray], list[np.ndarray]]:
        slices = runs.engine_slices()
        if self.max_engines is not None:
            slices = slices[: self.max_engines]
        rul = runs.rul_train()
        xs, ys = [], []
        for s in slices:
            xs.append(self.windows_of(runs.features[s], runs.cycle[s]))
            ys.append(cap_rul(rul[s], self.cap_cycles).astype(np.float32))
        return xs, ys

    def windows_of(self, rows: np.ndarray, cycles: np.ndarray) -> np.ndarray:
        """Model inputs for every cycle of one engine's raw rows [cycles, 24]: [cycles, window, F]."""
        norm = self.normalizer_.transform(rows)
        n_sens = norm.shape[1]
        base = causal_baselines(norm, self.baseline_cycles) if self.baseline_cycles else None
        if self.age_scale_:
            norm = add_age(norm, cycles, self.age_scale_)
        if self.regime_onehot:
            norm = add_regime_onehot(norm, rows, self.normalizer_.to_params())
        win = all_windows(norm, self.window)
        if base is not None:
            win = np.concatenate([win, win[:, :, :n_sens] - base[:, None, :]], axis=2)
        return pool_steps(win.astype(np.float32), self.step_cycles)

    def _fitted_age_scale(self, runs: CmapssRuns) -> float | None:
        """The age input's divisor: None (no age input), the number given, or for ``"auto"`` the
        training engines' mean life, so the input reads "fraction of a typical life" whatever a
        cycle is on this fleet (C-MAPSS FD001 / FD002: 206 / 207 cycles)."""
        if self.age_scale is None:
            return None
        if self.age_scale == "auto":
            slices = runs.engine_slices()[: self.max_engines]
            return float(np.mean([runs.cycle[s][-1] for s in slices]))
        if isinstance(self.age_scale, str) or not float(self.age_scale) > 0:
            raise DataError(
                f"age_scale={self.age_scale!r}; use 'auto' (the training engines' mean life), a "
                "positive number of cycles, or None (no age input)"
            )
        return float(self.age_scale)

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self, runs: CmapssRuns, progress: Callable[[int, int], None] | None = None
    ) -> CnnRulRegressor:
        """Train on a run-to-failure file; sets ``ensemble_``, ``intervals_``, ``oof_rmse_``.

        ``oof_engines_`` holds each engine's (target, out-of-fold prediction) at the kept
        weights; ``cross_oof_engines_`` the selection-free predictions of `cross_selected`,
        and ``cross_oof_rmse_`` their RMSE over all windows (the out-of-fold figure that early
        stopping did not choose); ``calibration`` says which of the two calibrates ``intervals_``.
        Also ``oof_rmse_per_repeat_`` (each repeat's single-member out-of-fold RMSE, so the
        gain of averaging the repeats can be told apart), ``fold_of_`` [repeats, engines] and
        ``member_holdout_`` (the engines each member never saw).

        ``progress(done, total)`` is called after each ensemble member (for CLI progress bars).
        """
        import torch

        from edgetwin.pdm.rul.net import RulEnsemble

        if self.n_folds < 2:
            raise DataError(
                f"n_folds={self.n_folds}; need >= 2 (members calibrate each other's folds)"
            )
        if self.calibration not in ("kept", "cross"):
            raise DataError(
                f"calibration={self.calibration!r}; use 'kept' (the default) or 'cross'"
            )
        if self.n_repeats < 1:
            raise DataError(f"n_repeats={self.n_repeats}; need >= 1 (1 = plain engine k-fold)")
        if self.baseline_cycles is not None and self.baseline_cycles < 1:
            raise DataError(
                f"baseline_cycles={self.baseline_cycles}; need >= 1 cycle, or None for no "
                "change-since-start input"
            )
        if self.step_cycles < 1 or self.window % self.step_cycles:
            raise DataError(
                f"window={self.window}, step_cycles={self.step_cycles}: step_cycles must be >= 1 "
                "and divide window (e.g. window 80, step_cycles 2)"
            )
        torch.set_num_threads(self.n_threads)
        t0 = time.perf_counter()
        rows = (
            runs.features
            if self.max_engines is None
            else runs.features[: runs.engine_slices()[self.max_engines - 1].stop]
        )
        self.normalizer_ = RegimeNormalizer(random_state=self.random_state).fit(rows)
        self.age_scale_ = self._fitted_age_scale(runs)
        log.info(
            "regimes: %d (silhouette %.3f), sensors kept: %s",
            self.normalizer_.n_regimes_,
            self.normalizer_.silhouette_,
            (self.normalizer_.sensor_columns_ + 1).tolist(),
        )
        xs, ys = self._engine_windows(runs)
        n_eng = len(xs)
        if n_eng < self.n_folds:
            raise DataError(
                f"{n_eng} engines cannot be split into {self.n_folds} folds; use fewer folds"
            )
        rng = np.random.default_rng(self.random_state)
        # one engine partition per repeat, drawn in turn from one generator: the first is the
        # partition of n_repeats=1, so a larger n_repeats adds members and changes none
        self.fold_of_ = np.stack(
            [rng.permutation(np.arange(n_eng) % self.n_folds) for _ in range(self.n_repeats)]
        )
        self.n_features_ = int(xs[0].shape[2])
        tasks = [
            (r * self.n_folds + f, np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f))
            for r, fold_of in enumerate(self.fold_of_)
            for f in range(self.n_folds)
        ]
        trained = self._train_members(xs, ys, tasks, t0, progress)
        members = []
        oof_sum = [np.zeros(len(y), dtype=np.float64) for y in ys]
        self.member_epochs_: list[int] = []
        self.member_seconds_: list[float] = []
        self.member_holdout_: list[np.ndarray] = []
        self.oof_rmse_per_repeat_: list[float] = []
        rep_true: list[np.ndarray] = []
        rep_pred: list[np.ndarray] = []
        cross_sum = [np.zeros(len(y), dtype=np.float64) for y in ys]
        for (k, _, va), (model, pred, cross, epochs, seconds, _) in zip(
            tasks, trained, strict=True
        ):
            members.append(model)
            bounds = np.cumsum([0] + [len(ys[i]) for i in va])
            yva = np.concatenate([ys[i] for i in va])
            for j, i in enumerate(va):
                oof_sum[i] += pred[bounds[j] : bounds[j + 1]]
                cross_sum[i] += cross[bounds[j] : bounds[j + 1]]
            rep_true.append(yva)
            rep_pred.append(pred)
            self.member_epochs_.append(epochs)
            self.member_seconds_.append(seconds)
            self.member_holdout_.append(va)
            if (k + 1) % self.n_folds == 0:  # a repeat is complete: its single-member OOF RMSE
                self.oof_rmse_per_repeat_.append(
                    rmse(np.concatenate(rep_true), np.concatenate(rep_pred))
                )
                rep_true, rep_pred = [], []
        self.ensemble_ = RulEnsemble(members).eval()
        # every engine is held out exactly once per repeat: its out-of-fold prediction is the
        # mean of the n_repeats members that never saw it (still honest, and the same kind of
        # average as the shipped ensemble's)
        self.oof_engines_: list[tuple[np.ndarray, np.ndarray]] = [
            (y, s / self.n_repeats) for y, s in zip(ys, oof_sum, strict=True)
        ]
        # early stopping chose each member's epoch on the very fold the kept predictions score,
        # so those residuals are a little optimistic; the cross-selected ones are not (0.3-0.4
        # cycles apart on C-MAPSS, too little to move test coverage; docs/pdm_rul.md)
        self.cross_oof_engines_: list[tuple[np.ndarray, np.ndarray]] = [
            (y, s / self.n_repeats) for y, s in zip(ys, cross_sum, strict=True)
        ]
        self.oof_rmse_ = rmse(*self.calibration_set("kept"))
        self.cross_oof_rmse_ = rmse(*self.calibration_set("cross"))
        self.intervals_ = MondrianIntervals(coverage=self.coverage).fit(*self.calibration_set())
        self.train_seconds_ = time.perf_counter() - t0
        self.n_train_windows_ = int(sum(len(y) for y in ys))
        return self

    def _train_members(
        self,
        xs: list[np.ndarray],
        ys: list[np.ndarray],
        tasks: list[tuple[int, np.ndarray, np.ndarray]],
        t0: float,
        progress: Callable[[int, int], None] | None,
    ) -> list[MemberResult]:
        """Train one member per (index, train engines, held-out engines) task, in task order:
        (model, held-out prediction, cross-selected held-out prediction, epochs, seconds,
        budget) each.

        Members share ``time_budget_s``: member k gets the time left over the members left.
        With ``n_jobs > 1`` they train in that many spawned worker processes with
        ``n_threads`` torch threads each (a member's result does not depend on which process
        trains it: each seeds its own generators); a worker's budget counts the time left
        times ``n_jobs`` over the members left, capped at the time left.
        """
        n_members = len(tasks)

        def done(k: int, va: np.ndarray, res: MemberResult) -> None:
            _, pred, _, epochs, seconds, budget = res
            log.info(
                "member %d/%d (repeat %d, fold %d): %d epochs in %.0f s (budget %.0f s), "
                "fold RMSE %.2f",
                k + 1,
                n_members,
                k // self.n_folds + 1,
                k % self.n_folds + 1,
                epochs,
                seconds,
                budget,
                rmse(np.concatenate([ys[i] for i in va]), pred),
            )
            if progress is not None:
                progress(len(out) + len(results), n_members)

        out: list[MemberResult] = []
        results: dict[int, MemberResult] = {}

        if self.n_jobs <= 1:
            for k, tr, va in tasks:
                budget = (self.time_budget_s - (time.perf_counter() - t0)) / (n_members - k)
                start = time.perf_counter()
                model, pred, cross, epochs = self._train_member(
                    *_fold_arrays(xs, ys, tr, va), seed=self.random_state * 100 + k, budget_s=budget
                )
                out.append((model, pred, cross, epochs, time.perf_counter() - start, budget))
                done(k, va, out[-1])
            return out
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        deadline = time.monotonic() + self.time_budget_s - (time.perf_counter() - t0)
        spec = {**self.get_params(), "n_jobs": 1}
        with ProcessPoolExecutor(
            self.n_jobs,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded torch
            initializer=_worker_init,
            initargs=(spec, self.n_features_, xs, ys),
        ) as pool:
            futures = {
                pool.submit(
                    _worker_member,
                    k,
                    tr,
                    va,
                    self.random_state * 100 + k,
                    deadline,
                    n_members,
                    self.n_jobs,
                ): (k, va)
                for k, tr, va in tasks
            }
            for fut in as_completed(futures):
                k, va = futures[fut]
                results[k] = fut.result()
                done(k, va, results[k])
        return [results[k] for k, _, _ in tasks]

    def _train_member(
        self,
        xtr: np.ndarray,
        ytr: np.ndarray,
        xva: np.ndarray,
        yva: np.ndarray,
        half_b: np.ndarray,
        seed: int,
        budget_s: float,
    ) -> tuple[Any, np.ndarray, np.ndarray, int]:
        """Train one member, stopping early on the held-out windows ``xva``; returns (model at
        its best epoch, its held-out prediction, the cross-selected held-out prediction (see
        `cross_selected`; ``half_b`` marks the windows of the fold's second half of engines),
        epochs run)."""
        import torch

        from edgetwin.pdm.rul.net import RulCnn

        torch.manual_seed(seed)
        gen = np.random.default_rng(seed)
        model = RulCnn(
            self.n_features_,
            self.channels,
            self.dropout,
            self.cap_cycles,
            self.activation,
            self.head_activation,
            self.residual,
        )
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.max_epochs)
        xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr / self.cap_cycles)
        # the weights validated and kept: the trained ones, or their moving average
        kept = copy.deepcopy(model) if self.ema_decay else model
        loss_fn = _loss(self.huber_delta, self.cap_cycles)
        best: tuple[float, Any, int] = (np.inf, None, 0)  # RMSE, weights, epoch
        since, step, start = 0, 0, time.perf_counter()
        preds: list[np.ndarray] = []
        for epoch in range(1, self.max_epochs + 1):
            model.train()
            order = torch.from_numpy(gen.permutation(len(xt))[: self.samples_per_epoch])
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                opt.zero_grad()
                xb = xt[idx]
                if self.warp_std:
                    xb = magnitude_warp(xb, self.warp_std)
                if self.noise_std > 0:
                    xb = xb + self.noise_std * torch.randn_like(xb)
                loss = loss_fn(model(xb).squeeze(1) / self.cap_cycles, yt[idx])
                loss.backward()
                opt.step()
                if kept is not model:
                    step += 1
                    ema_update(kept, model, float(self.ema_decay or 0.0), step)
            sched.step()
            pred = _predict(kept, xva)
            preds.append(pred)
            score = rmse(yva, pred)
            log.debug("epoch %d: held-out fold RMSE %.2f", epoch, score)
            if score < best[0]:
                best = (score, {k: v.clone() for k, v in kept.state_dict().items()}, epoch)
                since = 0
            else:
                since += 1
            if since >= self.patience:
                break
            if time.perf_counter() - start > budget_s:
                log.warning("member stopped at epoch %d: time budget %.0f s spent", epoch, budget_s)
                break
        model.load_state_dict(best[1])
        model.eval()
        # preds holds every epoch's held-out prediction, the kept epoch's among them
        return model, preds[best[2] - 1], cross_selected(yva, np.stack(preds), half_b), best[2]

    def calibration_set(self, which: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(targets, out-of-fold predictions) over all training windows, in repeat 0's fold
        order: ``"kept"`` (each member at the epoch it kept) or ``"cross"`` (`cross_selected`);
        by default the set ``calibration`` names, the one that calibrates ``intervals_``."""
        which = which or self.calibration
        if which not in ("kept", "cross"):
            raise DataError(f"calibration set {which!r}; use 'kept' or 'cross'")
        engines = self.cross_oof_engines_ if which == "cross" else self.oof_engines_
        order = np.argsort(self.fold_of_[0], kind="stable")
        return (
            np.concatenate([engines[i][0] for i in order]),
            np.concatenate([engines[i][1] for i in order]),
        )

    # -- predicting ----------------------------------------------------------------------------
    def preprocess_params(self) -> dict[str, Any]:
        """Manifest preprocess params: regime normaliser, window and raw layout."""
        return {
            **self.normalizer_.to_params(),
            "age_scale": self.age_scale_,
            "baseline_cycles": self.baseline_cycles,
            "regime_onehot": bool(self.regime_onehot),
            "window": int(self.window),
            "step_cycles": int(self.step_cycles),
            "n_raw_sensors": N_SENSORS,
        }

    def predict_windows(self, windows: np.ndarray) -> np.ndarray:
        """RUL (cycles) of normalised windows [batch, window, features] with the torch ensemble."""
        return _predict(self.ensemble_, windows)

    def predict(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """RUL (cycles) at the last cycle of each raw history [cycles, 24]."""
        return self.predict_windows(preprocess_histories(histories, **self.preprocess_params()))

    def to_onnx(self, *, channels_last_head: bool = False) -> bytes:
        """The ensemble as one grouped ONNX graph: ``windows`` [batch, window, features] -> ``rul`` [batch, 1].

        ``channels_last_head=True`` gives the layout the INT8 twin is quantised from (the same
        function; see `GroupedRulEnsemble`).
        """
        from edgetwin.pdm.rul.net import grouped_onnx

        members = list(self.ensemble_.members)
        return grouped_onnx(
            members,  # type: ignore[arg-type]
            self.window // self.step_cycles,
            self.n_features_,
            channels_last_head=channels_last_head,
        )


def _fold_arrays(
    xs: list[np.ndarray], ys: list[np.ndarray], tr: np.ndarray, va: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Windows and targets of the training engines ``tr`` and the held-out engines ``va``
    (what one member trains and stops early on, in this process or a worker), and the mask of
    the held-out windows whose engine sits at an odd position of ``va`` (half B of the fold,
    for `cross_selected`; the folds are random, so alternate positions are a random half)."""
    return (
        np.concatenate([xs[i] for i in tr]),
        np.concatenate([ys[i] for i in tr]),
        np.concatenate([xs[i] for i in va]),
        np.concatenate([ys[i] for i in va]),
        np.concatenate([np.full(len(ys[i]), j % 2 == 1) for j, i in enumerate(va)]),
    )


def cross_selected(y: np.ndarray, preds: np.ndarray, half_b: np.ndarray) -> np.ndarray:
    """Held-out predictions free of early stopping's choice: half A's windows at the epoch
    whose RMSE was lowest on half B, half B's at the epoch best on half A.

    ``preds`` is [epochs, windows] (one row per epoch run, same windows as ``y``). The epoch a
    member keeps is the best on the whole fold, so its residuals on that fold are the minimum of
    a noisy curve and understate its error on unseen engines. Each half here is scored at an
    epoch that another set of engines chose. Those epochs are in general not the kept one, so
    these residuals describe a member stopped on half a fold, a little worse than the shipped
    one: an upper side, where the kept-epoch figure is a lower side. (Which epochs were run at
    all still depends on the whole fold, through the patience rule.) A fold with a single
    engine has no half B: it falls back to the prediction at the epoch best on the whole fold.
    """
    a = ~half_b
    if not half_b.any() or not a.any():
        return preds[int(np.argmin([rmse(y, p) for p in preds]))]
    best_on_a = int(np.argmin([rmse(y[a], p[a]) for p in preds]))
    best_on_b = int(np.argmin([rmse(y[half_b], p[half_b]) for p in preds]))
    return np.where(half_b, preds[best_on_a], preds[best_on_b])


#: Per worker process: the estimator (its hyper-parameters) and the engines' windows / targets.
_WORKER: dict[str, Any] = {}


def _worker_init(
    spec: dict[str, Any], n_features: int, xs: list[np.ndarray], ys: list[np.ndarray]
) -> None:
    import torch

    est = CnnRulRegressor(**spec)
    est.n_features_ = n_features
    torch.set_num_threads(est.n_threads)
    _WORKER.update(est=est, xs=xs, ys=ys)


def _worker_member(
    k: int,
    tr: np.ndarray,
    va: np.ndarray,
    seed: int,
    deadline: float,
    n_members: int,
    n_jobs: int,
) -> MemberResult:
    """Train member k in a worker process (see `CnnRulRegressor._train_members`)."""
    est, xs, ys = _WORKER["est"], _WORKER["xs"], _WORKER["ys"]
    left = deadline - time.monotonic()
    budget = min(left, left * n_jobs / (n_members - k))
    start = time.perf_counter()
    model, pred, cross, epochs = est._train_member(
        *_fold_arrays(xs, ys, tr, va), seed=seed, budget_s=budget
    )
    return model, pred, cross, epochs, time.perf_counter() - start, budget


def magnitude_warp(x: Any, std: float, knots: int = 4) -> Any:
    """Windows [batch, window, features] times a smooth random curve per window and feature.

    The curve passes through ``knots`` values drawn from N(1, std), evenly spaced from the
    first to the last cycle, linear in between: the sensors' deviations from their regime mean
    are stretched or shrunk slowly over the window (a training augmentation; torch's global
    generator draws the knots, so it follows the member's seed).
    """
    import torch

    b, t, f = x.shape
    k = 1.0 + std * torch.randn(b, f, knots, dtype=x.dtype)
    curve = torch.nn.functional.interpolate(k, size=t, mode="linear", align_corners=True)
    return x * curve.transpose(1, 2)


def ema_update(avg: Any, model: Any, decay: float, step: int) -> float:
    """One Polyak (exponential moving average) step: ``avg <- d * avg + (1 - d) * model`` for
    every parameter, with ``d = min(decay, (1 + step) / (10 + step))`` so the first steps are
    not anchored to the random initial weights. Returns the decay used. The network has no
    buffers (no batch norm), so parameters are its whole state."""
    import torch

    d = min(decay, (1.0 + step) / (10.0 + step))
    with torch.no_grad():
        for a, p in zip(avg.parameters(), model.parameters(), strict=True):
            a.lerp_(p, 1.0 - d)
    return d


def _loss(huber_delta: float | None, cap_cycles: float) -> Callable[[Any, Any], Any]:
    """Training loss on targets scaled by the cap: squared error, or Huber with its threshold
    given in cycles (so the same ``huber_delta`` means the same residual for any cap)."""
    import torch

    if huber_delta is None:
        return torch.nn.functional.mse_loss
    delta = float(huber_delta) / cap_cycles
    return lambda pred, target: torch.nn.functional.huber_loss(pred, target, delta=delta)


def _predict(model: Any, x: np.ndarray, batch: int = 4096) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for b in range(0, len(x), batch):
            out.append(
                model(torch.from_numpy(np.ascontiguousarray(x[b : b + batch], dtype=np.float32)))
                .squeeze(1)
                .numpy()
            )
    return np.concatenate(out).astype(np.float64)


__all__ = ["CnnRulRegressor", "N_SETTINGS"]
