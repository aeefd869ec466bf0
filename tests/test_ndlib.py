"""Side by side with NDlib (the `ndlib` extra): same graphs, same parameters, outcomes
that agree in distribution."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

nx = pytest.importorskip("networkx")
op = pytest.importorskip("ndlib.models.opinions", reason="the ndlib extra is not installed")
mc = pytest.importorskip("ndlib.models.ModelConfig")

from townsquare.world.opinion import clusters, deffuant_run, to_csr, voter_run  # noqa: E402


def hub_and_path(n=16):
    src = np.concatenate([np.zeros(n - 1, int), np.arange(1, n - 1)])
    dst = np.concatenate([np.arange(1, n), np.arange(2, n)])
    return src, dst


def test_voter_outcomes_agree_with_ndlib():
    src, dst = hub_and_path()
    n = 16
    g = nx.Graph(list(zip(src.tolist(), dst.tolist(), strict=True)))
    start_plus = [0, 3, 7]  # the hub and two path nodes
    runs = 150
    theirs = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(runs):
            model = op.VoterModel(g, seed=seed)
            cfg = mc.Configuration()
            cfg.add_model_initial_configuration("Infected", start_plus)
            model.set_initial_status(cfg)
            counts = {}
            for _ in range(100):
                counts = model.iteration_bunch(200, node_status=False, progress_bar=False)[-1][
                    "node_count"
                ]
                if counts.get(1, 0) in (0, n):
                    break
            theirs += counts.get(1, 0) == n
    indptr, indices = to_csr(src, dst, n)
    ours = 0
    for seed in range(runs * 10):
        opinion = np.full(n, -1, np.int8)
        opinion[start_plus] = 1
        ours += voter_run(indptr, indices, opinion, 10**7, seed)[1] == n
    degree = np.diff(indptr)
    expected = degree[start_plus].sum() / degree.sum()
    assert ours / (runs * 10) == pytest.approx(expected, abs=0.03)
    assert theirs / runs == pytest.approx(ours / (runs * 10), abs=0.12)


def test_deffuant_clusters_agree_with_ndlib_algorithmic_bias():
    n = 150
    g = nx.complete_graph(n)
    indptr, indices = to_csr(*np.triu_indices(n, 1), n)
    theirs, ours = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(4):
            model = op.AlgorithmicBiasModel(g, seed=seed)
            cfg = mc.Configuration()
            cfg.add_model_parameter("epsilon", 0.15)
            cfg.add_model_parameter("gamma", 0)  # no bias: Deffuant with mu = 0.5
            model.set_initial_status(cfg)
            model.iteration_bunch(300, node_status=False, progress_bar=False)
            final = np.array([model.status[i] for i in range(n)]) * 2 - 1  # [0,1] -> [-1,1]
            theirs.append(len(clusters(final)))
            x = np.random.default_rng(seed).uniform(-1, 1, n)
            ours.append(len(clusters(deffuant_run(indptr, indices, x, 0.3, 0.5, 300 * n, seed))))
    assert abs(np.mean(theirs) - np.mean(ours)) <= 1.0
    assert 2 <= np.mean(ours) <= 4
