"""Plots and reports of run directories."""

from .plots import plot_run

__all__ = ["plot_run"]
