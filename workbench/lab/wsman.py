"""Exchange remote PowerShell for the lab: WSMan (SOAP 1.2 over HTTPS at /PowerShell, configuration
`Microsoft.Exchange`) in front of psrpcore's server-side runspace pool and pipelines.

Exchange's endpoint is a no-language runspace: scripts are refused, cmdlets run. Output is pulled from the cmdlet
generators only as Receive requests come in, each answer filled up to the client's MaxEnvelopeSize, so a
50,000-mailbox Get-Mailbox streams across many polls instead of being built in memory first.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from psrpcore import ServerPipeline, ServerRunspacePool
from psrpcore._events import CreatePipelineEvent
from psrpcore._payload import PSRPMessage, PSRPPayload, StreamType, create_message
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSInvocationState,
    PSRPMessageType,
)

from . import cmdlets
from .http import Request, Response, Router
from .httpauth import Authenticator
from .org import Organization, Recipient

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WSMV = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
PWSH = "http://schemas.microsoft.com/powershell"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
EXCHANGE_RESOURCE_URI = "http://schemas.microsoft.com/powershell/Microsoft.Exchange"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
DONE = f"{RSP}/CommandState/Done"
RUNNING = f"{RSP}/CommandState/Running"
CONTENT_TYPE = "application/soap+xml;charset=UTF-8"


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass
class _Run:
    pipeline: ServerPipeline
    work: Iterator[cmdlets.Item] | None = None
    out: list[bytes] = field(default_factory=list)


@dataclass
class _Shell:
    id: str
    pool: ServerRunspacePool
    caller: Recipient
    runs: dict[uuid.UUID, _Run] = field(default_factory=dict)
    pool_out: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class WSManFault(Exception):
    def __init__(self, code: int, subcode: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.message = message


class RemotePowerShell:
    def __init__(self, org: Organization, auth: Authenticator) -> None:
        self.org = org
        self.auth = auth
        self._shells: dict[str, _Shell] = {}
        self._lock = threading.Lock()

    def router(self, router: Router) -> None:
        router.add("POST", r"(?i)/powershell/?", self.handle)
        router.add("GET", r"(?i)/powershell/?", self.handle)

    # ---------------------------------------------------------------- HTTP

    def handle(self, request: Request) -> Response:
        vdir = self.org.powershell_vdir
        # Negotiate is always offered: Exchange's module takes Kerberos even with every IIS method off.
        schemes = tuple(s for s, on in (("Negotiate", True), ("NTLM", vdir.windows), ("Basic", vdir.basic)) if on)
        result = self.auth.authenticate(
            request, schemes, self.org.fqdn, self.org.extended_protection["powershell"], ntlm=vdir.windows
        )
        if result.response is not None:
            return result.response
        assert result.user is not None
        if request.method == "GET" or not request.body:
            return Response(200, b"", result.headers)  # the initial empty POST some clients send
        try:
            envelope = ElementTree.fromstring(request.body)
        except ElementTree.ParseError:
            return Response(400, b"Bad Request", content_type="text/plain")
        header = envelope.find(_q(SOAP12, "Header"))
        body = envelope.find(_q(SOAP12, "Body"))
        message_id = _text(header, _q(WSA, "MessageID"))
        action = _text(header, _q(WSA, "Action"))
        try:
            resource = _text(header, _q(WSMAN, "ResourceURI"))
            if resource.rstrip("/").lower() != EXCHANGE_RESOURCE_URI.lower():
                raise WSManFault(
                    2150858811,
                    "w:DestinationUnreachable",
                    f"The WS-Management service cannot process the request. The resource URI ({resource}) was not "
                    "found in the WS-Management catalog. The catalog contains the metadata that describes resources, "
                    "or logical endpoints.",
                )
            max_envelope = int(_text(header, _q(WSMAN, "MaxEnvelopeSize")) or 153600)
            reply_action, reply_body = self._dispatch(action, header, body, result.user, max_envelope)
        except WSManFault as fault:
            return Response(500, _fault(message_id, fault, self.org.server_name).encode(), result.headers, CONTENT_TYPE)
        return Response(200, _envelope(reply_action, message_id, reply_body).encode(), result.headers, CONTENT_TYPE)

    def _dispatch(
        self, action: str, header: Element | None, body: Element | None, user: Recipient, max_envelope: int
    ) -> tuple[str, str]:
        name = action.rsplit("/", 1)[-1]
        if name == "Create":
            return f"{TRANSFER}/CreateResponse", self._create(body, user)
        shell = self._shell(header)
        if shell.caller.upn != user.upn:
            raise WSManFault(5, "w:AccessDenied", "Access is denied.")
        with shell.lock:
            if name == "Command":
                return f"{RSP}/CommandResponse", self._command(shell, body)
            if name == "Send":
                return f"{RSP}/SendResponse", self._send(shell, body)
            if name == "Receive":
                return f"{RSP}/ReceiveResponse", self._receive(shell, body, max_envelope)
            if name == "Signal":
                return f"{RSP}/SignalResponse", self._signal(shell, body)
            if name == "Delete":
                with self._lock:
                    self._shells.pop(shell.id, None)
                return f"{TRANSFER}/DeleteResponse", ""
        raise WSManFault(2150858817, "w:ActionNotSupported", f"The action {action} is not supported by the service.")

    def _shell(self, header: Element | None) -> _Shell:
        shell_id = ""
        selectors = header.find(_q(WSMAN, "SelectorSet")) if header is not None else None
        for selector in selectors if selectors is not None else []:
            if selector.get("Name") == "ShellId":
                shell_id = (selector.text or "").strip().upper()
        with self._lock:
            shell = self._shells.get(shell_id)
        if shell is None:
            raise WSManFault(
                2150858843,
                "w:InvalidSelectors",
                f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
                "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
                "exists on the server.",
            )
        return shell

    # ---------------------------------------------------------------- operations

    def _create(self, body: Element | None, user: Recipient) -> str:
        node = body.find(_q(RSP, "Shell")) if body is not None else None
        creation = node.find(_q(PWSH, "creationXml")) if node is not None else None
        if node is None or creation is None or not creation.text:
            raise WSManFault(2150858882, "w:InvalidParameter", "The creationXml is missing from the shell request.")
        shell_id = (node.get("ShellId") or str(uuid.uuid4())).upper()
        pool = ServerRunspacePool()
        shell = _Shell(shell_id, pool, user)
        with shell.lock:
            pool.receive_data(PSRPPayload(base64.b64decode(creation.text), StreamType.default, None))
            self._pump(shell)
        with self._lock:
            self._shells[shell_id] = shell
        return (
            f"<x:ResourceCreated><a:Address>https://{self.org.fqdn}/PowerShell</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{EXCHANGE_RESOURCE_URI}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>"
            f"{EXCHANGE_RESOURCE_URI}</rsp:ResourceUri><rsp:Owner>{escape(user.upn)}</rsp:Owner>"
            "<rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>"
            "<rsp:State>Connected</rsp:State></rsp:Shell>"
        )

    def _command(self, shell: _Shell, body: Element | None) -> str:
        node = body.find(_q(RSP, "CommandLine")) if body is not None else None
        if node is None:
            raise WSManFault(2150858882, "w:InvalidParameter", "The CommandLine element is missing.")
        command_id = (node.get("CommandId") or str(uuid.uuid4())).upper()
        pipeline_id = uuid.UUID(command_id)
        shell.runs[pipeline_id] = _Run(ServerPipeline(shell.pool, pipeline_id))
        arguments = node.find(_q(RSP, "Arguments"))
        if arguments is not None and arguments.text:
            shell.pool.receive_data(PSRPPayload(base64.b64decode(arguments.text), StreamType.default, pipeline_id))
            self._pump(shell)
        return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"

    def _send(self, shell: _Shell, body: Element | None) -> str:
        node = body.find(_q(RSP, "Send")) if body is not None else None
        for stream in node if node is not None else []:
            command = stream.get("CommandId")
            pipeline_id = uuid.UUID(command) if command else None
            shell.pool.receive_data(PSRPPayload(base64.b64decode(stream.text or ""), StreamType.default, pipeline_id))
        self._pump(shell)
        return "<rsp:SendResponse/>"

    def _receive(self, shell: _Shell, body: Element | None, max_envelope: int) -> str:
        node = body.find(f"{_q(RSP, 'Receive')}/{_q(RSP, 'DesiredStream')}") if body is not None else None
        command = node.get("CommandId") if node is not None else None
        budget = max(4096, (max_envelope - 4096) * 3 // 4)
        if command is None:
            chunks, shell.pool_out = shell.pool_out, []
            streams = "".join(f'<rsp:Stream Name="stdout">{base64.b64encode(c).decode()}</rsp:Stream>' for c in chunks)
            return f"<rsp:ReceiveResponse>{streams}</rsp:ReceiveResponse>"
        run = shell.runs.get(uuid.UUID(command))
        if run is None:
            raise WSManFault(2150858843, "w:InvalidSelectors", f"The command {command} was not found in the shell.")
        pending = sum(len(c) for c in run.out)
        while run.work is not None and pending < budget:
            produced = self._advance(shell, run, budget - pending)
            pending = sum(len(c) for c in run.out)
            if not produced:
                break
        batch: list[bytes] = []
        size = 0
        while run.out and (not batch or size + len(run.out[0]) <= budget):
            chunk = run.out.pop(0)
            batch.append(chunk)
            size += len(chunk)
        streams = "".join(
            f'<rsp:Stream Name="stdout" CommandId="{command.upper()}">{base64.b64encode(c).decode()}</rsp:Stream>'
            for c in batch
        )
        done = run.work is None and not run.out
        state = (
            f'<rsp:CommandState CommandId="{command.upper()}" State="{DONE if done else RUNNING}">'
            + ("<rsp:ExitCode>0</rsp:ExitCode>" if done else "")
            + "</rsp:CommandState>"
        )
        return f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>"

    def _signal(self, shell: _Shell, body: Element | None) -> str:
        node = body.find(_q(RSP, "Signal")) if body is not None else None
        command = node.get("CommandId") if node is not None else None
        code = _text(node, _q(RSP, "Code"))
        if command:
            run = shell.runs.get(uuid.UUID(command))
            if run is not None and run.work is not None and code.endswith(("ctrl_c", "terminate")):
                run.work = None
                if run.pipeline.state == PSInvocationState.Running:
                    run.pipeline.stop()
                self._drain(shell)
            if code.endswith("terminate"):
                shell.runs.pop(uuid.UUID(command), None)
        return "<rsp:SignalResponse/>"

    # ---------------------------------------------------------------- PSRP plumbing

    def _drain(self, shell: _Shell) -> None:
        while (payload := shell.pool.data_to_send()) is not None:
            run = shell.runs.get(payload.pipeline_id) if payload.pipeline_id else None
            (run.out if run is not None else shell.pool_out).append(payload.data)

    def _pump(self, shell: _Shell) -> None:
        while (event := shell.pool.next_event()) is not None:
            if isinstance(event, CreatePipelineEvent):
                run = shell.runs[event.pipeline_id]
                run.pipeline.start()
                run.work = self._execute(shell, run)
        self._drain(shell)

    def _execute(self, shell: _Shell, run: _Run) -> Iterator[cmdlets.Item]:
        metadata = run.pipeline.metadata
        commands = list(metadata.commands) if metadata is not None else []
        if not commands:
            return
        if any(command.is_script for command in commands):
            yield cmdlets.NO_LANGUAGE
            return
        first = commands[0]
        if len(commands) > 1:
            yield cmdlets.Failure(
                "Only one cmdlet per pipeline is supported by this server.",
                "System.Management.Automation.RuntimeException",
                "InvalidOperation",
                "PipelineNotSupported",
            )
            return
        name = str(first.command_text)
        implementation = cmdlets.CMDLETS.get(name.lower())
        if implementation is None:
            yield cmdlets.not_recognized(name)
            return
        params: dict[str, Any] = {}
        for parameter_name, value in first.parameters:
            key = (parameter_name or "identity").lower()
            params[key] = True if value is None and parameter_name else value
        yield from implementation(cmdlets.Invocation(self.org, shell.caller, name, params))

    def _advance(self, shell: _Shell, run: _Run, budget: int) -> bool:
        """Run the cmdlet until about `budget` bytes of output are queued; False when nothing more came."""
        assert run.work is not None
        pipeline = run.pipeline
        produced = 0
        for _ in range(2000):
            item = next(run.work, None)
            if item is None:
                run.work = None
                if pipeline.state == PSInvocationState.Running:
                    pipeline.complete()
                break
            if isinstance(item, cmdlets.Output):
                pipeline.write_output(item.value)
            elif isinstance(item, cmdlets.RawOutput):
                _queue_output(pipeline, item.clixml)
            elif isinstance(item, cmdlets.Warning):
                pipeline.write_warning(item.text)
            elif isinstance(item, cmdlets.Error):
                pipeline.write_error(
                    _exception(item.message, item.exception),
                    ErrorCategoryInfo(
                        Category=ErrorCategory[item.category],
                        Reason=item.exception.rsplit(".", 1)[-1],
                        TargetName=item.target or "",
                        TargetType="String",
                    ),
                    target_object=item.target,
                    fully_qualified_error_id=cmdlets.exchange_error_id(self.org, item.failure, item.cmdlet_class),
                )
            else:
                run.work = None
                record = ErrorRecord(
                    Exception=_exception(item.message, item.exception),
                    CategoryInfo=ErrorCategoryInfo(
                        Category=ErrorCategory[item.category], Reason=item.exception.rsplit(".", 1)[-1]
                    ),
                    FullyQualifiedErrorId=item.error_id,
                )
                pipeline._change_state(PSInvocationState.Failed, record)
            produced += 1
            if produced % 50 == 0:
                self._drain(shell)
                if sum(len(c) for c in run.out) >= budget:
                    break
            if run.work is None:
                break
        self._drain(shell)
        return produced > 0


def _queue_output(pipeline: ServerPipeline, clixml: bytes) -> None:
    """What ServerPipeline.write_output does after serialising, for an object serialised by a template."""
    pool = pipeline.runspace_pool
    data = create_message(False, PSRPMessageType.PipelineOutput, clixml, pool.runspace_pool_id, pipeline.pipeline_id)
    object_id = pool._fragment_counter
    pool._send_buffer.append(
        PSRPMessage(
            PSRPMessageType.PipelineOutput,
            bytearray(data),
            pool.runspace_pool_id,
            pipeline.pipeline_id,
            object_id,
            StreamType.default,
        )
    )


def _exception(message: str, type_name: str) -> NETException:
    exception = NETException(Message=message, HResult=-2146233087)
    exception.PSObject.type_names = [type_name, "System.Exception", "System.Object"]
    return exception


def _text(node: Element | None, path: str) -> str:
    found = node.find(path) if node is not None else None
    return (found.text or "").strip() if found is not None else ""


def _envelope(action: str, relates_to: str, body: str) -> str:
    return (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{SOAP12}" xmlns:a="{WSA}" xmlns:x="{TRANSFER}" xmlns:w="{WSMAN}" '
        f'xmlns:rsp="{RSP}" xmlns:p="{WSMV}"><s:Header><a:Action>{action}</a:Action>'
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID><a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{relates_to}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )


def _fault(relates_to: str, fault: WSManFault, machine: str) -> str:
    message = escape(fault.message)
    body = (
        f"<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{message}</s:Text></s:Reason><s:Detail>'
        f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{fault.code}" '
        f'Machine="{machine}"><f:Message>{message}</f:Message></f:WSManFault></s:Detail></s:Fault>'
    )
    return _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)
