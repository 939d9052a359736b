#!/usr/bin/env python3
"""A PSRP server on stdin/stdout built on psrpcore's sans-IO server classes (ServerRunspacePool,
ServerPipeline), so that peercheck can test psrpcore as a server:

    peercheck run scenarios --exec 'adapters/psrpcore/.venv/bin/python adapters/psrpcore/server.py' \
        --role server --filter 'psrp*'

Everything PSRP (fragments, messages, CLIXML, state machines, capability, key exchange, host
calls) is psrpcore's. The shim only frames bytes and plays the part psrpcore leaves to its caller:

Transport (psrpcore has none):
- `--framing auto` (default): the catalogue chooses the framing per scenario (`params.framing`)
  without telling the program, so the shim looks at the first byte: `<` → OutOfProc, anything else
  → raw fragments. `--framing outofproc|fragments` forces one.
- OutOfProc: one XML packet per line, as `pwsh -s` speaks. `<Command>`
  creates the ServerPipeline and is answered with `<CommandAck>`; each `<Data>` line is given to
  psrpcore and answered with `<DataAck>` (same PSGuid) after the replies it caused — a `<Data>`
  for a PSGuid no `<Command>` announced is dropped and still acknowledged, as PowerShell's server
  does; `<Signal>` stops a running pipeline (ServerPipeline.stop) then `<SignalAck>`; `<Close>` of
  a pipeline closes it (stopping it first when running) then `<CloseAck>`; `<Close>` of the pool
  (all-zero PSGuid) is answered with `<CloseAck>` and the process exits 0. As in PowerShell, an
  ack packet from the client (IPCUnknownElementReceived) or a `<Signal>` for the pool
  (IPCNoSignalForSession) breaks the pool.
- fragments: raw fragments both ways; stdin EOF ends the process.
- Replies go out as psrpcore's `data_to_send(32768)` payloads (PowerShell's fragment size,
  ERRATA PSRP-6): one Data line per payload, PSGuid = its pipeline id, Stream = its stream type.
- OutOfProc Data payloads go to psrpcore whole (its own fragment parsing); in fragments framing
  the shim cuts the stream into whole fragments first (psrpcore slices without length checks).
  psrpcore needs the ServerPipeline object before it decodes CREATE_PIPELINE /
  GET_COMMAND_METADATA: in fragments framing (no `<Command>`) the shim reads the PID from the
  message header as fragments arrive and creates it.

Application logic (psrpcore does not run PowerShell) — deterministic, documented in README.md:
- Commands of CREATE_PIPELINE, statement by statement: `Get-Date` → a fixed DateTime
  (2001-02-03T04:05:06Z); `Write-Output`/`echo` → each argument as output; `Write-Error` → an
  ErrorRecord; `Write-Warning`/`-Verbose`/`-Debug`/`-Information`/`Write-Host` → that record;
  `Write-Progress` → a progress record; `Read-Host [-AsSecureString]` → host call ReadLine
  (ReadLineAsSecureString) and its answer as output; `Start-Sleep` → runs until stopped;
  `throw 'x'` → pipeline Failed; anything else → its command text as one string output. A script
  command is split into statements on newlines and `;`; a quoted literal statement is output.
- Pipelines with input (NoInput false) echo each PIPELINE_INPUT as output and complete at
  END_OF_PIPELINE_INPUT.
- GET_COMMAND_METADATA: CommandMetadataCount + one object per match among a small command table.
- SET_MAX_RUNSPACES ok when max ≥ min and ≥ 1; SET_MIN_RUNSPACES ok when 1 ≤ min ≤ max;
  GET_AVAILABLE_RUNSPACES = max − running pipelines; RESET_RUNSPACE_STATE ok.
- `--no-running-state` (diagnostic, off by default): start pipelines with psrpcore's
  `_change_state(Running, emit=False)` instead of `ServerPipeline.start()`, which queues a
  PIPELINE_STATE Running that PowerShell never sends (see expectations/psrpcore-server.yaml); it
  lets a run show what else differs. Everything else stays psrpcore's.
- When psrpcore raises on client data, the pool is set Broken (if open) with the error, the
  replies are flushed, and the process exits 1.
"""

import argparse
import os
import shlex
import sys
import traceback
import uuid

import psrpcore
from psrpcore.types import (
    CommandMetadataCount,
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    HostMethodIdentifier,
    NETException,
    ProgressRecordType,
    PSCustomObject,
    PSDateTime,
    PSInvocationState,
    PSSecureString,
    RunspacePoolState,
)

from transport import (
    FragmentReader,
    FramingError,
    MessagePeek,
    OutOfProcReader,
    control_line,
    data_line,
)

CREATE_PIPELINE = 0x00021006
GET_COMMAND_METADATA = 0x0002100A
MAX_PAYLOAD = 32768
FIXED_DATE = PSDateTime(2001, 2, 3, 4, 5, 6, tzinfo=__import__("datetime").timezone.utc)
KNOWN_COMMANDS = [
    "Get-Date",
    "Write-Output",
    "Write-Error",
    "Write-Warning",
    "Write-Verbose",
    "Write-Debug",
    "Write-Information",
    "Write-Host",
    "Write-Progress",
    "Read-Host",
    "Start-Sleep",
]


def log(msg):
    print(f"psrpcore-server: {msg}", file=sys.stderr, flush=True)


# ---- the command table -------------------------------------------------------------------


def split_statements(script):
    """Statements of a script: newlines and `;` outside quotes separate them."""
    out, cur, quote = [], [], None
    for ch in script:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch in ";\n\r":
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [s for s in out if s]


def tokens(statement):
    try:
        return shlex.split(statement, posix=True)
    except ValueError:
        return statement.split()


def literal(statement):
    """A quoted string or an integer statement's value, else None."""
    s = statement.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    try:
        return int(s)
    except ValueError:
        return None


def split_params(args):
    """(positional, {name: value}) from `-Name value` / `-Switch` tokens."""
    pos, named, i = [], {}, 0
    while i < len(args):
        a = args[i]
        if isinstance(a, str) and a.startswith("-") and len(a) > 1 and not a[1].isdigit():
            name = a[1:].rstrip(":").lower()
            if i + 1 < len(args) and not (isinstance(args[i + 1], str) and args[i + 1].startswith("-")):
                named[name] = args[i + 1]
                i += 2
            else:
                named[name] = True
                i += 1
        else:
            pos.append(a)
            i += 1
    return pos, named


def actions_for(name, args, named, text):
    """The actions one command performs."""
    n = name.lower()
    first = args[0] if args else None
    msg = named.get("message", named.get("messagedata", named.get("object", first)))
    if n == "get-date":
        return [("output", FIXED_DATE)]
    if n in ("write-output", "echo"):
        values = list(args)
        if "inputobject" in named:
            values.append(named["inputobject"])
        return [("output", v) for v in values]
    if n == "write-error":
        return [("error", str(msg if msg is not None else "error"))]
    if n in ("write-warning", "write-verbose", "write-debug"):
        return [(n.split("-")[1], str(msg if msg is not None else ""))]
    if n in ("write-information", "write-host"):
        return [("information", msg if msg is not None else "")]
    if n == "write-progress":
        return [("progress", str(named.get("activity", first or "Working")))]
    if n == "read-host":
        secure = named.get("assecurestring") is True
        return [("host-read", secure)]
    if n == "start-sleep":
        return [("sleep", None)]
    if n == "throw":
        return [("throw", str(first if first is not None else "ScriptHalted"))]
    return [("output", text)]


def plan(commands):
    """Actions for the commands of a CREATE_PIPELINE."""
    acts = []
    for cmd in commands:
        if cmd.is_script:
            for st in split_statements(cmd.command_text):
                lit = literal(st)
                if lit is not None:
                    acts.append(("output", lit))
                    continue
                toks = tokens(st)
                if not toks:
                    continue
                pos, named = split_params(toks[1:])
                acts.extend(actions_for(toks[0], pos, named, st))
        else:
            pos = [v for k, v in cmd.parameters if k is None]
            named = {k.lower(): v for k, v in cmd.parameters if k is not None}
            acts.extend(actions_for(cmd.command_text, pos, named, cmd.command_text))
    return acts


class Job:
    """One pipeline's remaining actions."""

    def __init__(self, pipe, actions, no_input):
        self.pipe = pipe
        self.actions = actions
        self.no_input = no_input
        self.inputs = []
        self.input_done = no_input
        self.waiting_ci = None
        self.sleeping = False


# ---- the server ----------------------------------------------------------------------------


class Server:
    def __init__(self, framing, out, running_state=True):
        self.running_state = running_state
        self.framing = framing
        self.out = out
        self.pool = psrpcore.ServerRunspacePool()
        self.peek = MessagePeek()
        self.frames = {}  # PSGuid -> FragmentReader (PowerShell keeps one per transport manager)
        self.jobs = {}
        self.announced = set()  # PSGuids of <Command> packets

    # -- output
    def write(self, b):
        self.out.write(b)
        self.out.flush()

    def flush(self):
        while True:
            payload = self.pool.data_to_send(MAX_PAYLOAD)
            if payload is None:
                return
            if self.framing == "outofproc":
                stream = "PromptResponse" if payload.stream_type == psrpcore.StreamType.prompt_response else "Default"
                self.write(data_line(payload.pipeline_id, stream, payload.data))
            else:
                self.write(payload.data)

    # -- input
    def on_data(self, guid, stream, payload):
        if self.framing == "outofproc":
            # A Data line carries whole fragments: it goes to psrpcore as one payload, the way
            # psrpcore's own OutOfProc tests feed it (psrpcore does its own fragment parsing).
            self.feed(guid, stream, payload)
            self.flush()
            return
        reader = self.frames.setdefault(guid, FragmentReader())
        reader.push(payload)
        for frag in reader.fragments():
            seen = self.peek.feed(frag)
            if seen and seen[0] in (CREATE_PIPELINE, GET_COMMAND_METADATA) and seen[1]:
                if seen[1] not in self.pool.pipeline_table:
                    psrpcore.ServerPipeline(self.pool, seen[1])
            self.feed(guid, stream, frag)
        self.flush()

    def feed(self, guid, stream, data):
        st = psrpcore.StreamType.prompt_response if stream == "PromptResponse" else psrpcore.StreamType.default
        self.pool.receive_data(psrpcore.PSRPPayload(data, st, guid))
        while True:
            event = self.pool.next_event()
            if event is None:
                return
            log(f"event {type(event).__name__}")
            self.on_event(event)

    def on_command(self, guid):
        self.announced.add(guid)
        if guid and guid not in self.pool.pipeline_table:
            psrpcore.ServerPipeline(self.pool, guid)
        self.write(control_line("CommandAck", guid))

    def on_signal(self, guid):
        job = self.jobs.get(guid)
        if job and job.pipe.state == PSInvocationState.Running:
            job.pipe.stop()
            self.flush()
        self.write(control_line("SignalAck", guid))

    def on_close(self, guid):
        if guid is None:
            self.write(control_line("CloseAck", None))
            return True
        pipe = self.pool.pipeline_table.get(guid)
        if pipe is not None:
            if pipe.state == PSInvocationState.Running:
                pipe.stop()
                self.flush()
            pipe.close()
        self.jobs.pop(guid, None)
        self.write(control_line("CloseAck", guid))
        return False

    # -- events
    def on_event(self, ev):
        pool = self.pool
        if isinstance(ev, psrpcore.CreatePipelineEvent):
            meta = ev.pipeline
            pipe = pool.pipeline_table[ev.pipeline_id]
            job = Job(pipe, plan(meta.commands), meta.no_input)
            self.jobs[ev.pipeline_id] = job
            self.start(pipe)
            self.advance(job)
        elif isinstance(ev, psrpcore.GetCommandMetadataEvent):
            self.command_metadata(ev)
        elif isinstance(ev, psrpcore.PipelineInputEvent):
            job = self.jobs.get(ev.pipeline_id)
            if job and not job.input_done:
                job.inputs.append(ev.data)
        elif isinstance(ev, psrpcore.EndOfPipelineInputEvent):
            job = self.jobs.get(ev.pipeline_id)
            if job:
                job.input_done = True
                self.advance(job)
        elif isinstance(ev, psrpcore.PipelineHostResponseEvent):
            job = self.jobs.get(ev.pipeline_id)
            if job and job.waiting_ci == ev.ci:
                job.waiting_ci = None
                result = ev.result
                if isinstance(result, PSSecureString):
                    result = result.decrypt()
                if ev.error is None and job.pipe.state == PSInvocationState.Running:
                    job.pipe.write_output(result)
                self.advance(job)
        elif isinstance(ev, psrpcore.SetMaxRunspacesEvent):
            ok = ev.count >= max(pool.min_runspaces, 1)
            pool.runspace_availability_response(ev.ci, ok)
        elif isinstance(ev, psrpcore.SetMinRunspacesEvent):
            ok = 1 <= ev.count <= pool.max_runspaces
            pool.runspace_availability_response(ev.ci, ok)
        elif isinstance(ev, psrpcore.GetAvailableRunspacesEvent):
            busy = sum(1 for j in self.jobs.values() if j.pipe.state == PSInvocationState.Running)
            pool.runspace_availability_response(ev.ci, max(pool.max_runspaces - busy, 0))
        elif isinstance(ev, psrpcore.ResetRunspaceStateEvent):
            pool.runspace_availability_response(ev.ci, True)
        # SessionCapability, InitRunspacePool, ConnectRunspacePool, PublicKey: psrpcore queues the
        # replies itself. Host responses for the pool: nothing to do.

    def start(self, pipe):
        if self.running_state:
            pipe.start()  # psrpcore queues PIPELINE_STATE Running here
        else:
            # The same state check as ServerPipeline.start(), without its PIPELINE_STATE message.
            valid = [PSInvocationState.NotStarted, PSInvocationState.Stopped, PSInvocationState.Completed]
            if pipe.state not in valid:
                raise psrpcore.InvalidPipelineState("start a pipeline", pipe.state, valid)
            pipe._change_state(PSInvocationState.Running, emit=False)

    def advance(self, job):
        pipe = job.pipe
        while job.actions and job.waiting_ci is None and not job.sleeping:
            kind, arg = job.actions.pop(0)
            if kind == "output":
                pipe.write_output(arg)
            elif kind == "error":
                pipe.write_error(
                    NETException(Message=arg),
                    ErrorCategoryInfo(Category=ErrorCategory.NotSpecified, Reason="WriteErrorException"),
                    fully_qualified_error_id="Microsoft.PowerShell.Commands.WriteErrorException",
                )
            elif kind == "warning":
                pipe.write_warning(arg)
            elif kind == "verbose":
                pipe.write_verbose(arg)
            elif kind == "debug":
                pipe.write_debug(arg)
            elif kind == "information":
                pipe.write_information(arg, source="psrpcore-shim", user="peercheck", computer="peercheck",
                                       process_id=1, native_thread_id=1, time_generated=FIXED_DATE)
            elif kind == "progress":
                pipe.write_progress(arg, 1, "Working", percent_complete=50,
                                    record_type=ProgressRecordType.Processing)
            elif kind == "host-read":
                method = HostMethodIdentifier.ReadLineAsSecureString if arg else HostMethodIdentifier.ReadLine
                job.waiting_ci = pipe.host_call(method)
                return
            elif kind == "sleep":
                job.sleeping = True
                return
            elif kind == "throw":
                err = ErrorRecord(
                    Exception=NETException(Message=arg),
                    CategoryInfo=ErrorCategoryInfo(Category=ErrorCategory.OperationStopped, Reason="RuntimeException"),
                    FullyQualifiedErrorId=arg,
                )
                # psrpcore has no public "fail" on ServerPipeline; its state change emits PIPELINE_STATE.
                pipe._change_state(PSInvocationState.Failed, error=err)
                job.actions = []
                return
        if job.input_done and pipe.state == PSInvocationState.Running:
            for value in job.inputs:
                pipe.write_output(value)
            job.inputs = []
            pipe.complete()

    def command_metadata(self, ev):
        pipe = self.pool.pipeline_table[ev.pipeline_id]
        patterns = [p.lower() for p in (ev.pipeline.name or ["*"])]

        def hit(name):
            n = name.lower()
            return any(n.startswith(p[:-1]) if p.endswith("*") else n == p for p in patterns)

        found = [c for c in KNOWN_COMMANDS if hit(c)]
        self.start(pipe)
        pipe.write_output(CommandMetadataCount(Count=len(found)))
        for c in found:
            info = PSCustomObject(Name=c, CommandType=8)
            pipe.write_output(info)
        pipe.complete()

    def broken(self, why):
        log(why)
        if self.pool.state == RunspacePoolState.Opened:
            try:
                err = ErrorRecord(
                    Exception=NETException(Message=why),
                    CategoryInfo=ErrorCategoryInfo(Category=ErrorCategory.InvalidData),
                    FullyQualifiedErrorId="PSRemotingDataStructureException",
                )
                self.pool.set_broken(err)
                self.flush()
            except Exception:  # noqa: BLE001 - best effort on the way out
                log(traceback.format_exc())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--framing", choices=["auto", "outofproc", "fragments"], default="auto",
                    help="auto (default): OutOfProc when the first byte is '<', raw fragments otherwise")
    ap.add_argument("--no-running-state", action="store_true",
                    help="diagnostic: do not send psrpcore's PIPELINE_STATE Running")
    opts = ap.parse_args()
    out = sys.stdout.buffer
    framing = opts.framing
    server = None
    # In fragments framing the bytes go straight to the server's fragment reader.
    reader = OutOfProcReader()
    fd = sys.stdin.fileno()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            log("stdin closed")
            return 0
        if framing == "auto":
            # The catalogue picks the framing per scenario (params.framing) and the shim is not told:
            # an OutOfProc stream starts with '<', a fragment stream with a big-endian ObjectId.
            first = chunk.lstrip()[:1]
            if not first:
                continue
            framing = "outofproc" if first == b"<" else "fragments"
            log(f"framing: {framing} (detected)")
        if server is None:
            server = Server(framing, out, running_state=not opts.no_running_state)
        try:
            if framing == "outofproc":
                reader.push(chunk)
                for pkt in reader.packets():
                    log(f"packet {pkt!r}")
                    if pkt.kind == "Data":
                        if pkt.guid is None or pkt.guid in server.announced:
                            server.on_data(pkt.guid, pkt.stream, pkt.payload)
                        else:
                            log(f"Data for {pkt.guid}, which no <Command> announced: dropped")
                        server.write(control_line("DataAck", pkt.guid))
                    elif pkt.kind == "Command":
                        server.on_command(pkt.guid)
                    elif pkt.kind == "Signal" and pkt.guid is None:
                        server.broken("<Signal> for the pool (IPCNoSignalForSession)")
                        return 1
                    elif pkt.kind == "Signal":
                        server.on_signal(pkt.guid)
                    elif pkt.kind == "Close":
                        if server.on_close(pkt.guid):
                            return 0
                    else:
                        server.broken(f"<{pkt.kind}> from the client (IPCUnknownElementReceived)")
                        return 1
            else:
                server.on_data(None, "Default", chunk)
        except FramingError as e:
            server.broken(f"framing error: {e}")
            return 1
        except Exception as e:  # noqa: BLE001 - psrpcore's errors are of many types
            log(traceback.format_exc())
            server.broken(f"psrpcore failed on client data: {type(e).__name__}: {e}")
            return 1


if __name__ == "__main__":
    sys.exit(main())
