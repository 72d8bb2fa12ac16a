"""Model, codec, drafts and the Secret type."""

from __future__ import annotations

import copy
import pickle
from dataclasses import replace
from typing import Any

import pytest

from tests.factories import CLIENT, TENANT, m365, onprem, stamp
from workbench.clouds import BUILT_IN, endpoints_for
from workbench.drafts import DraftInvalid, M365Draft, OnPremDraft, revalidate
from workbench.model import (
    CertificateCredential,
    ClientSecretCredential,
    Cloud,
    DocumentError,
    M365Settings,
    OnPremSettings,
    PowerShellAuth,
    Secret,
    TrustMode,
    connection_from_document,
    connection_to_document,
)


class TestSecret:
    def test_never_shows_itself(self) -> None:
        secret = Secret("hunter2-value")
        shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>20}", str([secret])]
        assert all("hunter2" not in text for text in shown)
        assert secret.reveal() == "hunter2-value"

    def test_cannot_be_pickled_or_hashed(self) -> None:
        with pytest.raises(TypeError):
            pickle.dumps(Secret("x"))
        with pytest.raises(TypeError):
            hash(Secret("x"))

    def test_equality_by_value(self) -> None:
        assert Secret("a") == Secret("a")
        assert Secret("a") != Secret("b")


class TestCodec:
    @pytest.mark.parametrize("connection", [m365(1, secret_ref="secret:1"), onprem(2, password_ref="secret:2")])
    def test_round_trip(self, connection) -> None:
        assert connection_from_document(connection_to_document(connection)) == connection

    def test_certificate_and_custom_cloud_round_trip(self) -> None:
        base = m365(3)
        assert isinstance(base.settings, M365Settings)
        draft = M365Draft(
            tenant_id=TENANT,
            client_id=CLIENT,
            app_account="backup@contoso.com",
            cloud="custom",
            authority_host="https://127.0.0.1:9443",
            graph_url="https://127.0.0.1:9444",
            ews_url="https://127.0.0.1:9445/EWS/Exchange.asmx",
        )
        connection = draft.build(CertificateCredential(thumbprint="AB" * 20, sha256="CD" * 32), stamp(3))
        assert connection_from_document(connection_to_document(connection)) == connection

    @pytest.mark.parametrize(
        ("path", "value", "expected"),
        [
            (("kind",), "exchange", "field 'kind' is 'exchange'; expected one of m365, onprem"),
            (("name",), "", "field 'name' must be a non-empty string"),
            (("created",), "yesterday", "field 'created' is not an ISO 8601 time"),
            (("created",), "2026-01-01T00:00:00", "has no time zone"),
            (("settings", "credential", "type"), "kerberos", "neither 'certificate' nor 'client-secret'"),
            (
                ("settings", "cloud"),
                "custom",
                "custom_endpoints must be given exactly when cloud is 'custom'",
            ),
            (("settings",), [], "expected an object, found list"),
        ],
    )
    def test_bad_documents_name_the_field(self, path, value, expected) -> None:
        doc = copy.deepcopy(connection_to_document(m365(1, secret_ref="secret:1")))
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(DocumentError, match="connection") as caught:
            connection_from_document(doc)
        assert expected in str(caught.value)

    def test_missing_field(self) -> None:
        doc = connection_to_document(onprem(1))
        del doc["settings"]["admin_upn"]
        with pytest.raises(DocumentError, match=r"connection\.settings: field 'admin_upn' is missing"):
            connection_from_document(doc)


class TestDrafts:
    def test_default_names(self) -> None:
        assert m365(1).name == "contoso.com"
        assert onprem(1).name == "admin1@contoso.com"

    def test_every_bad_field_is_reported(self) -> None:
        draft = M365Draft(tenant_id="x", client_id="", app_account="nobody", cloud="mars")
        with pytest.raises(DraftInvalid) as caught:
            draft.build(ClientSecretCredential(secret_ref=None), stamp())
        fields = [error.field for error in caught.value.errors]
        assert fields == ["tenant_id", "client_id", "app_account", "cloud"]
        assert (
            caught.value.for_field("cloud")
            == "Cloud must be one of global, usgov-high, usgov-dod, china, custom, not 'mars'"
        )

    def test_custom_endpoints_only_with_custom_cloud(self) -> None:
        draft = M365Draft(tenant_id=TENANT, client_id=CLIENT, app_account="a@contoso.com", graph_url="https://g.x")
        with pytest.raises(DraftInvalid, match="only used with the custom cloud"):
            draft.build(ClientSecretCredential(secret_ref=None), stamp())

    def test_ip_server_defaults_to_basic_and_refuses_kerberos(self) -> None:
        built = OnPremDraft(admin_upn="admin@contoso.com", discovery="manual", server="127.0.0.1").build(None, stamp())
        assert isinstance(built.settings, OnPremSettings)
        assert built.settings.powershell_auth is PowerShellAuth.BASIC
        assert built.settings.ews_url == "https://127.0.0.1/EWS/Exchange.asmx"
        draft = OnPremDraft(
            admin_upn="admin@contoso.com", discovery="manual", server="127.0.0.1", powershell_auth="kerberos"
        )
        with pytest.raises(DraftInvalid, match="must use basic"):
            draft.build(None, stamp())

    def test_fqdn_defaults_to_kerberos_and_pins(self) -> None:
        draft = OnPremDraft(
            admin_upn="admin@contoso.com", discovery="manual", server="mail.contoso.com", pin_sha256="ab" * 32
        )
        settings = draft.build(None, stamp()).settings
        assert isinstance(settings, OnPremSettings)
        assert settings.powershell_auth is PowerShellAuth.KERBEROS
        assert (settings.kerberos_realm, settings.kerberos_kdc) == (None, None)  # the UPN's domain, DNS SRV
        assert settings.tls.mode is TrustMode.PINNED and settings.tls.pin_sha256 == "AB" * 32

    def test_kerberos_realm_and_kdc(self) -> None:
        base: dict[str, Any] = {
            "admin_upn": "admin@contoso.com",
            "discovery": "manual",
            "server": "exch01.corp.contoso.com",
        }
        settings = (
            OnPremDraft(**base, kerberos_realm="corp.contoso.com", kerberos_kdc="dc01.corp.contoso.com")
            .build(None, stamp())
            .settings
        )
        assert isinstance(settings, OnPremSettings)
        assert (settings.kerberos_realm, settings.kerberos_kdc) == ("CORP.CONTOSO.COM", "dc01.corp.contoso.com")
        for wrong in ("corp contoso", "CORP..CONTOSO", "CORP.-.COM", "\ufb01.test"):
            with pytest.raises(DraftInvalid, match="is not a domain name in capitals"):
                OnPremDraft(**base, kerberos_realm=wrong).build(None, stamp())
        with pytest.raises(DraftInvalid, match="control character"):  # nothing reaches the krb5.conf it would break
            OnPremDraft(**base, kerberos_realm="CORP.COM\n[realms]").build(None, stamp())
        with pytest.raises(DraftInvalid, match="KDC port must be a number"):
            OnPremDraft(**base, kerberos_kdc="dc01.corp.contoso.com:kdc").build(None, stamp())
        with pytest.raises(DraftInvalid, match="used only with Kerberos"):
            OnPremDraft(**base, powershell_auth="basic", kerberos_realm="CORP.CONTOSO.COM").build(None, stamp())
        with pytest.raises(DraftInvalid, match="kerberos, basic or ntlm"):
            OnPremDraft(**base, powershell_auth="negotiate").build(None, stamp())

    def test_a_stored_negotiate_reads_as_kerberos(self) -> None:
        """Before Kerberos support, "negotiate" was stored for every server given by name."""
        from workbench.model.codec import connection_from_document, connection_to_document

        built = OnPremDraft(admin_upn="admin@contoso.com", discovery="manual", server="mail.contoso.com").build(
            None, stamp()
        )
        document = connection_to_document(built)
        document["settings"]["powershell_auth"] = "negotiate"
        read = connection_from_document(document)
        assert isinstance(read.settings, OnPremSettings)
        assert read.settings.powershell_auth is PowerShellAuth.KERBEROS

    def test_autodiscover_takes_no_server(self) -> None:
        with pytest.raises(DraftInvalid, match="found by autodiscover"):
            OnPremDraft(admin_upn="admin@contoso.com", server="mail.contoso.com").build(None, stamp())

    def test_edit_keeps_identity_and_creation(self) -> None:
        original = onprem(1)
        later = stamp(99, now=original.created.replace(year=2027))
        edited = OnPremDraft(admin_upn="other@contoso.com", discovery="manual", server="exch1.contoso.com").build(
            None, later, existing=original
        )
        assert (edited.id, edited.created) == (original.id, original.created)
        assert edited.updated == later.now

    def test_revalidate_catches_hand_edits(self) -> None:
        original = onprem(1)
        assert isinstance(original.settings, OnPremSettings)
        broken = replace(original, settings=replace(original.settings, admin_upn="not an address"))
        with pytest.raises(DraftInvalid, match="Administrator's UPN"):
            revalidate(broken, stamp(5))


def test_cloud_table_covers_every_national_cloud() -> None:
    assert set(BUILT_IN) == set(Cloud) - {Cloud.CUSTOM}
    settings = m365(1).settings
    assert isinstance(settings, M365Settings)
    global_cloud = endpoints_for(settings)
    assert global_cloud.graph_scope == "https://graph.microsoft.com/.default"
    assert global_cloud.ews_scope == "https://outlook.office365.com/.default"
    assert endpoints_for(replace(settings, cloud=Cloud.USGOV_HIGH)).ews_scope == "https://outlook.office365.us/.default"


def test_custom_cloud_asks_for_global_resource_identifiers() -> None:
    settings = m365(1).settings
    assert isinstance(settings, M365Settings)
    from workbench.model import CustomEndpoints

    lab = replace(
        settings,
        cloud=Cloud.CUSTOM,
        custom_endpoints=CustomEndpoints(
            authority_host="https://127.0.0.1:1",
            graph_url="https://127.0.0.1:2",
            ews_url="https://127.0.0.1:3/EWS/Exchange.asmx",
        ),
    )
    endpoints = endpoints_for(lab)
    assert (endpoints.graph_scope, endpoints.ews_scope) == (
        "https://graph.microsoft.com/.default",
        "https://outlook.office365.com/.default",
    )
    assert (
        endpoints_for(replace(settings, cloud=Cloud.CHINA)).graph_scope
        == "https://microsoftgraph.chinacloudapi.cn/.default"
    )
