"""Exchange Connection Workbench: define, verify and troubleshoot Microsoft 365 and on-premises Exchange
connections from a terminal.

The Python API, loaded on first use so that `import workbench` stays cheap:

    import workbench
    home = workbench.open_home()                         # the data directory (store, vault, certificates)
    connection = home.store.snapshot().connection("Contoso")
    async for event in workbench.verify(connection, home=home): ...
    report = workbench.verify_sync(connection, home=home)  # report._repr_html_() renders in Jupyter
    with workbench.Lab({"bad-secret"}) as lab: lab.state.m365.client_id

Connections are built from form-like drafts: `workbench.M365Draft`, `workbench.OnPremDraft`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from storage import Home

    from .drafts import M365Draft, OnPremDraft
    from .lab import Lab
    from .verification import Report, verify, verify_sync

_LAZY = {
    "Lab": ("workbench.lab", "Lab"),
    "verify": ("workbench.verification", "verify"),
    "verify_sync": ("workbench.verification", "verify_sync"),
    "Report": ("workbench.verification", "Report"),
    "M365Draft": ("workbench.drafts", "M365Draft"),
    "OnPremDraft": ("workbench.drafts", "OnPremDraft"),
}


def open_home(path: str | Path | None = None) -> Home:
    """The data directory at `path`, else $WORKBENCH_HOME, else the XDG data directory."""
    from storage import Home, default_home

    return Home(Path(path) if path is not None else default_home())


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = ["Lab", "M365Draft", "OnPremDraft", "Report", "__version__", "open_home", "verify", "verify_sync"]
