"""Validators: the normal values they accept, the specific messages they give, and no crash on any input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import validate
from workbench.validate import FieldError


def message(parse: Callable[[str], object], text: str) -> str:
    with pytest.raises(FieldError) as caught:
        parse(text)
    return caught.value.message


class TestGuids:
    def test_tenant_id_is_normalised(self) -> None:
        assert validate.tenant_id(" {8F2C1C52-4A5E-4D8E-9B0E-2F6C4D1A7E10} ") == "8f2c1c52-4a5e-4d8e-9b0e-2f6c4d1a7e10"

    def test_tenant_id_message_shows_the_shape(self) -> None:
        assert message(validate.tenant_id, "1234") == (
            "Tenant ID must be a GUID like 00000000-0000-0000-0000-000000000000"
        )

    def test_tenant_domain_instead_of_id_is_explained(self) -> None:
        text = message(validate.tenant_id, "contoso.onmicrosoft.com")
        assert "not a domain name" in text and "Tenant ID" in text

    def test_client_id_empty(self) -> None:
        assert message(validate.client_id, "   ") == "Client ID is required"


class TestServers:
    @pytest.mark.parametrize(
        ("text", "host", "port"),
        [
            ("mail.contoso.com", "mail.contoso.com", None),
            ("MAIL.Contoso.com.", "mail.contoso.com", None),
            ("mail.contoso.com:8443", "mail.contoso.com", 8443),
            ("127.0.0.1", "127.0.0.1", None),
            ("127.0.0.1:443", "127.0.0.1", 443),
            ("::1", "::1", None),
            ("[::1]:8443", "::1", 8443),
            ("localhost:9000", "localhost", 9000),
        ],
    )
    def test_accepted(self, text: str, host: str, port: int | None) -> None:
        address = validate.server_address(text)
        assert (address.host, address.port) == (host, port)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("EXCH01", "short name: use the fully qualified name, like exch01.contoso.com"),
            ("https://mail.contoso.com", "not a URL: drop the 'https://'"),
            ("mail.contoso.com/owa", "without a path"),
            ("mail.contoso.com:0", "port must be a number from 1 to 65535"),
            ("mail.contoso.com:https", "port must be a number from 1 to 65535"),
            ("300.1.1.1", "'300.1.1.1' is not a valid IPv4 address"),
            ("-bad.contoso.com", "may not start or end with a hyphen"),
            ("mail_01.contoso.com", "may contain only letters, digits and hyphens"),
            ("[zz::1]:443", "is not an IPv6 address"),
        ],
    )
    def test_rejected_with_reason(self, text: str, expected: str) -> None:
        assert expected in message(validate.server_address, text)

    def test_ip_address_warns_about_basic_auth(self) -> None:
        (warning,) = validate.server_warnings(validate.server_address("127.0.0.1"))
        assert warning.startswith(
            "127.0.0.1 is an IP address: remote PowerShell will need Basic authentication on the PowerShell "
            "virtual directory"
        )

    def test_fqdn_has_no_warning(self) -> None:
        assert validate.server_warnings(validate.server_address("mail.contoso.com")) == []

    def test_ews_url_is_derived(self) -> None:
        assert validate.ews_url_for(validate.server_address("[::1]:8443")) == "https://[::1]:8443/EWS/Exchange.asmx"
        assert validate.ews_url_for(validate.server_address("mail.contoso.com")) == (
            "https://mail.contoso.com/EWS/Exchange.asmx"
        )

    def test_dns_server_must_be_an_ip(self) -> None:
        assert validate.dns_server("127.0.0.1:5353") == "127.0.0.1:5353"
        assert "must be an IP address" in message(validate.dns_server, "dns.contoso.com")


class TestAddresses:
    def test_upn_lowercases_the_domain_only(self) -> None:
        assert validate.admin_upn("Admin@Contoso.COM") == "Admin@contoso.com"

    def test_down_level_logon_name_is_explained(self) -> None:
        assert message(validate.admin_upn, "CONTOSO\\admin") == (
            "Administrator's UPN must be written user@domain, like admin@contoso.com, not DOMAIN\\user"
        )

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("backup", "must be an address like backup@contoso.com"),
            ("@contoso.com", "must be an address like backup@contoso.com"),
            ("back..up@contoso.com", "is not a valid name before the @"),
            ("backup@contoso", "short name"),
            ("backup@localhost", "needs a real domain"),
        ],
    )
    def test_app_account_rejections(self, text: str, expected: str) -> None:
        assert expected in message(validate.app_account, text)


class TestThumbprints:
    def test_copy_from_windows_dialog_is_cleaned(self) -> None:
        pasted = "\u200e1f db ba a5 1b 15 08 57 cc aa 1c 79 84 8b 50 97 a6 e0 a7 df"
        assert validate.thumbprint(pasted) == "1FDBBAA51B150857CCAA1C79848B5097A6E0A7DF"

    def test_sha256_given_instead_of_sha1(self) -> None:
        assert "SHA-256 fingerprint" in message(validate.thumbprint, "AB" * 32)

    def test_wrong_length_is_counted(self) -> None:
        assert message(validate.thumbprint, "ABC") == (
            "Certificate thumbprint must be 40 hexadecimal characters (found 3)"
        )

    def test_pin(self) -> None:
        assert validate.sha256_fingerprint(":".join(["ab"] * 32)) == "AB" * 32


class TestSecretsAndUrls:
    def test_secret_id_instead_of_value(self) -> None:
        text = message(validate.client_secret, "3b9d7e21-6c4f-4b1a-8e2d-5a7f9c0b1d23")
        assert "secret's ID" in text and "Value" in text

    def test_secret_keeps_inner_characters(self) -> None:
        assert validate.client_secret("a~b.c_d-e \n") == "a~b.c_d-e "

    def test_multi_line_secret(self) -> None:
        assert "line break" in message(validate.client_secret, "abc\ndef")

    def test_plain_http_is_refused(self) -> None:
        assert "must use https://" in message(
            lambda t: validate.https_url(t, field="ews_url", label="EWS URL"), "http://mail.contoso.com/EWS"
        )

    def test_url_with_credentials(self) -> None:
        assert "user name or password" in message(
            lambda t: validate.https_url(t, field="u", label="URL"), "https://me:pw@mail.contoso.com/"
        )

    def test_base_url_drops_slash(self) -> None:
        assert validate.base_url("https://127.0.0.1:9443/", field="a", label="A") == "https://127.0.0.1:9443"

    def test_ca_bundle(self, tmp_path) -> None:
        missing = tmp_path / "none.pem"
        assert "does not exist" in message(validate.ca_bundle, str(missing))
        not_pem = tmp_path / "x.pem"
        not_pem.write_text("hello")
        assert "holds no PEM certificate" in message(validate.ca_bundle, str(not_pem))

    def test_validity_days(self) -> None:
        assert validate.validity_days("730") == 730
        assert "from 1 to 3650" in message(validate.validity_days, "0")
        assert "from 1 to 3650" in message(validate.validity_days, "²")  # a digit to str.isdigit, not to int()

    def test_superscript_port(self) -> None:
        assert "port must be a number" in message(validate.server_address, "mail.contoso.com:4⁴3")


PARSERS: dict[str, Callable[[str], object]] = {
    "tenant_id": validate.tenant_id,
    "client_id": validate.client_id,
    "server": validate.server_address,
    "dns_server": validate.dns_server,
    "app_account": validate.app_account,
    "admin_upn": validate.admin_upn,
    "thumbprint": validate.thumbprint,
    "pin": validate.sha256_fingerprint,
    "client_secret": validate.client_secret,
    "password": validate.password,
    "ews_url": lambda t: validate.https_url(t, field="ews_url", label="EWS URL"),
    "name": validate.connection_name,
    "days": validate.validity_days,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), st.text(alphabet="0123456789abcdefABCDEF.:-[]@/\\ {}\u200e", max_size=70)))
def test_any_input_is_accepted_or_explained(name: str, text: str) -> None:
    """Fuzz: every parser either returns a value or raises FieldError with a non-empty message, never anything
    else; and what it accepts, it accepts again unchanged (normalisation is idempotent)."""
    parse = PARSERS[name]
    try:
        value = parse(text)
    except FieldError as error:
        assert error.message.strip()
        assert error.field
        return
    if isinstance(value, str) and name not in {"client_secret", "password"}:
        assert parse(value) == value


@pytest.mark.parametrize("text", ["0\x1f", "7\x1c", "30\x1e", "\x1d12"])
def test_days_with_a_separator_control_are_explained(text: str) -> None:
    """The fuzz above found it: str.strip() drops the ASCII separators (\\x1c–\\x1f) but int() does not, so
    '0\\x1f' passed the digits check and crashed int() with a ValueError."""
    with pytest.raises(FieldError, match="whole number of days"):
        validate.validity_days(text)


@pytest.mark.parametrize("parse", [validate.client_secret, validate.password])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc\x1b[31mdef", "control character"),
        ("abc\x07", "control character"),
        ("x" * 10_000, "at most 1,024 characters"),
    ],
    ids=["escape-sequence", "bell", "10-KB"],
)
def test_secrets_refuse_control_characters_and_walls_of_text(parse, value, expected) -> None:
    # A terminal escape or a 10 KB paste in a masked box is a mistake the admin cannot see; say so.
    with pytest.raises(FieldError, match=expected):
        parse(value)


@pytest.mark.parametrize("text", ["::[", "[::1", "::1]", "fe80::[1]", "[[::1]]:443"])
@pytest.mark.parametrize("parse", [validate.server_address, validate.dns_server, validate.kdc])
def test_a_stray_bracket_in_an_ipv6_address_is_explained(parse: Callable[[str], object], text: str) -> None:
    """The fuzz above found it: the IPv6 check stripped brackets from both ends before parsing, so '::[' passed it
    and crashed ipaddress with a ValueError."""
    with pytest.raises(FieldError):
        parse(text)
