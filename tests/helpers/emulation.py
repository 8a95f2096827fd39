"""Stand-ins for what a user's machine has and this one cannot download: Python 3.8.12.

MLflow's environment managers ask for the Project's exact pin. Users get it from pyenv
(`virtualenv` manager) or from uv's downloads (`uv` manager); here neither can download it, so
the tests give both this machine's 3.8.x under the name 3.8.12:

* a ``PYENV_ROOT`` whose ``versions/3.8.12`` is the real 3.8.x folder (``pyenv install
  --skip-existing 3.8.12`` then finds it installed), with the real pyenv's plugins linked;
* a ``uv`` command first on ``PATH`` that runs the real uv, asking for the real 3.8.x wherever
  it was asked for ``--python=3.8.12``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path


def emulated_pyenv(root: Path, python38: Path, real_root: Path) -> Path:
    """A pyenv root that has "3.8.12"; returns it (for ``PYENV_ROOT``)."""
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    installed = python38.resolve().parents[1]
    (versions / "3.8.12").symlink_to(installed, target_is_directory=True)
    (root / "plugins").symlink_to(real_root / "plugins", target_is_directory=True)
    return root


def emulated_uv(folder: Path, python38: Path, real_uv: Path) -> Path:
    """A folder holding a ``uv`` that maps ``--python=3.8.12`` to ``python38``; for ``PATH``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "uv"
    replacement = shlex.quote(f"--python={python38}")
    script.write_text(
        "#!/bin/bash\n"
        "# Test stand-in: uv that can provide Python 3.8.12 (this machine's 3.8.x).\n"
        "args=()\n"
        'for arg in "$@"; do\n'
        f'  if [ "$arg" = "--python=3.8.12" ]; then arg={replacement}; fi\n'
        '  args+=("$arg")\n'
        "done\n"
        f'exec {shlex.quote(str(real_uv))} "${{args[@]}}"\n'
    )
    script.chmod(0o755)
    return folder


def path_with(*folders: Path) -> str:
    """``folders`` first, then the system folders (no user tools, no pyenv shims)."""
    return os.pathsep.join([*(str(f) for f in folders), "/usr/local/bin", "/usr/bin", "/bin"])
