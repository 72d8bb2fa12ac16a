"""A CA bundle that is readable but is not the CA of the server: the failure names the bundle that was tried, so
the admin knows which file to replace (the system's trust store and a pin say so too)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.engine.conftest import m365_connection, onprem_connection, verify
from workbench.checks.events import Status
from workbench.lab import Lab
from workbench.model import M365Settings


def test_a_custom_cloud_behind_the_wrong_ca_bundle_names_the_bundle(
    healthy_lab: Lab, cert_files: dict[str, Path]
) -> None:
    state = healthy_lab.state
    wrong = str(cert_files["pem_cert_only"])  # a certificate, but not the CA that issued the lab's
    cloud = m365_connection(state)
    assert isinstance(cloud.settings, M365Settings)
    cloud = replace(cloud, settings=replace(cloud.settings, ca_bundle=wrong))
    result = verify(state, cloud)
    assert result.failures() == [("m365.discovery", "TLS_UNTRUSTED")]
    detail = result.checks["m365.discovery"].outcome.detail
    assert f"CA bundle {wrong}" in detail, detail


def test_an_onprem_server_behind_the_wrong_ca_bundle_names_the_bundle(
    healthy_lab: Lab, cert_files: dict[str, Path]
) -> None:
    state = healthy_lab.state
    wrong = str(cert_files["pem_cert_only"])
    result = verify(state, onprem_connection(state, "fqdn", ca_bundle=wrong))
    assert result.status("onprem.tls") is Status.FAILED and result.code("onprem.tls") == "TLS_UNTRUSTED"
    detail = result.checks["onprem.tls"].outcome.detail
    assert f"CA bundle {wrong}" in detail, detail


def test_a_tls_failure_that_is_not_about_trust_does_not_blame_the_bundle(healthy_lab: Lab) -> None:
    """The hostile review: a plain-HTTP port answered "not trusted by the CA bundle …"; only a certificate the
    bundle could not verify names it."""
    import ssl

    import requests

    from tests.engine.conftest import target as target_for_test
    from workbench.checks.common import network_failure

    state = healthy_lab.state
    target = target_for_test(state, onprem_connection(state, "fqdn", ca_bundle=state.ca_bundle))
    wrong_protocol = requests.exceptions.SSLError(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"))
    outcome = network_failure(wrong_protocol, target, "exch01.fabrikam.test", 443)
    assert outcome is not None and "CA bundle" not in outcome.detail
    unverified = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] unable to get local issuer")
    outcome = network_failure(unverified, target, "exch01.fabrikam.test", 443)
    assert outcome is not None and f"CA bundle {state.ca_bundle}" in outcome.detail
