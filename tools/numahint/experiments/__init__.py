# SPDX-License-Identifier: GPL-2.0
"""The experiment harnesses behind experiments/: each module's main() is
the command of the same name there (experiments/rerun is
numahint.experiments.rerun, experiments/placement-bench/run is
numahint.experiments.placement_bench); their results go to
experiments/results/."""
