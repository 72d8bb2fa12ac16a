"""A DNS server on 127.0.0.1 for the lab's on-premises domain: A records and the autodiscover SRV record, answered
with dnspython's message handling, so clients resolve the lab's names through their own resolver settings."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@dataclass
class Zone:
    a: dict[str, str] = field(default_factory=dict)  # name -> IPv4
    srv: dict[str, list[tuple[int, int, int, str]]] = field(
        default_factory=dict
    )  # name -> (prio, weight, port, target)

    def knows(self, name: str) -> bool:
        return name in self.a or name in self.srv


class LabDns:
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.queries: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="lab-dns", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> LabDns:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(Exception):  # a malformed query gets no answer, as from a real server
                self._socket.sendto(self.answer(data), peer)

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for question in query.question:
            name = question.name.to_text().rstrip(".").lower()
            kind = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, kind))
            if kind == "A" and name in self.zone.a:
                response.answer.append(
                    dns.rrset.from_text(question.name, 300, dns.rdataclass.IN, "A", self.zone.a[name])
                )
            elif kind == "SRV" and name in self.zone.srv:
                records = [f"{p} {w} {port} {target}." for p, w, port, target in self.zone.srv[name]]
                response.answer.append(dns.rrset.from_text(question.name, 300, dns.rdataclass.IN, "SRV", *records))
            elif not self.zone.knows(name):
                response.set_rcode(dns.rcode.NXDOMAIN)
        return bytes(response.to_wire())
