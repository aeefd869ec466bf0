"""Plots and reports of run directories."""

from .plots import plot_run

__all__ = ["plot_run", "run_figures", "write_report"]


def __getattr__(name: str):
    # imported on first use, so `townsquare run` does not pay for the report's imports
    if name == "write_report":
        from .html import write_report

        return write_report
    if name == "run_figures":
        from .figures import run_figures

        return run_figures
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
