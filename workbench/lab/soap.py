"""SOAP for the lab's EWS endpoints: parse what exchangelib sends, answer the way Exchange answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from .http import Response

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"


def q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass(frozen=True, slots=True)
class SoapRequest:
    header: Element | None
    operation: Element

    @property
    def name(self) -> str:
        return self.operation.tag.split("}")[-1]

    def impersonated(self) -> str | None:
        """The mailbox named in the ExchangeImpersonation header, if any."""
        if self.header is None:
            return None
        node = self.header.find(f"{q(T, 'ExchangeImpersonation')}/{q(T, 'ConnectingSID')}")
        if node is None:
            return None
        for child in node:
            if child.text:
                return child.text.strip()
        return None


class SoapParseError(ValueError):
    pass


def parse(body: bytes) -> SoapRequest:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise SoapParseError(str(error)) from None
    header = root.find(q(SOAP, "Header"))
    soap_body = root.find(q(SOAP, "Body"))
    if soap_body is None or len(soap_body) == 0:
        raise SoapParseError("no SOAP body")
    return SoapRequest(header, soap_body[0])


@dataclass(frozen=True, slots=True)
class ServerVersion:
    major: int
    minor: int
    build: int
    revision: int
    schema: str  # the Version attribute, e.g. "V2018_01_08" (Exchange Online) or "Exchange2016" (2016/2019)

    def header(self) -> str:
        return (
            f'<h:ServerVersionInfo MajorVersion="{self.major}" MinorVersion="{self.minor}" '
            f'MajorBuildNumber="{self.build}" MinorBuildNumber="{self.revision}" Version="{self.schema}" '
            f'xmlns:h="{T}" xmlns="{T}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
        )


def envelope(version: ServerVersion, body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Header>{version.header()}</s:Header>'
        f'<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body></s:Envelope>'
    )


def fault(code: str, message: str, status: int = 500) -> Response:
    """A SOAP fault the way Exchange writes one for header-level errors (impersonation, mailbox)."""
    text = escape(message)
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{T}">a:{code}</faultcode><faultstring xml:lang="en-US">{text}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="{E}">{code}</e:ResponseCode><e:Message xmlns:e="{E}">{text}</e:Message>'
        "</detail></s:Fault></s:Body></s:Envelope>"
    )
    return Response.xml(status, body)


def error_message(operation: str, code: str, message: str) -> str:
    """A per-item error inside an ordinary response, e.g. GetFolderResponseMessage ResponseClass="Error"."""
    return (
        f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
        f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(message)}</m:MessageText>'
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response>"
    )


# Distinguished folders exchangelib may ask for, with their display names and classes.
DISTINGUISHED = {
    "root": ("Root", None),
    "msgfolderroot": ("Top of Information Store", "IPF.Note"),
    "inbox": ("Inbox", "IPF.Note"),
    "publicfoldersroot": ("Public Folders", None),
}


def folder_id(mailbox: str, name: str) -> str:
    return hashlib.sha256(f"{mailbox}/{name}".encode()).hexdigest()


def get_folder(operation: Element, mailbox: str) -> str:
    """GetFolder of distinguished folders of one mailbox: what `account.root` and friends ask for."""
    ids = operation.find(q(M, "FolderIds"))
    messages = []
    for node in list(ids) if ids is not None else []:
        name = node.get("Id", "")
        if node.tag != q(T, "DistinguishedFolderId") or name not in DISTINGUISHED:
            messages.append(
                '<m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>The specified folder could not be '
                "found in the store.</m:MessageText><m:ResponseCode>ErrorFolderNotFound</m:ResponseCode>"
                "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetFolderResponseMessage>"
            )
            continue
        display, folder_class = DISTINGUISHED[name]
        fid = folder_id(mailbox, name)
        class_xml = f"<t:FolderClass>{folder_class}</t:FolderClass>" if folder_class else ""
        messages.append(
            '<m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders>'
            f'<t:Folder><t:FolderId Id="{fid}" ChangeKey="AQAAAA=="/>'
            f'<t:ParentFolderId Id="{folder_id(mailbox, "root")}" ChangeKey="AQAAAA=="/>{class_xml}'
            f"<t:DisplayName>{escape(display)}</t:DisplayName><t:TotalCount>0</t:TotalCount>"
            "<t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount></t:Folder>"
            "</m:Folders></m:GetFolderResponseMessage>"
        )
    return (
        f'<m:GetFolderResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>{"".join(messages)}'
        "</m:ResponseMessages></m:GetFolderResponse>"
    )
