"""Field validators shared by the wizard, the CLI and the Python API.

Each parser takes what a person typed or pasted and returns the normalised value, or raises `FieldError` with a
message that says what is wrong and what a right value looks like. No parser accepts a value it would later choke on.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

GUID_EXAMPLE = "00000000-0000-0000-0000-000000000000"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^[0-9A-F]+$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
# Characters that ride along when a thumbprint is copied out of Windows' certificate dialog or a web page.
_INVISIBLE = {"\u200e", "\u200f", "\ufeff", "\u200b", "\u00a0", "\u202a", "\u202c"}


class FieldError(ValueError):
    """A value that cannot be used, with the message to show next to the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def shown(text: str) -> str:
    """How a message quotes what the admin typed: escapes visible, at most 60 characters."""
    from .text import visible

    return visible(text, limit=60)


@dataclass(frozen=True, slots=True)
class ServerAddress:
    host: str  # without brackets
    port: int | None

    @property
    def is_ip(self) -> bool:
        return is_ip_address(self.host)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def __str__(self) -> str:
        return self.netloc


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch not in _INVISIBLE).strip()


def _require(field: str, label: str, text: str) -> str:
    value = _clean(text)
    if not value:
        raise FieldError(field, f"{label} is required")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise FieldError(field, f"{label} contains a control character (a pasted line break?)")
    return value


def guid(text: str, *, field: str, label: str) -> str:
    value = _require(field, label, text).strip("{}")
    if not _GUID.match(value):
        raise FieldError(field, f"{label} must be a GUID like {GUID_EXAMPLE}")
    return value.lower()


def tenant_id(text: str) -> str:
    value = _clean(text)
    if value and "." in value and not _GUID.match(value.strip("{}")):
        raise FieldError(
            "tenant_id",
            f"Tenant ID must be a GUID like {GUID_EXAMPLE}, not a domain name: find it in the Entra admin "
            "center under Overview > Tenant ID",
        )
    return guid(text, field="tenant_id", label="Tenant ID")


def client_id(text: str) -> str:
    return guid(text, field="client_id", label="Client ID")


def is_ip_address(text: str) -> bool:
    """An IP address, as a host appears in a URL too (an IPv6 one may be in its brackets: `[::1]`)."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return _parses_as_ip(text)


def _parses_as_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def hostname(text: str, *, field: str = "server", label: str = "Server") -> str:
    """A DNS name (FQDN, or `localhost`); IP addresses are accepted by `server_address`, not here."""
    value = _require(field, label, text).rstrip(".").lower()
    if len(value) > 253:
        raise FieldError(field, f"{label} is longer than the 253 characters a DNS name may have")
    labels = value.split(".")
    bad = next((part for part in labels if not _LABEL.match(part)), None)
    if bad is not None:
        part = shown(bad) if bad else "(empty)"
        raise FieldError(
            field,
            f"{label} '{shown(value)}' is not a valid DNS name: the part '{part}' may contain only letters, digits "
            "and hyphens, and may not start or end with a hyphen",
        )
    if len(labels) == 1 and value != "localhost":
        raise FieldError(
            field,
            f"{label} '{shown(value)}' is a short name: use the fully qualified name, like {shown(value)}.contoso.com",
        )
    if labels[-1].isdigit():
        raise FieldError(field, f"{label} '{shown(value)}' looks like a mistyped IP address")
    return value


_REALM_LABEL = r"[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?"
_REALM = re.compile(rf"{_REALM_LABEL}(?:\.{_REALM_LABEL})*")
_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also accepts "²", which int() refuses


def port(text: str, *, field: str, label: str) -> int:
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise FieldError(field, f"{label} port must be a number from 1 to 65535, not '{shown(text)}'")
    return int(text)


def server_address(text: str, *, field: str = "server", label: str = "Server") -> ServerAddress:
    """FQDN or IP address, optionally with `:port` (IPv6 with a port in brackets: `[2001:db8::1]:443`)."""
    value = _require(field, label, text)
    if "://" in value:
        raise FieldError(
            field, f"{label} is a host name or IP address, not a URL: drop the '{value.split('://')[0]}://'"
        )
    if "/" in value:
        raise FieldError(field, f"{label} is a host name or IP address without a path")
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise FieldError(field, f"{label} '{shown(value)}' is not of the form [IPv6]:port")
        if not _parses_as_ip(host):
            raise FieldError(field, f"{label} '{shown(host)}' in brackets is not an IPv6 address")
        return ServerAddress(
            str(ipaddress.ip_address(host)), port(rest[1:], field=field, label=label) if rest else None
        )
    if value.count(":") > 1:  # bare IPv6
        if not _parses_as_ip(value):
            raise FieldError(field, f"{label} '{shown(value)}' is not a valid IPv6 address")
        return ServerAddress(str(ipaddress.ip_address(value)), None)
    host, sep, port_text = value.partition(":")
    parsed_port = port(port_text, field=field, label=label) if sep else None
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return ServerAddress(str(ipaddress.IPv4Address(host)), parsed_port)
        except ValueError:
            raise FieldError(field, f"{label} '{host}' is not a valid IPv4 address") from None
    return ServerAddress(hostname(host, field=field, label=label), parsed_port)


def server_warnings(address: ServerAddress) -> list[str]:
    """Things that are allowed but that the admin should know before the first verification."""
    if address.is_ip:
        return [
            f"{address.host} is an IP address: remote PowerShell will need Basic authentication on the "
            "PowerShell virtual directory, and the server certificate will rarely name the IP"
        ]
    return []


def kerberos_realm(text: str) -> str:
    """A Kerberos realm as Active Directory names it: the DNS domain in capitals (`FABRIKAM.LOCAL`)."""
    typed = _require("kerberos_realm", "Kerberos realm", text)
    value = typed.upper()
    if not typed.isascii() or len(value) > 253 or not _REALM.fullmatch(value):
        raise FieldError(
            "kerberos_realm",
            f"Kerberos realm '{shown(typed)}' is not a domain name in capitals: letters, digits and hyphens, parts "
            "separated by single dots (like FABRIKAM.LOCAL)",
        )
    return value


def kdc(text: str) -> ServerAddress:
    """A KDC (a domain controller): a host name or IP address, optionally with a port (88 when none is given)."""
    return server_address(text, field="kerberos_kdc", label="KDC")


def dns_server(text: str) -> str:
    """A resolver for autodiscover lookups: an IP address with an optional port."""
    address = server_address(text, field="dns_server", label="DNS server")
    if not address.is_ip:
        raise FieldError("dns_server", f"DNS server must be an IP address, not the name '{address.host}'")
    return address.netloc


def email_address(text: str, *, field: str, label: str, example: str) -> str:
    value = _require(field, label, text)
    if "\\" in value and "@" not in value:
        domain, _, user = value.partition("\\")
        raise FieldError(
            field,
            f"{label} must be written user@domain, like {user or 'admin'}@{domain.lower() or 'contoso'}.com, "
            "not DOMAIN\\user",
        )
    local, at, domain = value.rpartition("@")
    if not at or not local:
        raise FieldError(field, f"{label} must be an address like {example}")
    if len(local) > 64 or not _LOCAL_PART.match(local):
        raise FieldError(field, f"{label}: '{local}' is not a valid name before the @ (like {example})")
    try:
        domain = hostname(domain, field=field, label=f"{label} domain")
    except FieldError as error:
        raise FieldError(field, error.message) from None
    if domain == "localhost":
        raise FieldError(field, f"{label} needs a real domain after the @, like {example}")
    address = f"{local}@{domain}"
    if len(address) > 254:
        raise FieldError(field, f"{label} is longer than the 254 characters an address may have")
    return address


def app_account(text: str) -> str:
    return email_address(text, field="app_account", label="Application account", example="backup@contoso.com")


def admin_upn(text: str) -> str:
    return email_address(text, field="admin_upn", label="Administrator's UPN", example="admin@contoso.com")


def thumbprint(text: str) -> str:
    """SHA-1 certificate thumbprint as Entra and Windows show it; spaces, colons and the invisible marks that
    come with a copy from Windows' certificate dialog are dropped."""
    raw = _require("thumbprint", "Certificate thumbprint", text)
    value = re.sub(r"[\s:]", "", raw).upper()
    if len(value) == 64 and _HEX.match(value):
        raise FieldError(
            "thumbprint",
            "That is a SHA-256 fingerprint; Entra's Certificates & secrets page shows the SHA-1 thumbprint "
            "(40 hexadecimal characters)",
        )
    if len(value) != 40 or not _HEX.match(value):
        raise FieldError("thumbprint", f"Certificate thumbprint must be 40 hexadecimal characters (found {len(value)})")
    return value


def sha256_fingerprint(text: str, *, field: str = "pin_sha256") -> str:
    raw = _require(field, "SHA-256 fingerprint", text)
    value = re.sub(r"[\s:]", "", raw).upper()
    if len(value) != 64 or not _HEX.match(value):
        raise FieldError(field, f"SHA-256 fingerprint must be 64 hexadecimal characters (found {len(value)})")
    return value


MAX_SECRET = 1024  # Entra secrets are 40 characters, passwords at most 256; more is a paste gone wrong


def _secret_text(text: str, field: str, label: str) -> str:
    value = text.strip("\r\n")
    if not value.strip():
        raise FieldError(field, f"{label} is required")
    if "\n" in value or "\r" in value:
        raise FieldError(field, f"{label} is one line; the pasted text holds a line break")
    if len(value) > MAX_SECRET:
        raise FieldError(field, f"{label} must be at most {MAX_SECRET:,} characters (found {len(value):,})")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise FieldError(field, f"{label} contains a control character (an escape sequence or a tab?)")
    return value


def client_secret(text: str) -> str:
    value = _secret_text(text, "client_secret", "Client secret")
    if _GUID.match(value.strip()):
        raise FieldError(
            "client_secret",
            "That looks like the secret's ID (a GUID). Paste the secret's Value instead: Entra shows it only "
            "once, right after the secret is created",
        )
    return value


def password(text: str) -> str:
    return _secret_text(text, "password", "Password")


EWS_EXAMPLE = "https://mail.contoso.com/EWS/Exchange.asmx"


def https_url(text: str, *, field: str, label: str, example: str = EWS_EXAMPLE) -> str:
    value = _require(field, label, text)
    parts = urlsplit(value)
    if parts.scheme.lower() == "http":
        raise FieldError(field, f"{label} must use https://; credentials never travel over plain http")
    if parts.scheme.lower() != "https" or not parts.netloc:
        raise FieldError(field, f"{label} must be an https:// URL, like {example}")
    if "@" in parts.netloc:
        raise FieldError(field, f"{label} must not carry a user name or password")
    try:
        server_address(parts.netloc, field=field, label=f"{label} host")
    except FieldError as error:
        raise FieldError(field, error.message) from None
    return value


def base_url(text: str, *, field: str, label: str, example: str = "https://graph.microsoft.com") -> str:
    """An https URL used as a base (authority host, Graph root): no query, no fragment, no trailing slash."""
    value = https_url(text, field=field, label=label, example=example)
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise FieldError(field, f"{label} must not have a query or fragment")
    return value.rstrip("/")


_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_ID_LIKE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def connection_name(text: str) -> str:
    """A display name: NFKC-normalised (so full-width and compatibility forms are the plain letters they look
    like), at most 80 characters, without control or invisible formatting characters (which hide or reorder text),
    and not mixing Latin, Cyrillic and Greek letters (`prod` with a Cyrillic o would look like `prod` in a list)."""
    import unicodedata

    from .text import has_invisible

    if len(text) > 1000:
        raise FieldError("name", "Name must be at most 80 characters")
    value = _require("name", "Name", unicodedata.normalize("NFKC", text))
    if len(value) > 80:
        raise FieldError("name", "Name must be at most 80 characters")
    if _ID_LIKE.fullmatch(value):
        raise FieldError("name", "Name may not look like a connection id (commands take a name or an id)")
    if value.startswith("-"):
        raise FieldError("name", "Name may not start with '-' (it would read as an option on a command line)")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise FieldError("name", "Name holds an invalid character (a lone UTF-16 surrogate)")
    if has_invisible(value):
        raise FieldError(
            "name", "Name may not contain control characters or invisible formatting characters (bidi, zero-width)"
        )
    scripts = {
        script
        for ch in value
        if ch.isalpha() and (script := unicodedata.name(ch, "").split(" ")[0]) in _LOOKALIKE_SCRIPTS
    }
    if len(scripts) > 1:
        names = " and ".join(sorted(s.title() for s in scripts))
        raise FieldError("name", f"Name mixes {names} letters, which look alike; use one script")
    return value


def validity_days(text: str) -> int:
    digits = text.strip(" \t")  # not str.strip(): it also drops the ASCII separators \x1c-\x1f
    if not _DIGITS.fullmatch(digits) or not 1 <= int(digits) <= 3650:
        raise FieldError("days", f"Validity must be a whole number of days from 1 to 3650, not '{shown(text)}'")
    return int(digits)


def ews_url_for(address: ServerAddress) -> str:
    """The EWS URL an on-prem server normally publishes, as the wizard proposes it."""
    return f"https://{address.netloc}/EWS/Exchange.asmx"


def ca_bundle(text: str, *, field: str = "ca_bundle") -> str:
    """A readable PEM file holding at least one certificate."""
    from pathlib import Path

    value = _require(field, "CA bundle", text)
    try:
        value.encode("utf-8")  # a path from a non-UTF-8 file name could never be stored
    except UnicodeEncodeError:
        raise FieldError(
            field, f"CA bundle {shown(value)} has a name that is not valid UTF-8; rename the file"
        ) from None
    try:
        path = Path(value).expanduser()
        is_file = path.is_file()
        head = b""
        if is_file:
            with path.open("rb") as handle:
                head = handle.read(1_000_000)
        resolved = str(path.resolve())
    except (OSError, RuntimeError, ValueError) as error:  # name too long, loops, NUL bytes, no home directory
        reason = getattr(error, "strerror", None) or str(error)
        raise FieldError(field, f"CA bundle {shown(value)} cannot be read: {shown(reason)}") from None
    if not is_file:
        raise FieldError(field, f"CA bundle {shown(value)} does not exist or is not a file")
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise FieldError(field, f"CA bundle {shown(value)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return resolved
