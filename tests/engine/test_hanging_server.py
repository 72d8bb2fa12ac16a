"""`--timeout` bounds every network call. A server that accepts the connection, offers Basic, and then never
answers once credentials arrive used to hold EWS for 30 s (exchangelib's process-wide timeout) and PowerShell for
25 s (a read-timeout floor) whatever the admin asked for. One that trickles its answer once credentials arrive held
them until the check's own time ran out (60 s), whatever `--timeout` said: a request now ends when its connect and
read timeouts, added up, have passed (issue 19, item 2)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.fakeserver import https_server, recorder, self_signed, trickler
from workbench.checks.events import Finished
from workbench.checks.target import Target
from workbench.drafts import OnPremDraft, Stamp
from workbench.model import Connection, Secret
from workbench.verification import Verification


def _verify(connection: Connection) -> dict[str, Finished]:
    """Verify with a 3 s timeout and the password "pw"; every check's result."""
    target = Target(connection, lambda ref: Secret("pw"), lambda thumbprint: None, timeout=3.0)

    async def go() -> dict[str, Finished]:
        verification = Verification(target)
        try:
            return {e.check: e async for e in verification.events() if isinstance(e, Finished)}
        finally:
            verification.close()

    return asyncio.run(go())


def test_timeout_bounds_ews_and_powershell(tmp_path: Path) -> None:
    pem, pin = self_signed(tmp_path, "hang")
    with https_server(pem, recorder(hang_on_credentials=True)) as port:
        connection = OnPremDraft(
            admin_upn="admin@fabrikam.test", discovery="manual", server=f"127.0.0.1:{port}", pin_sha256=pin
        ).build("secret:pw", Stamp("hang", datetime.now(UTC)))
        started = time.monotonic()
        result = _verify(connection)
        elapsed = time.monotonic() - started
    for check in ("onprem.ews", "onprem.powershell"):
        outcome = result[check].outcome
        assert outcome.problem is not None and outcome.problem.code == "TIMEOUT", (check, outcome.detail)
        assert result[check].duration_ms < 12_000, (check, result[check].duration_ms)  # 3 s asked; was 25-30 s
    assert elapsed < 20, elapsed


def test_timeout_bounds_a_trickled_answer_in_ews_and_powershell(tmp_path: Path) -> None:
    pem, pin = self_signed(tmp_path, "trickle")
    handler = trickler(on_credentials=True)
    with https_server(pem, handler) as port:
        connection = OnPremDraft(
            admin_upn="admin@fabrikam.test", discovery="manual", server=f"127.0.0.1:{port}", pin_sha256=pin
        ).build("secret:pw", Stamp("trickle", datetime.now(UTC)))
        result = _verify(connection)
    assert len(handler.seen) >= 2, "EWS and PowerShell never sent their credentials"
    for check in ("onprem.ews", "onprem.powershell"):
        outcome = result[check].outcome
        assert outcome.problem is not None and outcome.problem.code == "TIMEOUT", (check, outcome.detail)
        assert result[check].duration_ms < 20_000, (check, result[check].duration_ms)  # the check's own time: 60 s


def test_a_server_error_is_not_mistaken_for_missing_authentication(tmp_path: Path) -> None:
    from tests.fakeserver import Recording
    from workbench.checks import problems

    class Broken(Recording):
        def _answer(self) -> None:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

    pem, pin = self_signed(tmp_path, "broken")
    with https_server(pem, Broken) as port:
        connection = OnPremDraft(
            admin_upn="admin@fabrikam.test", discovery="manual", server=f"127.0.0.1:{port}", pin_sha256=pin
        ).build("secret:pw", Stamp("broken", datetime.now(UTC)))
        result = _verify(connection)
    auth = result["onprem.auth"].outcome
    assert auth.problem is not None and auth.problem.code == "HTTP_UNEXPECTED", auth.detail
    assert "HTTP 500" in auth.detail
    assert "0 days" in problems.CERT_EXPIRING.fill(days=0).title  # a zero is a value, not a missing one
