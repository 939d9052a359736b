#!/usr/bin/env python3
"""A PSRP client built on psrpcore's sans-IO client classes (ClientRunspacePool,
ClientPowerShell), speaking OutOfProc packets (or raw fragments) over TCP, so that peercheck can
test psrpcore as a client in listen mode:

    peercheck run scenarios --listen tcp://127.0.0.1:0 --role client --filter 'psrp*' \
        --exec 'adapters/psrpcore/.venv/bin/python adapters/psrpcore/client.py {addr}'

What it does (every PSRP decision is psrpcore's; the shim frames bytes and drives the calls):
1. Opens a RunspacePool (psrpcore's open(): SESSION_CAPABILITY + INIT_RUNSPACEPOOL, min=max=1)
   and reads until the pool is Opened (or Broken/Closed: exit 1).
2. Runs one pipeline: `Get-Date` (ClientPowerShell.add_command), OutOfProc `<Command>` first and
   waits for `<CommandAck>`, then the CREATE_PIPELINE data; answers pipeline and pool host calls
   that return a value (ReadLine → "peercheck", ReadLineAsSecureString → a SecureString after psrpcore's key
   exchange, others → an error record), asks for the session key when a SecureString arrives,
   and reads until the pipeline leaves Running.
3. Closes the pipeline (`<Close PSGuid=pid>`, waits for `<CloseAck>`), then the pool
   (`<Close PSGuid=0…>`, waits for `<CloseAck>`) and exits 0 when the pipeline Completed.

OutOfProc flow control as PowerShell's client does it: after each `<Data>` it waits for the
`<DataAck>` of that PSGuid before sending the next one for it; a `<Command>`, `<Signal>` or
`<Close>` from the server ends the run (PowerShell: IPCUnknownElementReceived). Exit status: 0 = the pipeline
completed and everything was acknowledged, 1 = anything else (reason on stderr). `--timeout`
bounds each wait (default 10 s).
"""

import argparse
import socket
import sys
import time
import traceback

import psrpcore
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    HostMethodIdentifier,
    NETException,
    PSInvocationState,
    PSSecureString,
    RunspacePoolState,
)

from transport import FragmentReader, FramingError, OutOfProcReader, control_line, data_line

MAX_PAYLOAD = 32768


def log(msg):
    print(f"psrpcore-client: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


class Client:
    def __init__(self, sock, framing, timeout):
        self.sock = sock
        self.framing = framing
        self.timeout = timeout
        self.reader = OutOfProcReader() if framing == "outofproc" else FragmentReader()
        self.pool = psrpcore.ClientRunspacePool()
        self.acks = []  # control packets received, consumed by wait_control
        self.events = []
        self.have_key = False

    # -- sending
    def send_pending(self):
        while True:
            payload = self.pool.data_to_send(MAX_PAYLOAD)
            if payload is None:
                return
            if self.framing == "outofproc":
                stream = "PromptResponse" if payload.stream_type == psrpcore.StreamType.prompt_response else "Default"
                self.sock.sendall(data_line(payload.pipeline_id, stream, payload.data))
                self.wait_control("DataAck", payload.pipeline_id)
            else:
                self.sock.sendall(payload.data)

    def control(self, kind, guid):
        if self.framing == "outofproc":
            self.sock.sendall(control_line(kind, guid))
            self.wait_control(kind + "Ack", guid)

    # -- receiving
    def pump(self):
        """Read once from the socket; queue events and control packets."""
        self.sock.settimeout(self.timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Failure(f"nothing received within {self.timeout} s") from None
        if not chunk:
            raise Failure("the server closed the connection")
        self.reader.push(chunk)
        if self.framing == "outofproc":
            for pkt in self.reader.packets():
                log(f"packet {pkt!r}")
                if pkt.kind == "Data":
                    self.feed(pkt.payload, pkt.stream, pkt.guid)
                elif pkt.kind.endswith("Ack"):
                    self.acks.append((pkt.kind, pkt.guid))
                else:
                    # PowerShell's client knows only Data and the acks: IPCUnknownElementReceived.
                    raise Failure(f"<{pkt.kind}> from the server (IPCUnknownElementReceived)")
        else:
            for frag in self.reader.fragments():
                self.feed(frag, "Default", None)

    def feed(self, data, stream, guid):
        st = psrpcore.StreamType.prompt_response if stream == "PromptResponse" else psrpcore.StreamType.default
        self.pool.receive_data(psrpcore.PSRPPayload(data, st, guid))
        while True:
            ev = self.pool.next_event()
            if ev is None:
                return
            log(f"event {type(ev).__name__}")
            if isinstance(ev, psrpcore.EncryptedSessionKeyEvent):
                self.have_key = True
            self.events.append(ev)

    def wait_control(self, kind, guid):
        deadline = time.monotonic() + self.timeout
        while (kind, guid) not in self.acks:
            if time.monotonic() > deadline:
                raise Failure(f"no <{kind}> for {guid}")
            self.pump()
        self.acks.remove((kind, guid))

    def next_event(self):
        while not self.events:
            self.pump()
        return self.events.pop(0)

    # -- the run
    def run(self):
        pool = self.pool
        pool.open()
        self.send_pending()
        while pool.state != RunspacePoolState.Opened:
            self.next_event()
            self.send_pending()
            if pool.state in (RunspacePoolState.Broken, RunspacePoolState.Closed):
                raise Failure(f"pool {pool.state.name} while opening")
        log("pool opened")

        ps = psrpcore.ClientPowerShell(pool)
        ps.add_command("Get-Date")
        ps.start()
        self.control("Command", ps.pipeline_id)
        self.send_pending()
        while ps.state == PSInvocationState.Running:
            ev = self.next_event()
            if isinstance(ev, (psrpcore.PipelineHostCallEvent, psrpcore.RunspacePoolHostCallEvent)) and ev.ci != -100:
                self.answer_host_call(ev)
            elif isinstance(ev, psrpcore.PipelineOutputEvent) and isinstance(ev.data, PSSecureString):
                self.ensure_key()
            elif isinstance(ev, psrpcore.RunspacePoolStateEvent) and pool.state != RunspacePoolState.Opened:
                raise Failure(f"pool {pool.state.name} while the pipeline ran")
            elif isinstance(ev, psrpcore.PipelineOutputEvent):
                log(f"output {ev.data!r}")
            # psrpcore may have queued an answer itself (e.g. PUBLIC_KEY after PUBLIC_KEY_REQUEST).
            self.send_pending()
        final = ps.state
        log(f"pipeline {final.name}")
        ps.close()
        self.control("Close", ps.pipeline_id)
        pool.close()
        self.control("Close", None)
        if final != PSInvocationState.Completed:
            raise Failure(f"pipeline ended {final.name}")

    def answer_host_call(self, ev):
        # ClientRunspacePool.host_response answers pool and pipeline host calls alike (by ci).
        respond = self.pool.host_response
        mi = ev.method_identifier
        if mi == HostMethodIdentifier.ReadLine:
            respond(ev.ci, "peercheck")
        elif mi == HostMethodIdentifier.ReadLineAsSecureString:
            self.ensure_key()
            respond(ev.ci, PSSecureString("peercheck"))
        else:
            err = ErrorRecord(
                Exception=NETException(Message=f"host method {mi.name} is not implemented by this client"),
                CategoryInfo=ErrorCategoryInfo(Category=ErrorCategory.NotImplemented),
                FullyQualifiedErrorId="HostMethodNotImplemented",
            )
            respond(ev.ci, error_record=err)
        self.send_pending()

    def ensure_key(self):
        """psrpcore's key exchange (PUBLIC_KEY → ENCRYPTED_SESSION_KEY), waited for."""
        self.pool.exchange_key()
        self.send_pending()
        deadline = time.monotonic() + self.timeout
        while not self.have_key:
            if time.monotonic() > deadline:
                raise Failure("no ENCRYPTED_SESSION_KEY")
            self.pump()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("addr", help="host:port (tcp:// prefix allowed)")
    ap.add_argument("--framing", choices=["outofproc", "fragments"], default="outofproc")
    ap.add_argument("--timeout", type=float, default=10.0)
    opts = ap.parse_args()
    addr = opts.addr.removeprefix("tcp://")
    host, _, port = addr.rpartition(":")
    try:
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=opts.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Client(sock, opts.framing, opts.timeout).run()
    except (Failure, FramingError, OSError) as e:
        log(f"failed: {e}")
        return 1
    except Exception as e:  # noqa: BLE001 - psrpcore's errors are of many types
        log(traceback.format_exc())
        log(f"failed: psrpcore raised {type(e).__name__}: {e}")
        return 1
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
