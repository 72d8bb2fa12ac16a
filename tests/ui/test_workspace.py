"""The console's workspace: the pending changes and what the store holds, as the pages show them."""

from __future__ import annotations

from datetime import datetime

from screens.state.workspace import Workspace
from storage import Home
from tests.factories import m365, onprem
from workbench.certificates import generate
from workbench.model import Secret


def test_a_refresh_keeps_the_secrets_and_certificates_held_for_a_connection_not_staged_yet(
    home: Home, now: datetime
) -> None:
    # The wizard stages a secret (a fix's new one) or a certificate (registration's) before Finish stages the
    # connection that uses it; the dashboard underneath refreshes meanwhile (a resize, a recorded result).
    space = Workspace(home, now=lambda: now)
    ref = space.changes.stage_secret(Secret("held-secret-value"))
    made = generate("CN=Held for registration", 30, now)
    space.changes.stage_certificate(made.info, made.key_pem)
    saved_elsewhere = home.changeset()
    saved_elsewhere.add(onprem(2, name="Saved by the CLI"))
    saved_elsewhere.commit()

    space.refresh()

    assert "Saved by the CLI" in [c.name for c in space.connections()]  # what another process saved shows
    assert space.changes.staged_secret(ref) == Secret("held-secret-value")
    assert space.changes.staged_certificate(made.info.thumbprint) is not None
    space.changes.add(m365(1, name="Finished", secret_ref=ref))
    space.commit()
    assert home.vault().get(ref) == Secret("held-secret-value")
