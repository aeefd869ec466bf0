"""Heavy tails fitted the standard way: discrete power-law maximum likelihood with the
lower cut-off xmin chosen by minimising the KS distance (Clauset, Shalizi & Newman 2009),
through the `powerlaw` package (Alstott et al. 2014)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PowerLawFit:
    alpha: float  # exponent of p(x) ~ x^-alpha for x >= xmin
    xmin: float
    n_tail: int  # observations at or above xmin
    ks: float  # KS distance between the tail and the fit

    def as_dict(self) -> dict:
        return {"alpha": self.alpha, "xmin": self.xmin, "n_tail": self.n_tail, "ks": self.ks}


def fit_power_law(
    values: np.ndarray, discrete: bool = True, xmax_scan: int | None = 1000
) -> PowerLawFit:
    """Fit a power-law tail to positive values (zeros are dropped).

    ``xmax_scan`` bounds the xmin candidates scanned (the fit of a tail that starts above
    1000 followers is rarely what one wants, and it keeps large samples fast).
    """
    import powerlaw

    x = np.asarray(values, dtype=np.float64)
    x = x[x > 0]
    if x.size < 10 or np.unique(x).size < 3:
        return PowerLawFit(float("nan"), float("nan"), int(x.size), float("nan"))
    uniq = np.unique(x)
    # scan xmin from the smallest value up to the second largest (or xmax_scan)
    top = uniq[-2] if xmax_scan is None else min(uniq[-2], float(xmax_scan))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(x, discrete=discrete, xmin=(float(uniq[0]), float(top)), verbose=False)
    pl = fit.power_law
    return PowerLawFit(float(pl.alpha), float(pl.xmin), int((x >= pl.xmin).sum()), float(pl.D))


def ccdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, P(X >= x)) over the distinct positive values, for log-log plots."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    x = x[x > 0]
    if x.size == 0:
        return np.zeros(0), np.zeros(0)
    uniq, first = np.unique(x, return_index=True)
    return uniq, 1.0 - first / x.size
