"""EWS through exchangelib: app-only OAuth fed by MSAL for Exchange Online, NTLM or Basic on-premises.

exchangelib keeps one process-wide cache of protocols (connection pools, auth, version) keyed by endpoint and
credentials, and reads its HTTP adapter and timeout from class attributes. None of that may be shared between two
runs of a long-lived console, so every account made here gets a protocol of its own:

* its credentials compare equal only to themselves (and hash by identity, which stays stable while exchangelib
  caches things on them), so the cache never hands one run's protocol to another and `release()` finds it;
* the protocol's sessions are built with the run's `RoutingAdapter` (its DNS answers, CA bundle or pin) and the
  run's timeout, set on that protocol instance only;
* `release()` closes the protocol and takes it out of the cache when the run ends (no `clear_cache()`, which
  would close every other run's sessions too).

Connection tests fail fast (`FailFast`): exchangelib's default retry policy treats 401 as throttling and waits.
The few exchangelib internals this relies on are pinned by tests/unit/test_library_contracts.py.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from workbench.model import Secret

from .identity import AccessToken
from .routes import RouteTable, RoutingAdapter, current


def _run_protocol(config: Any, routes: RouteTable, timeout: float) -> Any:
    """The protocol for `config`, made for this run: routed sessions and this run's timeout."""
    from exchangelib.protocol import Protocol

    protocol = Protocol(config=config)  # a fresh cache entry: the credentials are unique to this account
    original = protocol.raw_session  # a classmethod, bound to the class

    def raw_session(prefix: str, *args: Any, **kwargs: Any) -> Any:
        session = original(prefix, *args, **kwargs)
        for mount in (prefix, kwargs.get("oauth2_token_endpoint")):
            if mount:
                session.mount(
                    mount,
                    RoutingAdapter(pool_block=True, pool_connections=1, pool_maxsize=1, max_retries=0, routes=routes),
                )
        return session

    protocol.raw_session = raw_session  # instance attributes: this protocol only
    protocol.TIMEOUT = timeout
    return protocol


def _token_credentials(token: AccessToken, refresh: Callable[[], AccessToken]) -> Any:
    from exchangelib.credentials import OAuth2AuthorizationCodeCredentials

    class MsalCredentials(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]
        """exchangelib's OAuth credentials holding an MSAL token; expiry asks MSAL again. One per account:
        equal only to itself."""

        __eq__ = object.__eq__
        __hash__ = object.__hash__

        def refresh(self, session: Any = None) -> None:
            self.access_token = _oauth_dict(refresh())

    return MsalCredentials(access_token=_oauth_dict(token))


def _password_credentials(upn: str, password: Secret) -> Any:
    from exchangelib import Credentials

    class RunCredentials(Credentials):  # type: ignore[misc]
        """exchangelib's credentials, equal only to themselves: one protocol per account, never shared."""

        __eq__ = object.__eq__
        __hash__ = object.__hash__

    return RunCredentials(upn, password.reveal())


def _oauth_dict(token: AccessToken) -> dict[str, Any]:
    """The form oauthlib wants, made at the last moment and held only by exchangelib's session."""
    return {
        "access_token": token.value.reveal(),
        "token_type": "Bearer",
        "expires_in": token.expires_in,
        "expires_at": time.time() + (token.expires_in or 3599),
    }


def online_account(
    ews_url: str, token: AccessToken, refresh: Callable[[], AccessToken], mailbox: str, timeout: float
) -> Any:
    """An impersonating account on Exchange Online (app-only tokens must name the mailbox they act for)."""
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
    _run_protocol(config, current(), timeout)
    return Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)


def onprem_account(
    ews_url: str, upn: str, password: Secret, auth: str, timeout: float, mailbox: str | None = None
) -> Any:
    """The admin's own mailbox (delegate), or `mailbox` through impersonation."""
    from exchangelib import DELEGATE, IMPERSONATION, Account, Configuration
    from exchangelib.protocol import FailFast

    config = Configuration(
        service_endpoint=ews_url,
        credentials=_password_credentials(upn, password),
        auth_type=auth,
        retry_policy=FailFast(),
    )
    _run_protocol(config, current(), timeout)
    return Account(
        mailbox or upn, config=config, autodiscover=False, access_type=IMPERSONATION if mailbox else DELEGATE
    )


def release(account: Any) -> None:
    """Close the account's protocol and take it out of exchangelib's cache (this run's entry only)."""
    from exchangelib.protocol import Protocol

    protocol = account.protocol
    with contextlib.suppress(KeyError):
        del Protocol[protocol.config]
    protocol.close()
