"""Opinion rules.

Two families share this package:

* platform rules, applied by the World after users read their feeds, chosen by the
  scenario's `opinion.rule` (`OPINION_RULES`: bounded_confidence, hegselmann_krause,
  deffuant, voter);
* the classic models on a static graph, as random-sequential numba kernels with O(1) work
  per interaction and incremental camp counts (consensus is never tested by rescanning):
  `voter`, Deffuant and Hegselmann–Krause bounded confidence, and ARLOD social
  reinforcement learning (Meylahn & Meylahn 2024) with its
  batched variant. Each model is one module with the same contract: ``run(graph, state,
  max_steps, seed, ...) -> (steps, plus_count)``, ``graph`` being CSR arrays
  ``(indptr, indices)`` of an undirected graph.
"""

from .arlod import ArlodState, arlod_run
from .csr import to_csr
from .deffuant import clusters, deffuant_run
from .hegselmann_krause import hk_run
from .platform import OPINION_RULES, bounded_confidence
from .voter import voter_run

__all__ = [
    "OPINION_RULES",
    "ArlodState",
    "arlod_run",
    "bounded_confidence",
    "clusters",
    "deffuant_run",
    "hk_run",
    "to_csr",
    "voter_run",
]
