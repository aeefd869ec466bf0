"""From simulations to parameters: the three methods of ``townsquare calibrate``.

* ``npe`` (default): neural posterior estimation with the ``sbi`` library (Greenberg,
  Nonnenmacher & Macke, ICML 2019): a normalising flow learns p(theta | x) from the
  simulations, then is sampled at the target's statistics. sbi standardises each
  statistic itself.
* ``abc``: rejection ABC (Pritchard et al., Mol. Biol. Evol. 1999): the draws whose
  statistics lie closest to the target's, each statistic scaled by its median absolute
  deviation over the simulations; the closest ``ABC_QUANTILE`` are the posterior.
* ``optuna``: a point estimate for a quick look (Optuna's TPE sampler), minimising the
  same scaled distance (`optuna_search` runs its own simulations, in `calibrate`).

Statistics that most simulations could not measure (NaN), or that no simulation moved
(all equal), are left out, as there is nothing to learn from them; then so are the
simulations that could not measure one of the rest.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from ..errors import UserError
from .params import Param

METHODS = ("npe", "abc", "optuna")
#: the share of draws rejection ABC keeps (Beaumont, Zhang & Balding, Genetics 2002,
#: keep a few percent to a tenth of the simulations)
ABC_QUANTILE = 0.1
#: posterior samples drawn from NPE
POSTERIOR_SAMPLES = 4000
#: a statistic is fitted only where this share of the simulations could measure it (a
#: repost network too small to split, say, leaves camp_modularity unmeasured)
MEASURED_SHARE = 0.8


def usable(theta: np.ndarray, x: np.ndarray, statistics: list[str]):
    """(theta, x, statistics) with the statistics measured in at least `MEASURED_SHARE`
    of the simulations and moved by them, then the simulations that measured all of
    those; a `UserError` if too little is left."""
    finite = np.isfinite(x)
    measured = finite.mean(axis=0) >= MEASURED_SHARE if len(x) else np.zeros(x.shape[1], bool)
    keep = measured.copy()
    for k in np.flatnonzero(measured):
        col = x[finite[:, k], k]
        keep[k] = col.max() > col.min()
    rows = finite[:, keep].all(axis=1)
    if rows.sum() < 10 or not keep.any():
        raise UserError(
            f"{int(keep.sum())} of {len(statistics)} statistics were measured in "
            f"{MEASURED_SHARE:.0%} of the {len(x)} simulations and varied: nothing to "
            "calibrate on (more users or steps per run, or more --budget)"
        )
    return theta[rows], x[rows][:, keep], [s for s, k in zip(statistics, keep, strict=True) if k]


def scaled_distance(x: np.ndarray, x_o: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row of ``x`` to ``x_o``, per statistic in ``scale``."""
    return np.sqrt((((x - x_o) / scale) ** 2).sum(axis=1))


def mad_scale(x: np.ndarray) -> np.ndarray:
    """Each statistic's median absolute deviation over the simulations (its standard
    deviation where the MAD is 0)."""
    mad = np.median(np.abs(x - np.median(x, axis=0)), axis=0)
    return np.where(mad > 0, mad, np.maximum(x.std(axis=0), 1e-12))


def abc(theta: np.ndarray, x: np.ndarray, x_o: np.ndarray, quantile: float = ABC_QUANTILE):
    """The accepted draws of rejection ABC and their distances."""
    d = scaled_distance(x, x_o, mad_scale(x))
    keep = max(2, int(round(quantile * len(d))))
    order = np.argsort(d, kind="stable")[:keep]
    return theta[order], d[order]


class TrainingLog:
    """sbi's tracker, kept in memory: sbi's own default writes TensorBoard files into the
    working directory, and a calibration writes only into its output folder."""

    def __init__(self):
        self.metrics: dict[str, list[float]] = {}

    @property
    def log_dir(self) -> None:
        return None

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        self.metrics.setdefault(name, []).append(float(value))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for name, value in metrics.items():
            self.log_metric(name, value, step)

    def log_params(self, params: dict) -> None:
        return None

    def add_figure(self, name: str, figure, step: int | None = None) -> None:
        return None

    def flush(self) -> None:
        return None


def npe_posterior(theta: np.ndarray, x: np.ndarray, params: list[Param], seed: int = 0):
    """The NPE posterior learnt from the simulations: amortised, it is sampled at any
    statistics (`sample_posterior`) without training again."""
    try:
        import torch
        from sbi.inference import NPE
        from sbi.utils import BoxUniform
    except ImportError as exc:
        raise UserError(
            "--method npe needs the calibrate extra (pip install -c constraints.txt -e "
            f"'.[calibrate]'; missing {exc.name}); --method abc needs nothing more"
        ) from None
    torch.manual_seed(seed)
    low = torch.tensor([p.low for p in params], dtype=torch.float32)
    high = torch.tensor([p.high for p in params], dtype=torch.float32)
    prior = BoxUniform(low=low, high=high)
    inference = NPE(prior=prior, show_progress_bars=False, tracker=TrainingLog())
    inference.append_simulations(
        torch.as_tensor(theta, dtype=torch.float32), torch.as_tensor(x, dtype=torch.float32)
    )
    # sbi prints when it converges, and warns of statistics with outliers (a repost
    # network's inequality near 1, say), which its z-scoring handles
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        inference.train(show_train_summary=False)
    return inference.build_posterior()


def sample_posterior(posterior, x_o: np.ndarray, samples: int = POSTERIOR_SAMPLES, seed: int = 0):
    """(samples, parameters) draws of an NPE posterior at the statistics ``x_o``."""
    import torch

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        drawn = posterior.sample(
            (samples,), x=torch.as_tensor(x_o, dtype=torch.float32), show_progress_bars=False
        )
    return drawn.numpy().astype(np.float64)


def npe(
    theta: np.ndarray,
    x: np.ndarray,
    x_o: np.ndarray,
    params: list[Param],
    seed: int = 0,
    samples: int = POSTERIOR_SAMPLES,
) -> np.ndarray:
    """(samples, len(params)) draws from the NPE posterior at ``x_o``."""
    return sample_posterior(npe_posterior(theta, x, params, seed), x_o, samples, seed)


def summarise(samples: np.ndarray, params: list[Param], mass: float = 0.9) -> list[dict]:
    """Per parameter: the posterior median and the central ``mass`` interval."""
    lo, hi = (1 - mass) / 2, 1 - (1 - mass) / 2
    out = []
    for j, p in enumerate(params):
        col = samples[:, j]
        out.append(
            {
                "key": p.key,
                "median": float(np.median(col)),
                "low": float(np.quantile(col, lo)),
                "high": float(np.quantile(col, hi)),
                "prior_low": p.low,
                "prior_high": p.high,
                "integer": p.integer,
            }
        )
    return out
