"""The address a device-code sign-in sends the admin to (issue 19, item 13): shown with the authority that gave it,
and doubted when a Microsoft cloud's authority answers with a page outside Microsoft's sign-in hosts. A custom
cloud (a proxy, the lab) is its own authority: its answer is shown, never doubted."""

from __future__ import annotations

import pytest

from workbench.clouds import BUILT_IN
from workbench.model import Cloud
from workbench.registration.signin import sign_in_page_doubt

GLOBAL = BUILT_IN[Cloud.GLOBAL].authority_host
USGOV = BUILT_IN[Cloud.USGOV_HIGH].authority_host
CHINA = BUILT_IN[Cloud.CHINA].authority_host


@pytest.mark.parametrize(
    ("authority", "address"),
    [
        (GLOBAL, "https://microsoft.com/devicelogin"),
        (GLOBAL, "https://www.microsoft.com/devicelogin"),
        (GLOBAL, "https://login.microsoftonline.com/common/oauth2/deviceauth"),
        (GLOBAL, "https://login.microsoft.com/device"),
        (GLOBAL, "https://MICROSOFT.COM/devicelogin"),
        (GLOBAL, "https://microsoft.com:443/devicelogin"),
        (USGOV, "https://microsoft.com/deviceloginus"),
        (USGOV, "https://login.microsoftonline.us/common/oauth2/deviceauth"),
        (CHINA, "https://microsoft.com/deviceloginchina"),
        (CHINA, "https://login.chinacloudapi.cn/common/oauth2/deviceauth"),
    ],
)
def test_microsofts_own_pages_are_not_doubted(authority: str, address: str) -> None:
    assert sign_in_page_doubt(address, authority) is None


@pytest.mark.parametrize(
    "address",
    [
        "https://evil.example/devicelogin",
        "https://microsoft.com.evil.example/devicelogin",
        "https://microsoft.com@evil.example/devicelogin",  # user info: the browser goes to evil.example
        "https://evil.example\\@microsoft.com/devicelogin",  # a backslash ends the host in a browser
        "https://evil.example\\microsoft.com/",
        "http://microsoft.com/devicelogin",  # not TLS
        "https://microsoft.com:8443/devicelogin",
        "https://micr\u043esoft.com/devicelogin",  # a Cyrillic o
        "https://microsoft.com/devicelogin\nhttps://evil.example",
        "",
    ],
)
def test_a_microsoft_cloud_answering_another_page_is_doubted(address: str) -> None:
    doubt = sign_in_page_doubt(address, GLOBAL)
    assert doubt is not None
    assert "https://microsoft.com/devicelogin" in doubt  # the page Microsoft documents for this cloud
    assert "\n" not in doubt and "\x1b" not in doubt


def test_the_doubt_shows_control_characters_and_names_the_page_of_the_cloud() -> None:
    doubt = sign_in_page_doubt("https://evil\x1b[8m.example\x07/devicelogin", USGOV)
    assert doubt is not None
    assert "\x1b" not in doubt and "\x07" not in doubt and "\\x1b" in doubt
    assert "evil\\x1b[8m.example" in doubt and "https://microsoft.com/deviceloginus" in doubt


@pytest.mark.parametrize("authority", ["https://127.0.0.1:8443", "https://login.proxy.contoso.com"])
def test_a_custom_authority_is_never_doubted(authority: str) -> None:
    assert sign_in_page_doubt("https://127.0.0.1:8443/devicelogin", authority) is None
    assert sign_in_page_doubt("https://anything.example/", authority) is None
