"""The lab's Kerberos realm: a real MIT KDC (`krb5kdc`) on loopback, as Active Directory's domain controllers are for
an Exchange organisation.

Everything lives in a private folder of the lab (database, stash, keytab, profiles) and is passed to the MIT tools
through their environment, never through this process's: realm `FABRIKAM.TEST`, one principal per recipient that
has a password (pre-authentication required, as Active Directory requires it), and the server's service principal
`HTTP/exch01.fabrikam.test`, whose key goes to a keytab the lab's acceptor reads. Where the MIT binaries or python-
gssapi are missing, `missing()` says what to install and the lab runs without Kerberos.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local")
INSTALL_HINT = (
    "the lab runs without Kerberos (remote PowerShell refuses everyone): install MIT Kerberos and the kerberos "
    "extra: apt-get install krb5-kdc krb5-admin-server libkrb5-dev && make install"
)
_SEARCH = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"))
_START_TIMEOUT = 10.0


def _tool(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH)


def missing() -> str | None:
    """Why the lab cannot run a KDC here, or None when it can."""
    absent = [name for name in TOOLS if _tool(name) is None]
    try:
        import gssapi  # noqa: F401  (the acceptor)
    except ImportError:
        absent.append("python-gssapi")
    return f"{', '.join(absent)} missing: {INSTALL_HINT}" if absent else None


@dataclass(frozen=True, slots=True)
class Principal:
    name: str  # without the realm
    password: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Kdc:
    """A KDC for one realm, serving TCP and UDP on one loopback port, until `stop()`."""

    def __init__(self, folder: Path, realm: str, service: str) -> None:
        self.folder = folder
        self.realm = realm
        self.service = service  # e.g. HTTP/exch01.fabrikam.test
        self.keytab = folder / "http.keytab"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def _environment(self) -> dict[str, str]:
        return {
            "PATH": _SEARCH,
            "KRB5_CONFIG": str(self.folder / "krb5.conf"),
            "KRB5_KDC_PROFILE": str(self.folder / "kdc.conf"),
            "KRB5CCNAME": "MEMORY:lab",
            "LANG": "C",
        }

    def _write_profiles(self) -> None:
        folder = self.folder
        (folder / "kdc.conf").write_text(
            "[kdcdefaults]\n"
            f" kdc_listen = 127.0.0.1:{self.port}\n"
            f" kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            "[realms]\n"
            f" {self.realm} = {{\n"
            f"  database_name = {folder / 'principal'}\n"
            f"  key_stash_file = {folder / 'stash'}\n"
            f"  acl_file = {folder / 'kadm5.acl'}\n"
            "  max_life = 10h\n"
            "  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
            " }\n"
            "[logging]\n"
            f" kdc = FILE:{folder / 'kdc.log'}\n",
            encoding="utf-8",
        )
        (folder / "krb5.conf").write_text(
            "[libdefaults]\n"
            f" default_realm = {self.realm}\n"
            " dns_lookup_kdc = false\n"
            "[realms]\n"
            f" {self.realm} = {{\n  kdc = 127.0.0.1:{self.port}\n }}\n",
            encoding="utf-8",
        )

    def _run(self, *command: str, stdin: str = "") -> None:
        tool = _tool(command[0]) or command[0]
        done = subprocess.run(
            [tool, *command[1:]],
            input=stdin.encode("utf-8"),
            capture_output=True,
            env=self._environment(),
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")

    def start(self, principals: Iterable[Principal]) -> Kdc:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.port = _free_port()
        self._write_profiles()
        master = os.urandom(16).hex()
        self._run("kdb5_util", "create", "-s", "-r", self.realm, "-P", master)
        # Passwords go through kadmin's standard input, never its argument list.
        script = [f"addprinc -pw {p.password} +requires_preauth {p.name}" for p in principals]
        script += [f"addprinc -randkey {self.service}", f"ktadd -k {self.keytab} {self.service}"]
        self._run("kadmin.local", stdin="\n".join(script) + "\n")
        self._process = subprocess.Popen(
            [_tool("krb5kdc") or "krb5kdc", "-n", "-r", self.realm],
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"krb5kdc exited at start (see {self.folder / 'kdc.log'})")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.02)
        raise RuntimeError(f"krb5kdc did not listen on 127.0.0.1:{self.port} within {_START_TIMEOUT:g} s")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=2)
            self._process = None
