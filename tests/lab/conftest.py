"""Lab fixtures and the real clients (msal, httpx, exchangelib) pointed at it, configured as a careful client
would be: the lab CA trusted explicitly, environment CA overrides ignored (REQUESTS_CA_BUNDLE would otherwise win
over `verify=`), exchangelib failing fast."""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest
import requests
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, pkcs12
from requests.adapters import HTTPAdapter

from workbench.lab import LabState

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
EWS_SCOPE = "https://outlook.office365.com/.default"


def session_for(state: LabState) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = state.ca_bundle
    return session


def public_client(state: LabState) -> msal.PublicClientApplication:
    """The lab tenant's public client (device-code sign-ins), trusting only the lab's CA."""
    return msal.PublicClientApplication(
        state.m365.public_client_id,
        authority=f"{state.m365.authority_host}/organizations",
        http_client=session_for(state),
        instance_discovery=False,
    )


def graph_client(state: LabState, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{state.m365.graph_url}/v1.0",
        verify=ssl.create_default_context(cafile=state.ca_bundle),
        trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def certificate_credential(state: LabState, form: str) -> dict[str, str]:
    m = state.m365
    with open(m.certificate_pfx, "rb") as handle:
        key, _cert, _ = pkcs12.load_key_and_certificates(handle.read(), m.certificate_password.encode())
    assert key is not None
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    if form == "thumbprint":
        return {"private_key": pem, "thumbprint": m.certificate_thumbprint}
    return {"private_key": pem, "public_certificate": m.certificate_pem}


def confidential(state: LabState, credential: Any = None) -> msal.ConfidentialClientApplication:
    m = state.m365
    return msal.ConfidentialClientApplication(
        m.client_id,
        authority=f"{m.authority_host}/{m.tenant_id}",
        client_credential=credential if credential is not None else m.client_secret,
        http_client=session_for(state),
        instance_discovery=False,
        timeout=10,
    )


def app_token(state: LabState, scope: str = GRAPH_SCOPE, credential: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = confidential(state, credential).acquire_token_for_client([scope])
    return result


class LabCAAdapter(HTTPAdapter):
    """exchangelib mounts `BaseProtocol.HTTP_ADAPTER_CLS` for every EWS request: trust the lab CA (only)."""

    ca: str = ""

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, self.ca, cert)

    def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None, cert: Any = None) -> Any:
        return super().get_connection_with_tls_context(request, self.ca, proxies=proxies, cert=cert)


@pytest.fixture
def exchangelib_for() -> Iterator[Callable[[LabState], None]]:
    from exchangelib.protocol import BaseProtocol, close_connections

    original = BaseProtocol.HTTP_ADAPTER_CLS

    def use(state: LabState) -> None:
        LabCAAdapter.ca = state.ca_bundle
        BaseProtocol.HTTP_ADAPTER_CLS = LabCAAdapter

    yield use
    close_connections()
    BaseProtocol.HTTP_ADAPTER_CLS = original


def ews_account(state: LabState, token: dict[str, Any], mailbox: str, impersonate: bool = True) -> Any:
    from exchangelib import DELEGATE, IMPERSONATION, OAUTH2, Account, Configuration, Version
    from exchangelib.credentials import OAuth2AuthorizationCodeCredentials
    from exchangelib.protocol import FailFast
    from exchangelib.version import EXCHANGE_O365

    access = dict(token)
    access["expires_at"] = time.time() + int(token["expires_in"])
    config = Configuration(
        service_endpoint=state.m365.ews_url,
        credentials=OAuth2AuthorizationCodeCredentials(access_token=access),
        auth_type=OAUTH2,
        version=Version(build=EXCHANGE_O365),
        retry_policy=FailFast(),
    )
    return Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION if impersonate else DELEGATE)


def kerberos_profile(state: LabState) -> Path:
    """A krb5.conf naming the lab's KDC, as a domain-joined client's would, made the process's profile.

    MIT Kerberos caches a profile per file name, so each lab gets a file of its own (a lab's KDC port differs from
    the last one's). The variable is only ever set, never removed (removing one races requests' reading of the
    environment in other threads)."""
    kerberos = state.onprem.kerberos
    if kerberos is None:
        pytest.skip("the lab runs without Kerberos here (MIT Kerberos or python-gssapi missing)")
    path = Path(state.ca_bundle).parent / "client-krb5.conf"
    if not path.exists():
        path.write_text(
            "[libdefaults]\n"
            f" default_realm = {kerberos.realm}\n"
            " dns_lookup_kdc = false\n rdns = false\n dns_canonicalize_hostname = false\n udp_preference_limit = 1\n"
            f"[realms]\n {kerberos.realm} = {{\n  kdc = {kerberos.kdc}\n }}\n"
            f"[domain_realm]\n .{state.onprem.domain} = {kerberos.realm}\n",
            encoding="utf-8",
        )
    os.environ["KRB5_CONFIG"] = str(path)
    return path


def powershell(state: LabState, auth: str = "kerberos", password: str | None = None, **kwargs: Any) -> Any:
    """An unmodified pypsrp runspace pool on the lab's Exchange remote PowerShell. Kerberos (Exchange's default):
    the admin as `alias@REALM`, the service principal HTTP/<the server's FQDN> while connecting to localhost."""
    from pypsrp.powershell import RunspacePool
    from pypsrp.wsman import WSMan

    o = state.onprem
    host, port = o.server.split(":")
    configuration = kwargs.pop("configuration_name", "Microsoft.Exchange")
    username = o.admin_upn
    if auth == "kerberos":
        kerberos_profile(state)
        assert o.kerberos is not None
        username = f"{o.admin_upn.split('@')[0]}@{o.kerberos.realm}"
        kwargs.setdefault("negotiate_service", "HTTP")
        kwargs.setdefault("negotiate_hostname_override", o.kerberos.spn.split("/", 1)[1])
    wsman = WSMan(
        host,
        port=int(port),
        path="PowerShell",
        ssl=True,
        auth=auth,
        username=username,
        password=password if password is not None else o.admin_password,
        cert_validation=state.ca_bundle,  # type: ignore[arg-type]  # a CA path is accepted; the stub says bool
        operation_timeout=kwargs.pop("operation_timeout", 20),
        read_timeout=kwargs.pop("read_timeout", 30),
        reconnection_retries=0,
        **kwargs,
    )
    return RunspacePool(wsman, configuration_name=configuration)


def run_cmdlet(pool: Any, name: str, **parameters: Any) -> Any:
    from pypsrp.powershell import PowerShell

    ps = PowerShell(pool)
    ps.add_cmdlet(name)
    for key, value in parameters.items():
        ps.add_parameter(key, value)
    ps.invoke()
    return ps


def ews_onprem(state: LabState, auth: str | None, mailbox: str | None = None, password: str | None = None) -> Any:
    from exchangelib import DELEGATE, IMPERSONATION, Account, Configuration, Credentials
    from exchangelib.protocol import FailFast

    o = state.onprem
    config = Configuration(
        service_endpoint=o.ews_url,
        credentials=Credentials(o.admin_upn, password if password is not None else o.admin_password),
        auth_type=auth,
        retry_policy=FailFast(),
    )
    return Account(
        mailbox or o.admin_upn,
        config=config,
        autodiscover=False,
        access_type=IMPERSONATION if mailbox else DELEGATE,
    )
