"""EWS through exchangelib: app-only OAuth fed by MSAL for Exchange Online, NTLM or Basic on-premises.

exchangelib takes its HTTP adapter from one process-wide class attribute; the workbench installs
`RoutingAdapter` there, which behaves exactly like requests' own adapter for every host without a route.
Connection tests fail fast (`FailFast`): exchangelib's default retry policy treats 401 as throttling and waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from workbench.model import Secret

from .routes import RoutingAdapter

TIMEOUT = 30


def _install() -> None:
    """Set on every use, not once: whoever else touched the class attribute meanwhile must not win."""
    from exchangelib.protocol import BaseProtocol

    BaseProtocol.HTTP_ADAPTER_CLS = RoutingAdapter
    BaseProtocol.TIMEOUT = TIMEOUT


def _token_credentials(token: dict[str, Any], refresh: Callable[[], dict[str, Any]]) -> Any:
    from exchangelib.credentials import OAuth2AuthorizationCodeCredentials

    class MsalCredentials(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]
        """exchangelib's OAuth credentials holding an MSAL token; expiry asks MSAL again."""

        def refresh(self, session: Any = None) -> None:
            self.access_token = _with_expiry(refresh())

    return MsalCredentials(access_token=_with_expiry(token))


def _with_expiry(token: dict[str, Any]) -> dict[str, Any]:
    access = dict(token)
    access["expires_at"] = time.time() + int(token.get("expires_in", 3599))
    return access


def online_account(ews_url: str, token: dict[str, Any], refresh: Callable[[], dict[str, Any]], mailbox: str) -> Any:
    """An impersonating account on Exchange Online (app-only tokens must name the mailbox they act for)."""
    _install()
    from exchangelib import IMPERSONATION, OAUTH2, Account, Configuration, Version
    from exchangelib.protocol import FailFast
    from exchangelib.version import EXCHANGE_O365

    config = Configuration(
        service_endpoint=ews_url,
        credentials=_token_credentials(token, refresh),
        auth_type=OAUTH2,
        version=Version(build=EXCHANGE_O365),
        retry_policy=FailFast(),
    )
    return Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)


def onprem_account(ews_url: str, upn: str, password: Secret, auth: str, mailbox: str | None = None) -> Any:
    """The admin's own mailbox (delegate), or `mailbox` through impersonation."""
    _install()
    from exchangelib import DELEGATE, IMPERSONATION, Account, Configuration, Credentials
    from exchangelib.protocol import FailFast

    config = Configuration(
        service_endpoint=ews_url,
        credentials=Credentials(upn, password.reveal()),
        auth_type=auth,
        retry_policy=FailFast(),
    )
    return Account(
        mailbox or upn, config=config, autodiscover=False, access_type=IMPERSONATION if mailbox else DELEGATE
    )


def forget_connections() -> None:
    """exchangelib caches protocols (and their failures) per endpoint and credentials: start fresh."""
    from exchangelib.protocol import CachingProtocol

    CachingProtocol.clear_cache()
