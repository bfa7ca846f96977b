"""Well-known locations: the repository, its cache, kernels and QEMU."""

import os
from pathlib import Path

#: tools/numahint/vm/paths.py -> repository root.
REPO_ROOT = Path(__file__).resolve().parents[3]
TOOLS_VM_DIR = REPO_ROOT / "tools" / "vm"


def cache_dir() -> Path:
    """The git-ignored cache: $NUMAHINT_CACHE, else <repo>/.cache."""
    return Path(os.environ.get("NUMAHINT_CACHE", REPO_ROOT / ".cache"))


def kernel_dir_for(version: str) -> Path:
    """The extracted kernel tree of a kernel release, e.g. '6.1.0-50-amd64'."""
    return cache_dir() / "kernels" / version


def default_qemu() -> Path:
    """The QEMU built in the cache (with the numahint device, once added)."""
    return cache_dir() / "qemu-build" / "qemu-system-x86_64"


def tools_build_dir() -> Path:
    """Where host helpers (kvm-probe) are compiled."""
    return cache_dir() / "tools"
