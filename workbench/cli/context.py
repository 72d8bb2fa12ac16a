"""What every command needs: the data directory, the clock, new ids."""

from __future__ import annotations

import getpass
import sys
import uuid
from datetime import UTC, datetime

from storage import Home, default_home
from workbench.drafts import Stamp
from workbench.model import Secret

from .io import fail


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def new_stamp() -> Stamp:
    return Stamp(id=str(uuid.uuid4()), now=now())


def _prompt_passphrase() -> Secret:
    if not sys.stdin.isatty():
        fail("The vault is protected by a passphrase: set WORKBENCH_PASSPHRASE", code=1)
    return Secret(getpass.getpass("Vault passphrase: "))


def open_home() -> Home:
    return Home(default_home(), passphrase_prompt=_prompt_passphrase)
