# SPDX-License-Identifier: GPL-2.0
"""numahint: the Python side of numahint, one package.

    numahint.vm           build test initramfs images, boot and drive test
                          guests (the library behind tools/numahint-vm)
    numahint.rig          the two-node rig's reusable parts: its
                          configurations, job names, progress display and
                          image building (tools/numahint-rig, experiments)
    numahint.stat         tools/numahint-stat, a live view of a VM
    numahint.experiments  the experiment harnesses behind experiments/

The commands in tools/ sit next to this package, so Python finds it from
their own directory (sys.path[0]); everything else (tools/run-tests,
experiments/, the host tests) runs with tools/ on PYTHONPATH, set once in
its launcher.  QEMU's own Python library (qemu.qmp), which numahint.vm and
numahint.stat speak QMP with, comes from the QEMU source that tools/setup
fetches: setup links it as tools/qemu.  pyproject.toml (at the top of the
repository) describes the package for `pip install -e .` in a virtual
environment, which needs none of this.
"""
