# SPDX-License-Identifier: GPL-2.0
"""numahint: the Python side of numahint, one package.

    numahint.vm           build test initramfs images, boot and drive test
                          guests (the library behind tools/numahint-vm)
    numahint.rig          the two-node rig's reusable parts: its
                          configurations, job names, progress display and
                          image building (tools/numahint-rig, experiments)
    numahint.stat         tools/numahint-stat, a live view of a VM (needs
                          nothing else of numahint)
    numahint.experiments  the experiment harnesses behind experiments/

Nothing is installed.  The commands in tools/ (numahint-vm, numahint-rig,
numahint-stat, numahint-demo, run-tests) sit next to this package, so
Python finds it in their own directory, sys.path[0].  experiments/* are
small shell launchers that put tools/ on PYTHONPATH and run
`python3 -m numahint.experiments.NAME`; the host tests run inside
tools/run-tests (PYTHONPATH=tools to run one by hand).

QEMU's own Python library (qemu.qmp, qemu.machine), which numahint.vm,
numahint.stat and the host tests use, comes from the QEMU source that
tools/setup fetches: setup links its python/qemu as tools/qemu, next to
this package.  pyproject.toml, at the top of the repository, describes
the package for `pip install -e .` into a virtual environment of one's
own, which needs none of this.
"""
