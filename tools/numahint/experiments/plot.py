# SPDX-License-Identifier: GPL-2.0
"""Plots of the experiments, with gnuplot (gnuplot-nox)."""

import shutil
import subprocess


def gnuplot(who: str, script: str) -> bool:
    """Run a gnuplot script; without gnuplot, say so and return False."""
    if not shutil.which("gnuplot"):
        print(f"{who}: gnuplot not installed, no plot "
              "(apt-get install gnuplot-nox)")
        return False
    subprocess.run(["gnuplot"], check=True, text=True, input=script)
    return True
