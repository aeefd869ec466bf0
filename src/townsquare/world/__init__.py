"""The simulation: platform state as arrays and the step pipeline (numpy/scipy/numba only)."""

from .actions import Actions, Observations, Policy
from .feed import Recommender
from .graph import FollowGraph
from .loaders import DataFileError, LoadedGraph, load_edge_list, load_polblogs
from .moderation import DETECTORS, ActivityDetector, Detector, make_detector
from .population import Population, Role
from .posts import PostKind, PostStore
from .world import StepEvents, World, bimodality_coefficient

__all__ = [
    "Actions",
    "ActivityDetector",
    "DETECTORS",
    "Detector",
    "make_detector",
    "DataFileError",
    "FollowGraph",
    "LoadedGraph",
    "Observations",
    "Policy",
    "Population",
    "PostKind",
    "PostStore",
    "Recommender",
    "Role",
    "StepEvents",
    "World",
    "bimodality_coefficient",
    "load_edge_list",
    "load_polblogs",
]
