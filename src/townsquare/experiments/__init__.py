"""Reproductions of published experiments, one module per paper (`townsquare reproduce`)."""

EXPERIMENTS = {"meylahn2024": "townsquare.experiments.meylahn2024"}
EXPERIMENTS["jin2024"] = "townsquare.experiments.jin2024"
EXPERIMENTS["cicero2022"] = "townsquare.experiments.cicero2022"
EXPERIMENTS["deepseek2025"] = "townsquare.experiments.deepseek2025"
EXPERIMENTS["acorn2022"] = "townsquare.experiments.acorn2022"
EXPERIMENTS["guess2023"] = "townsquare.experiments.guess2023"
