"""Calibration: a scenario's free parameters fitted to a real platform (or a run) by
simulation-based inference, ``townsquare calibrate`` (docs/calibration.md).

* `params`: ``--param KEY=LOW:HIGH``, checked against the scenario; the prior draws;
* `target`: the target's summary statistics, measured as a run's;
* `simulate`: the simulations, in parallel, cached and resumable;
* `infer`: NPE (sbi), rejection ABC, or a point estimate (Optuna);
* `outputs`: the posterior samples, the calibrated scenario, the pair plot and the
  posterior predictive check;
* `run`: the whole of it (`calibrate`).
"""
