"""Measures of a platform: concentration, tails, cascades, echo chambers, polarisation,
and the realism scorecard that compares a run with real platforms."""

from .cascades import Cascades, cascade_roots, cascade_sizes, repost_degree, repost_edges
from .inequality import gini, lorenz_curve, top_share
from .networks import (
    largest_component,
    leaning_assortativity,
    modularity,
    neighbour_leaning_correlation,
    random_walk_controversy,
    undirected_simple,
)
from .polarisation import bimodality_coefficient, esteban_ray
from .realism import BANDS, FACTS, Scorecard, measure, measure_run, scorecard
from .snapshot import RunSnapshot
from .tails import PowerLawFit, ccdf, fit_power_law

__all__ = [
    "BANDS",
    "FACTS",
    "PowerLawFit",
    "Scorecard",
    "bimodality_coefficient",
    "cascade_roots",
    "cascade_sizes",
    "ccdf",
    "esteban_ray",
    "fit_power_law",
    "gini",
    "largest_component",
    "leaning_assortativity",
    "lorenz_curve",
    "measure_run",
    "measure",
    "RunSnapshot",
    "Cascades",
    "modularity",
    "neighbour_leaning_correlation",
    "random_walk_controversy",
    "repost_degree",
    "repost_edges",
    "scorecard",
    "top_share",
    "undirected_simple",
]
