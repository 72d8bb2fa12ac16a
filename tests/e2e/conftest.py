"""Running `workbench` the way an admin does: a separate process, with its own data directory, under the
network guard (loaded as sitecustomize), and nothing from the developer's WORKBENCH_* settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def guarded_env(home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "guard"), str(ROOT)])
    env["WORKBENCH_VAULT"] = "key-file"
    env["NO_COLOR"] = "1"
    if home is not None:
        env["WORKBENCH_HOME"] = str(home)
    return env


def run_workbench(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=guarded_env(home),
        timeout=120,
        check=False,
    )
