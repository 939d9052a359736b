#!/usr/bin/env python3
"""Writes golden/now/*.yaml (except upstream.yaml, see gen_upstream.py).

The bytes are laid out here, independently of the Rust codec, from the spec text (NOW-PROTO 1.3,
the 1.0 text) and the ERRATA entries for the shipped layout (1.4-1.6 additions). Run from anywhere:
    python3 golden/now/gen_golden.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- layout helpers (spec-derived)


def varu32(v):
    """NOW_VARU32: c = extra bytes in the top 2 bits of byte 0, value bytes MSB first (ERRATA NOW-4)."""
    assert 0 <= v <= 0x3FFFFFFF
    for n in (1, 2, 3, 4):
        if v < 1 << (8 * n - 2):
            b = bytearray(v.to_bytes(n, "big"))
            b[0] |= (n - 1) << 6
            return bytes(b)
    raise ValueError(v)


def varstr(s, nul=True):
    """NOW_VARSTR: len (NUL not counted), UTF-8, NUL (ERRATA NOW-5; absent in the 1.0 text profile)."""
    b = s.encode()
    return varu32(len(b)) + b + (b"\0" if nul else b"")


def varbuf(b):
    return varu32(len(b)) + b


def u8(v):
    return struct.pack("<B", v)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def i64(v):
    return struct.pack("<q", v)


def status(flags=0, kind=0, code=0, msg="", with_msg=True, nul=True):
    """NOW_STATUS as shipped: flags u16, kind u16 (kind+reserved, ERRATA NOW-7), code u32, errorMessage."""
    out = u16(flags) + u16(kind) + u32(code)
    if with_msg:
        out += varstr(msg, nul)
    return out


def msg(cls, typ, flags, *fields, size=None):
    body = b"".join(fields)
    n = len(body) if size is None else size
    parts = [u32(n).hex(), "%02x" % cls, "%02x" % typ, u16(flags).hex()]
    parts += [f.hex() for f in fields if f]
    return " ".join(parts)


def raw(*chunks):
    return " ".join(c.hex() for c in chunks if c)


# ---------------------------------------------------------------- vector collection

FILES = {}


def vec(family, id, description, direction, source, hexs, message=None, verdict="valid", profile=None,
        error=None, flags=None, params=None):
    v = {"id": "now." + id, "description": description}
    if profile:
        v["profile"] = profile
    v["direction"] = direction
    if params:
        v["params"] = params
    v["verdict"] = verdict
    v["source"] = source
    if flags:
        v["flags"] = flags
    if message is not None:
        v["message"] = message
    v["hex"] = hexs
    if error:
        v["error"] = error
    FILES.setdefault(family, []).append(v)


S = "NOW-PROTO 1.3 "
C2S, S2C = "to-server", "to-client"
GUID_A = "a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90"
GUID_B = "01020304-0506-0708-090a-0b0c0d0e0f10"

# ---------------------------------------------------------------- channel (now-1.6)

vec("channel", "channel.capset.v1_6-all-caps", "Client capset: version 1.6, every capability bit 1.6 names, heartbeat 300 s",
    C2S, S + "NOW_CHANNEL_CAPSET_MSG; ERRATA NOW-2, NOW-10",
    msg(0x10, 0x01, 0x0001, u16(1), u16(6), u16(0x0001), u16(0x001F), u16(0x107F), u32(300)),
    {"channel.capset": {"msgFlags": 1, "versionMajor": 1, "versionMinor": 6, "systemCapset": 1,
                        "sessionCapset": 0x1F, "execCapset": 0x107F, "heartbeatInterval": 300}},
    flags=["errata-now-2"])
vec("channel", "channel.capset.v1_6-downgraded-answer", "Server answer: intersection (run, shell, io-redirection), no heartbeat flag",
    S2C, S + "NOW_CHANNEL_CAPSET_MSG (server downgrades and sends back); ERRATA NOW-2",
    msg(0x10, 0x01, 0x0000, u16(1), u16(6), u16(0), u16(0), u16(0x1005), u32(0)),
    {"channel.capset": {"msgFlags": 0, "versionMajor": 1, "versionMinor": 6, "systemCapset": 0,
                        "sessionCapset": 0, "execCapset": 0x1005, "heartbeatInterval": 0}})
vec("channel", "channel.capset.names-and-defaults", "Capset relying on defaults: version from the profile, heartbeat flag from heartbeatInterval",
    C2S, S + "NOW_CHANNEL_CAPSET_MSG; ERRATA NOW-2",
    msg(0x10, 0x01, 0x0001, u16(1), u16(6), u16(1), u16(0x0007), u16(0x1001), u32(60)),
    {"channel.capset": {"systemCapset": 1, "sessionCapset": 7,
                        "execCapset": 0x1001, "heartbeatInterval": 60}})
vec("channel", "channel.capset.interval-without-flag", "Heartbeat value present but NOW_CHANNEL_SET_HEARTBEAT clear: kept as sent (ignored by receivers)",
    C2S, S + "NOW_CHANNEL_CAPSET_MSG: heartbeatInterval \"Ignored if NOW_CHANNEL_SET_HEARTBEAT is not set\"",
    msg(0x10, 0x01, 0x0000, u16(1), u16(6), u16(0), u16(0), u16(0x0001), u32(60)),
    {"channel.capset": {"msgFlags": 0, "versionMajor": 1, "versionMinor": 6, "execCapset": 1, "heartbeatInterval": 60}},
    flags=["differential"])
vec("channel", "channel.capset.unknown-bits", "Capability bits and a version no spec names yet round-trip untouched",
    C2S, S + "NOW_CHANNEL_CAPSET_MSG (versionMinor: new non-breaking features)",
    msg(0x10, 0x01, 0x8001, u16(1), u16(9), u16(0x8001), u16(0x4000), u16(0x2000), u32(5)),
    {"channel.capset": {"msgFlags": 0x8001, "versionMajor": 1, "versionMinor": 9, "systemCapset": 0x8001,
                        "sessionCapset": 0x4000, "execCapset": 0x2000, "heartbeatInterval": 5}})
vec("channel", "channel.heartbeat", "Server heartbeat: header only",
    S2C, S + "NOW_CHANNEL_HEARTBEAT_MSG", msg(0x10, 0x02, 0), {"channel.heartbeat": {"msgFlags": 0}})
vec("channel", "channel.close.normal", "Close with a success status",
    C2S, S + "NOW_CHANNEL_CLOSE_MSG, NOW_STATUS", msg(0x10, 0x03, 0, status()),
    {"channel.close": {"status": {"flags": 0, "kind": 0, "code": 0, "errorMessage": ""}}})
vec("channel", "channel.close.protocol-version", "Server closes on a major version mismatch: NOW error PROTOCOL_VERSION with a message",
    S2C, S + "NOW_CHANNEL_CAPSET_MSG (\"DVC channel should be closed if protocol versions are not compatible\"), NOW_STATUS",
    msg(0x10, 0x03, 0, status(0x0003, 0x0001, 0x0008, "version 2.0 not supported")),
    {"channel.close": {"status": {"flags": 3, "kind": 1, "code": 8, "errorMessage": "version 2.0 not supported"}}})

# ---------------------------------------------------------------- system

vec("system", "system.shutdown.force-reboot", "Shutdown with FORCE|REBOOT, 30 s timeout and a message",
    C2S, S + "NOW_SYSTEM_SHUTDOWN_MSG",
    msg(0x11, 0x03, 0x0003, u32(30), varstr("maintenance")),
    {"system.shutdown": {"msgFlags": 3, "timeout": 30, "message": "maintenance"}})
vec("system", "system.shutdown.plain", "Shutdown without flags or message",
    C2S, S + "NOW_SYSTEM_SHUTDOWN_MSG",
    msg(0x11, 0x03, 0, u32(0), varstr("")),
    {"system.shutdown": {"msgFlags": 0, "timeout": 0, "message": ""}})
vec("system", "system.info-req.unknown", "SYSTEM INFO_REQ 0x11/0x01 is listed but never defined: kept as unknown",
    C2S, S + "NOW_SYSTEM_MSG (INFO_REQ listed, not defined); ERRATA NOW-13",
    msg(0x11, 0x01, 0),
    {"unknown": {"msgClass": 0x11, "msgType": 0x01, "msgFlags": 0, "body": ""}})

# ---------------------------------------------------------------- session

vec("session", "session.lock", "Lock the user session", C2S, S + "NOW_SESSION_LOCK_MSG",
    msg(0x12, 0x01, 0), {"session.lock": {"msgFlags": 0}})
vec("session", "session.logoff", "Log the user off", C2S, S + "NOW_SESSION_LOGOFF_MSG",
    msg(0x12, 0x02, 0), {"session.logoff": {}})
vec("session", "session.msgbox-req.all-flags", "Message box with title, style, timeout and a response expected: title is written before text",
    C2S, S + "NOW_SESSION_MSGBOX_REQ_MSG; ERRATA NOW-6",
    msg(0x12, 0x03, 0x000F, u32(7), u32(0x00000004), u32(60), varstr("Confirm"), varstr("Reboot now?")),
    {"session.msgbox-req": {"msgFlags": 15, "requestId": 7, "style": 4,
                            "timeout": 60, "title": "Confirm", "text": "Reboot now?"}},
    flags=["errata-now-6"])
vec("session", "session.msgbox-req.text-only", "Fire-and-forget message box: empty title still on the wire",
    C2S, S + "NOW_SESSION_MSGBOX_REQ_MSG; ERRATA NOW-6",
    msg(0x12, 0x03, 0, u32(1), u32(0), u32(0), varstr(""), varstr("Hello")),
    {"session.msgbox-req": {"requestId": 1, "text": "Hello"}})
vec("session", "session.msgbox-rsp.yes", "Message box answered YES",
    S2C, S + "NOW_SESSION_MSGBOX_RSP_MSG",
    msg(0x12, 0x04, 0, u32(7), u32(6), status()),
    {"session.msgbox-rsp": {"requestId": 7, "response": 6, "status": {"flags": 0}}})
vec("session", "session.msgbox-rsp.error", "Message box failed: response 0, NOW error NOT_IMPLEMENTED",
    S2C, S + "NOW_SESSION_MSGBOX_RSP_MSG (\"If status specifies error, this field should be set to 0\")",
    msg(0x12, 0x04, 0, u32(7), u32(0), status(0x0001, 0x0001, 0x0007)),
    {"session.msgbox-rsp": {"requestId": 7, "response": 0, "status": {"flags": 1, "kind": 1, "code": 7}}})
vec("session", "session.set-kbd-layout.specific", "Switch to the en-US layout 00000409",
    C2S, S + "NOW_SESSION_SET_KBD_LAYOUT_MSG",
    msg(0x12, 0x05, 0, varstr("00000409")),
    {"session.set-kbd-layout": {"msgFlags": 0, "kbdLayoutId": "00000409"}})
vec("session", "session.set-kbd-layout.next", "Switch to the next layout: empty id",
    C2S, S + "NOW_SESSION_SET_KBD_LAYOUT_MSG (NEXT: \"kbdLayoutId field should contain empty string\")",
    msg(0x12, 0x05, 0x0001, varstr("")),
    {"session.set-kbd-layout": {"msgFlags": 1, "kbdLayoutId": ""}})
vec("session", "session.window-rec-start", "Start window recording, poll every 1000 ms, track title changes",
    C2S, "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_START_MSG; ERRATA NOW-10",
    msg(0x12, 0x06, 0x0001, u32(1000)),
    {"session.window-rec-start": {"msgFlags": 1, "pollInterval": 1000}})
vec("session", "session.window-rec-stop", "Stop window recording",
    C2S, "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_STOP_MSG; ERRATA NOW-10",
    msg(0x12, 0x07, 0), {"session.window-rec-stop": {"msgFlags": 0}})
vec("session", "session.window-rec-event.active", "Active window changed to notepad",
    S2C, "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_EVENT_MSG; ERRATA NOW-10",
    msg(0x12, 0x08, 0x0001, u64(1_700_000_000), u32(4242), varstr("Untitled - Notepad"),
        varstr("C:\\Windows\\notepad.exe")),
    {"session.window-rec-event": {"msgFlags": 1, "timestamp": 1700000000, "processId": 4242,
                                  "title": "Untitled - Notepad", "executablePath": "C:\\Windows\\notepad.exe"}})
vec("session", "session.window-rec-event.title-changed", "Title of the active window changed (flags inferred from the fields)",
    S2C, "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_EVENT_MSG; ERRATA NOW-10",
    msg(0x12, 0x08, 0x0002, u64(1_700_000_001), u32(0), varstr("notes.txt - Notepad"), varstr("")),
    {"session.window-rec-event": {"timestamp": 1700000001, "title": "notes.txt - Notepad"}})
vec("session", "session.window-rec-event.no-active", "No window is active",
    S2C, "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_EVENT_MSG; ERRATA NOW-10",
    msg(0x12, 0x08, 0x0004, u64(1_700_000_002), u32(0), varstr(""), varstr("")),
    {"session.window-rec-event": {"msgFlags": 4, "timestamp": 1700000002, "processId": 0, "title": "",
                                  "executablePath": ""}})

# ---------------------------------------------------------------- exec

vec("exec", "exec.abort", "Abort session 0x1234 with exit code 1", C2S, S + "NOW_EXEC_ABORT_MSG",
    msg(0x13, 0x01, 0, u32(0x1234), u32(1)), {"exec.abort": {"sessionId": 0x1234, "exitCode": 1}})
vec("exec", "exec.cancel-req", "Cancel session 5", C2S, S + "NOW_EXEC_CANCEL_REQ_MSG",
    msg(0x13, 0x02, 0, u32(5)), {"exec.cancel-req": {"sessionId": 5}})
vec("exec", "exec.cancel-rsp.ok", "Cancel succeeded", S2C, S + "NOW_EXEC_CANCEL_RSP_MSG; ERRATA NOW-13 (status is variable)",
    msg(0x13, 0x03, 0, u32(5), status()), {"exec.cancel-rsp": {"sessionId": 5, "status": {"flags": 0, "code": 0}}})
vec("exec", "exec.cancel-rsp.not-found", "Cancel of an unknown session: NOW error NOT_FOUND",
    S2C, S + "NOW_EXEC_CANCEL_RSP_MSG, NOW_STATUS",
    msg(0x13, 0x03, 0, u32(99), status(0x0001, 0x0001, 0x0004)),
    {"exec.cancel-rsp": {"sessionId": 99, "status": {"flags": 1, "kind": 1, "code": 4}}})
vec("exec", "exec.result.exit-0", "Session 5 ended with exit code 0", S2C, S + "NOW_EXEC_RESULT_MSG; ERRATA NOW-8",
    msg(0x13, 0x04, 0, u32(5), u32(0), status()),
    {"exec.result": {"sessionId": 5, "exitCode": 0, "status": {"flags": 0}}}, flags=["errata-now-8"])
vec("exec", "exec.result.exit-3", "Session 5 ended with exit code 3 (success status, non-zero exit)",
    S2C, S + "NOW_EXEC_RESULT_MSG; ERRATA NOW-8",
    msg(0x13, 0x04, 0, u32(5), u32(3), status()),
    {"exec.result": {"sessionId": 5, "exitCode": 3, "status": {}}})
vec("exec", "exec.result.winapi-error", "Start failed: WinAPI error 2 with a message, exitCode 0",
    S2C, S + "NOW_EXEC_RESULT_MSG (\"0 value if status field specifies error\"), NOW_STATUS",
    msg(0x13, 0x04, 0, u32(6), u32(0), status(0x0003, 0x0002, 2, "file not found")),
    {"exec.result": {"sessionId": 6, "exitCode": 0,
                     "status": {"flags": 3, "kind": 2, "code": 2,
                                "errorMessage": "file not found"}}})
vec("exec", "exec.data.stdout", "stdout chunk from the server", S2C, S + "NOW_EXEC_DATA_MSG; ERRATA NOW-3",
    msg(0x13, 0x05, 0x0004, u32(5), varbuf(b"hello\n")),
    {"exec.data": {"msgFlags": 4, "sessionId": 5, "data": "68656c6c6f0a"}}, flags=["errata-now-3"])
vec("exec", "exec.data.stderr-last", "Last stderr chunk", S2C, S + "NOW_EXEC_DATA_MSG; ERRATA NOW-3",
    msg(0x13, 0x05, 0x0009, u32(5), varbuf(b"oops")),
    {"exec.data": {"msgFlags": 9, "sessionId": 5, "data": "6f6f7073"}})
vec("exec", "exec.data.stdin", "stdin chunk from the client (default flags for the client side)",
    C2S, S + "NOW_EXEC_DATA_MSG; ERRATA NOW-3",
    msg(0x13, 0x05, 0x0002, u32(5), varbuf(b"y\n")),
    {"exec.data": {"sessionId": 5, "data": "790a"}})
vec("exec", "exec.data.stdin-eof", "Empty last stdin chunk (EOF)", C2S, S + "NOW_EXEC_DATA_MSG",
    msg(0x13, 0x05, 0x0003, u32(5), varbuf(b"")),
    {"exec.data": {"msgFlags": 3, "sessionId": 5, "data": ""}})
vec("exec", "exec.data.two-byte-size", "100-byte stdout chunk: NOW_VARBUF size needs a 2-byte NOW_VARU32 (0x4064)",
    S2C, S + "NOW_EXEC_DATA_MSG, NOW_VARBUF, NOW_VARU32; ERRATA NOW-4",
    msg(0x13, 0x05, 0x0004, u32(7), varbuf(bytes(range(100)))),
    {"exec.data": {"msgFlags": 4, "sessionId": 7, "data": bytes(range(100)).hex()}})
vec("exec", "exec.started", "Session 5 started", S2C, S + "NOW_EXEC_STARTED_MSG",
    msg(0x13, 0x06, 0, u32(5)), {"exec.started": {"sessionId": 5}})
vec("exec", "exec.run.with-directory", "Run notepad.exe in C:\\Temp", C2S, S + "NOW_EXEC_RUN_MSG; ERRATA NOW-9",
    msg(0x13, 0x10, 0x0001, u32(1), varstr("notepad.exe"), varstr("C:\\Temp")),
    {"exec.run": {"msgFlags": 1, "sessionId": 1, "command": "notepad.exe", "directory": "C:\\Temp"}})
vec("exec", "exec.run.plain", "Run a command: the empty directory is still written", C2S, S + "NOW_EXEC_RUN_MSG",
    msg(0x13, 0x10, 0, u32(2), varstr("calc"), varstr("")),
    {"exec.run": {"sessionId": 2, "command": "calc"}})
vec("exec", "exec.process.all", "CreateProcess with parameters, directory and IO redirection",
    C2S, S + "NOW_EXEC_PROCESS_MSG",
    msg(0x13, 0x11, 0x1003, u32(3), varstr("cmd.exe"), varstr("/c dir"), varstr("C:\\")),
    {"exec.process": {"msgFlags": 0x1003, "sessionId": 3,
                      "filename": "cmd.exe", "parameters": "/c dir", "directory": "C:\\"}})
vec("exec", "exec.process.detached-utf8", "Detached process with UTF-8 encoding (1.4/1.6 flags)",
    C2S, S + "NOW_EXEC_PROCESS_MSG; ERRATA NOW-10",
    msg(0x13, 0x11, 0x8004, u32(4), varstr("app.exe"), varstr(""), varstr("")),
    {"exec.process": {"msgFlags": 0x8004, "sessionId": 4, "filename": "app.exe"}},
    flags=["errata-now-10"])
vec("exec", "exec.shell.all", "Shell script with /bin/bash in /tmp, IO redirected", C2S, S + "NOW_EXEC_SHELL_MSG",
    msg(0x13, 0x12, 0x1003, u32(5), varstr("echo hi"), varstr("/bin/bash"), varstr("/tmp")),
    {"exec.shell": {"msgFlags": 0x1003, "sessionId": 5,
                    "command": "echo hi", "shell": "/bin/bash", "directory": "/tmp"}})
vec("exec", "exec.shell.default-shell", "Shell script with the default shell (flags inferred: none)",
    C2S, S + "NOW_EXEC_SHELL_MSG",
    msg(0x13, 0x12, 0, u32(6), varstr("ls"), varstr(""), varstr("")),
    {"exec.shell": {"sessionId": 6, "command": "ls"}})
vec("exec", "exec.batch.all", "Batch script in C:\\Work with raw encoding, unicode console, IO redirection, detached",
    C2S, S + "NOW_EXEC_BATCH_MSG; ERRATA NOW-10",
    msg(0x13, 0x13, 0x9007, u32(7), varstr("echo %PATH%"), varstr("C:\\Work")),
    {"exec.batch": {"msgFlags": 0x9007,
                    "sessionId": 7, "command": "echo %PATH%", "directory": "C:\\Work"}})
vec("exec", "exec.winps.all", "Windows PowerShell with every string field and several options",
    C2S, S + "NOW_EXEC_WINPS_MSG",
    msg(0x13, 0x14, 0x11F1, u32(8), varstr("Get-Date"), varstr("C:\\"), varstr("Bypass"), varstr("Microsoft.PowerShell")),
    {"exec.winps": {"msgFlags": 0x11F1, "sessionId": 8, "command": "Get-Date", "directory": "C:\\",
                    "executionPolicy": "Bypass", "configurationName": "Microsoft.PowerShell"}})
vec("exec", "exec.pwsh.server-mode", "pwsh in server mode with IO redirection, unicode console (1.6)",
    C2S, S + "NOW_EXEC_PWSH_MSG; ERRATA NOW-10",
    msg(0x13, 0x15, 0x3400, u32(9), varstr(""), varstr(""), varstr(""), varstr("")),
    {"exec.pwsh": {"msgFlags": 0x3400, "sessionId": 9}})
vec("exec", "exec.unknown-type", "Exec message type 0x07 is not defined: kept as unknown",
    S2C, S + "NOW_EXEC_MSG (type table)",
    msg(0x13, 0x07, 0x0001, b"\x01\x02\x03"),
    {"unknown": {"msgClass": 0x13, "msgType": 7, "msgFlags": 1, "body": "010203"}})
vec("exec", "exec.unknown-class", "Class 0x15 is not defined: kept as unknown",
    C2S, S + "NOW_HEADER (msgClass table)",
    msg(0x15, 0x01, 0, b"\xde\xad\xbe\xef"),
    {"unknown": {"msgClass": 0x15, "msgType": 1, "msgFlags": 0, "body": "deadbeef"}})

# ---------------------------------------------------------------- rdm

vec("rdm", "rdm.capabilities.client", "Client capabilities: its clock, no RDM", C2S, S + "NOW_RDM_CAPABILITIES_MSG",
    msg(0x14, 0x01, 0, i64(1_700_000_000), u32(0), varstr(""), varstr("")),
    {"rdm.capabilities": {"timestamp": 1700000000, "syncFlags": 0, "rdmVersion": "", "versionExtra": ""}})
vec("rdm", "rdm.capabilities.server", "Server answer: RDM available, version 2025.1.2.3",
    S2C, S + "NOW_RDM_CAPABILITIES_MSG",
    msg(0x14, 0x01, 0, i64(1_700_000_005), u32(1), varstr("2025.1.2.3"), varstr("")),
    {"rdm.capabilities": {"timestamp": 1700000005, "syncFlags": 1, "rdmVersion": "2025.1.2.3",
                          "versionExtra": ""}})
vec("rdm", "rdm.app-start", "Launch RDM in jump mode, maximized, 45 s timeout", C2S, S + "NOW_RDM_APP_START_MSG",
    msg(0x14, 0x02, 0, u32(3), u32(45)),
    {"rdm.app-start": {"launchFlags": 3, "timeout": 45}})
vec("rdm", "rdm.app-action", "Minimize RDM", C2S, S + "NOW_RDM_APP_ACTION_MSG; ERRATA NOW-13",
    msg(0x14, 0x03, 0, u32(2), varstr("")), {"rdm.app-action": {"appAction": 2, "actionData": ""}})
vec("rdm", "rdm.app-notify", "RDM failed: not installed", S2C, S + "NOW_RDM_APP_NOTIFY_MSG",
    msg(0x14, 0x04, 0, u32(2), u32(2), varstr("")),
    {"rdm.app-notify": {"appState": 2, "reasonCode": 2, "notifyData": ""}})
vec("rdm", "rdm.session-start", "Start an RDM session with a connection object", C2S,
    S + "NOW_RDM_SESSION_START_MSG, NOW_GUID; ERRATA NOW-13",
    msg(0x14, 0x05, 0, varstr(GUID_A), varstr(GUID_B), varstr("<Connection/>")),
    {"rdm.session-start": {"sessionId": GUID_A, "connectionId": GUID_B, "connectionData": "<Connection/>"}})
vec("rdm", "rdm.session-action", "Focus an RDM session", C2S, S + "NOW_RDM_SESSION_ACTION_MSG, NOW_GUID",
    msg(0x14, 0x06, 0, u32(2), varstr(GUID_A)),
    {"rdm.session-action": {"sessionAction": 2, "sessionId": GUID_A}})
vec("rdm", "rdm.session-notify", "Session closed, with a log", S2C, S + "NOW_RDM_SESSION_NOTIFY_MSG, NOW_GUID",
    msg(0x14, 0x07, 0, u32(1), varstr(GUID_A), varstr("<Log/>")),
    {"rdm.session-notify": {"sessionNotify": 1, "sessionId": GUID_A, "logData": "<Log/>"}})
vec("rdm", "rdm.session-notify.nil-guid", "Focus lost: null GUID", S2C,
    S + "NOW_RDM_SESSION_NOTIFY_MSG (\"Can be null in some cases\"), NOW_GUID",
    msg(0x14, 0x07, 0, u32(2), varstr("00000000-0000-0000-0000-000000000000"), varstr("")),
    {"rdm.session-notify": {"sessionNotify": 2, "sessionId": "00000000-0000-0000-0000-000000000000", "logData": ""}})

# ---------------------------------------------------------------- profiles: what differs

P13, P10 = "now-1.3", "now-1.0-text"
vec("profiles", "profile-1_3.capset-default-version", "now-1.3: a capset without versions announces 1.3",
    C2S, S + "NOW_CHANNEL_CAPSET_MSG; Version History 1.3", 
    msg(0x10, 0x01, 0x0001, u16(1), u16(3), u16(0), u16(0x000F), u16(0x103F), u32(60)),
    {"channel.capset": {"sessionCapset": 15, "execCapset": 0x103F, "heartbeatInterval": 60}}, profile=P13)
vec("profiles", "profile-1_3.window-rec-start-unknown", "now-1.3: WINDOW_REC_START (1.5) is not defined and stays unknown",
    C2S, "NOW-PROTO 1.3 NOW_SESSION_MSG type table (0x06 added in 1.5, ERRATA NOW-10)",
    msg(0x12, 0x06, 0, u32(1000)),
    {"unknown": {"msgClass": 0x12, "msgType": 6, "msgFlags": 0, "body": "e8030000"}}, profile=P13)
vec("profiles", "profile-1_0.capset-server-first", "now-1.0-text: server capset first, 1-byte versions, 4-byte capsets, heartbeat present with its flag",
    S2C, "NOW-PROTO 1.0 text NOW_NEGOTIATION_CAPSET_MSG; ERRATA NOW-1",
    msg(0x10, 0x01, 0x0001, u8(1), u8(0), u32(1), u32(7), u32(0x3F), u32(60)),
    {"channel.capset": {"msgFlags": 1, "versionMajor": 1, "versionMinor": 0, "systemCapset": 1, "sessionCapset": 7,
                        "execCapset": 0x3F, "heartbeatInterval": 60}}, profile=P10, flags=["errata-now-1"])
vec("profiles", "profile-1_0.capset-no-heartbeat", "now-1.0-text: without the flag the heartbeat field is absent (14-byte body)",
    C2S, "NOW-PROTO 1.0 text NOW_NEGOTIATION_CAPSET_MSG (heartbeatInterval optional); ERRATA NOW-1",
    msg(0x10, 0x01, 0, u8(1), u8(0), u32(0), u32(1), u32(1)),
    {"channel.capset": {"msgFlags": 0, "versionMajor": 1, "versionMinor": 0, "sessionCapset": 1, "execCapset": 1}},
    profile=P10)
vec("profiles", "profile-1_0.result-no-exit-code", "now-1.0-text: RESULT has no exitCode; status.code holds it; no errorMessage without its flag",
    S2C, "NOW-PROTO 1.0 text NOW_EXEC_RESULT_MSG, NOW_STATUS; ERRATA NOW-1, NOW-8",
    msg(0x13, 0x04, 0, u32(5), status(0, 0, 3, with_msg=False)),
    {"exec.result": {"sessionId": 5, "status": {"flags": 0, "kind": 0, "code": 3}}}, profile=P10)
vec("profiles", "profile-1_0.result-error-message", "now-1.0-text: errorMessage present only with NOW_EXEC_RESULT_ERROR_MESSAGE",
    S2C, "NOW-PROTO 1.0 text NOW_STATUS (errorMessage optional)",
    msg(0x13, 0x04, 0, u32(5), status(3, 1, 4, "gone")),
    {"exec.result": {"sessionId": 5, "status": {"flags": 3, "kind": 1, "code": 4, "errorMessage": "gone"}}},
    profile=P10)
vec("profiles", "profile-1_0.data-first-stdout", "now-1.0-text: DATA flags FIRST|STDOUT = 0x0009",
    S2C, "NOW-PROTO 1.0 text NOW_EXEC_DATA_MSG; ERRATA NOW-1, NOW-3",
    msg(0x13, 0x05, 0x0009, u32(5), varbuf(b"hi")),
    {"exec.data": {"msgFlags": 9, "sessionId": 5, "data": "6869"}}, profile=P10)
vec("profiles", "profile-1_0.msgbox-req-text-first", "now-1.0-text: text before an optional title",
    C2S, "NOW-PROTO 1.0 text NOW_SESSION_MSGBOX_REQ_MSG; ERRATA NOW-6",
    msg(0x12, 0x03, 0x0009, u32(1), u32(0), u32(0), varstr("Hello"), varstr("Title")),
    {"session.msgbox-req": {"msgFlags": 9, "requestId": 1, "text": "Hello", "title": "Title"}}, profile=P10)
vec("profiles", "profile-1_0.msgbox-rsp-no-response", "now-1.0-text: MSGBOX_RSP has no response field; status.code holds IDOK",
    S2C, "NOW-PROTO 1.0 text NOW_SESSION_MSGBOX_RSP_MSG",
    msg(0x12, 0x04, 0, u32(1), status(0, 0, 1, with_msg=False)),
    {"session.msgbox-rsp": {"requestId": 1, "status": {"flags": 0, "code": 1}}}, profile=P10)
vec("profiles", "profile-1_0.process-optional-fields", "now-1.0-text: PROCESS parameters present (flag), directory absent",
    C2S, "NOW-PROTO 1.0 text NOW_EXEC_PROCESS_MSG",
    msg(0x13, 0x11, 0x0001, u32(3), varstr("cmd.exe"), varstr("/c ver")),
    {"exec.process": {"msgFlags": 1, "sessionId": 3, "filename": "cmd.exe", "parameters": "/c ver"}}, profile=P10)
vec("profiles", "profile-1_0.batch-directory-flag-2", "now-1.0-text: BATCH directory flag is 0x0002",
    C2S, "NOW-PROTO 1.0 text NOW_EXEC_BATCH_MSG",
    msg(0x13, 0x13, 0x0002, u32(4), varstr("dir"), varstr("C:\\")),
    {"exec.batch": {"msgFlags": 2, "sessionId": 4, "command": "dir", "directory": "C:\\"}}, profile=P10)
vec("profiles", "profile-1_0.winps-no-directory", "now-1.0-text: WINPS without directory, execution policy present with its flag",
    C2S, "NOW-PROTO 1.0 text NOW_EXEC_WINPS_MSG",
    msg(0x13, 0x14, 0x0040, u32(5), varstr("Get-Date"), varstr("Bypass")),
    {"exec.winps": {"msgFlags": 0x40, "sessionId": 5, "command": "Get-Date", "executionPolicy": "Bypass"}},
    profile=P10)
vec("profiles", "profile-1_0.shell-shell-only", "now-1.0-text: SHELL with the shell (flag 0x1) and no directory field",
    C2S, "NOW-PROTO 1.0 text NOW_EXEC_SHELL_MSG (shell, directory optional)",
    msg(0x13, 0x12, 0x0001, u32(7), varstr("ls"), varstr("/bin/bash")),
    {"exec.shell": {"msgFlags": 1, "sessionId": 7, "command": "ls", "shell": "/bin/bash", "directory": ""}}, profile=P10)
vec("profiles", "profile-1_0.pwsh-configuration-only", "now-1.0-text: PWSH with configurationName (flag 0x80) but no executionPolicy",
    C2S, "NOW-PROTO 1.0 text NOW_EXEC_PWSH_MSG (executionPolicy, configurationName optional)",
    msg(0x13, 0x15, 0x0080, u32(8), varstr("Get-Date"), varstr("JEA")),
    {"exec.pwsh": {"msgFlags": 0x80, "sessionId": 8, "command": "Get-Date", "executionPolicy": "", "configurationName": "JEA"}},
    profile=P10)
vec("profiles", "profile-1_0.shutdown", "now-1.0-text: SHUTDOWN has the same layout as later versions",
    C2S, "NOW-PROTO 1.0 text NOW_SYSTEM_SHUTDOWN_MSG",
    msg(0x11, 0x03, 0x0001, u32(60), varstr("bye")),
    {"system.shutdown": {"msgFlags": 1, "timeout": 60, "message": "bye"}}, profile=P10)
vec("profiles", "profile-1_0.run-no-directory", "now-1.0-text: RUN has only the command",
    C2S, "NOW-PROTO 1.0 text NOW_EXEC_RUN_MSG",
    msg(0x13, 0x10, 0, u32(6), varstr("calc")),
    {"exec.run": {"sessionId": 6, "command": "calc"}}, profile=P10)
vec("profiles", "profile-1_0.exec-heartbeat", "now-1.0-text: EXEC_HEARTBEAT 0x13/0x20 with a session id",
    S2C, "NOW-PROTO 1.0 text NOW_EXEC_HEARTBEAT_MSG",
    msg(0x13, 0x20, 0, u32(6)), {"exec.heartbeat": {"sessionId": 6}}, profile=P10)
vec("profiles", "profile-1_0.channel-close-unknown", "now-1.0-text: 0x10/0x03 (CLOSE, added later) is not defined",
    C2S, "NOW-PROTO 1.0 text NOW_NEGOTIATION_MSG type table",
    msg(0x10, 0x03, 0, status()),
    {"unknown": {"msgClass": 0x10, "msgType": 3, "msgFlags": 0, "body": status().hex()}}, profile=P10)
vec("profiles", "params.varstr-no-nul", "varstr-nul=false: the other reading of \"str ... excluding the null terminator\" (no terminator at all)",
    C2S, S + "NOW_VARSTR; ERRATA NOW-5",
    msg(0x11, 0x03, 0, u32(10), varstr("bye", False)),
    {"system.shutdown": {"msgFlags": 0, "timeout": 10, "message": "bye"}}, params={"varstr-nul": "false"})
vec("profiles", "params.msgbox-text-first", "msgbox-order=text-first: the spec diagram's order (text, then title)",
    C2S, S + "NOW_SESSION_MSGBOX_REQ_MSG diagram; ERRATA NOW-6",
    msg(0x12, 0x03, 0x0001, u32(2), u32(0), u32(0), varstr("Body"), varstr("Head")),
    {"session.msgbox-req": {"msgFlags": 1, "requestId": 2, "text": "Body", "title": "Head"}},
    params={"msgbox-order": "text-first"})
vec("profiles", "params.trailing-body-ignore", "trailing-body=ignore: extra body bytes after the last field are skipped (decode only)",
    C2S, S + "NOW_HEADER (msgSize delimits); now-proto-pdu behaviour",
    msg(0x13, 0x02, 0, u32(5), b"\xaa\xbb"),
    {"exec.cancel-req": {"sessionId": 5}}, verdict="acceptable", params={"trailing-body": "ignore"})
vec("profiles", "varu32.non-minimal", "Non-minimal NOW_VARU32 (2-byte encoding of 5) is accepted (decode only)",
    S2C, S + "NOW_VARU32; ERRATA NOW-4 (non-minimal encodings accepted by now-proto-pdu)",
    msg(0x13, 0x05, 0x0004, u32(1), b"\x40\x05hello"),
    {"exec.data": {"msgFlags": 4, "sessionId": 1, "data": "68656c6c6f"}}, verdict="acceptable")

# ---------------------------------------------------------------- invalid

E = "invalid"
vec(E, "invalid.msgsize-over-limit", "msgSize 0xFFFFFFFF: refused as soon as the header is in",
    S2C, S + "NOW_HEADER msgSize; limit NOW_MAX_MSG_SIZE", raw(u32(0xFFFFFFFF), b"\x13\x05\x00\x00"),
    verdict="invalid", error="msgSize")
vec(E, "invalid.msgsize-limit-plus-one", "msgSize = NOW_MAX_MSG_SIZE + 1 (16 MiB + 1)",
    S2C, S + "NOW_HEADER msgSize; limit NOW_MAX_MSG_SIZE", raw(u32(16 * 1024 * 1024 + 1), b"\x13\x05\x00\x00"),
    verdict="invalid", error="NOW_MAX_MSG_SIZE")
vec(E, "invalid.truncated-body", "Body shorter than msgSize promises (stream ends)",
    S2C, S + "NOW_HEADER msgSize", raw(u32(4), b"\x13\x06\x00\x00", b"\x05\x00"),
    verdict="invalid", error="body")
vec(E, "invalid.msgsize-too-small", "msgSize 2 for STARTED: the session id does not fit in the body",
    S2C, S + "NOW_EXEC_STARTED_MSG, NOW_HEADER", msg(0x13, 0x06, 0, b"\x05\x00"),
    verdict="invalid", error="sessionId")
vec(E, "invalid.msgsize-too-large", "msgSize 16 for a 14-byte capset body plus 2 stray bytes",
    C2S, S + "NOW_CHANNEL_CAPSET_MSG (14-byte body, ERRATA NOW-2)",
    msg(0x10, 0x01, 0, u16(1), u16(6), u16(0), u16(0), u16(0), u32(0), b"\x00\x00"),
    verdict="invalid", error="trailing")
vec(E, "invalid.capset-1_0-size", "A 1.0-text-sized capset (10-byte body) under the 1.6 profile",
    C2S, S + "NOW_CHANNEL_CAPSET_MSG; ERRATA NOW-1, NOW-2",
    msg(0x10, 0x01, 0, u8(1), u8(0), u32(0), u32(1), b"\x01\x00"),
    verdict="invalid", error="heartbeatInterval")
vec(E, "invalid.varu32-truncated", "RUN command length: NOW_VARU32 with c=3 but the body ends after 1 more byte",
    C2S, S + "NOW_VARU32", msg(0x13, 0x10, 0, u32(1), b"\xc0\x01"),
    verdict="invalid", error="command.len")
vec(E, "invalid.varstr-no-nul", "Shutdown message without its NUL terminator (msgSize counts only len + text)",
    C2S, S + "NOW_VARSTR; ERRATA NOW-5", msg(0x11, 0x03, 0, u32(0), b"\x03bye"),
    verdict="invalid", error="message.nul")
vec(E, "invalid.varstr-bad-terminator", "NOW_VARSTR terminator is 'X', not NUL",
    C2S, S + "NOW_VARSTR; ERRATA NOW-5", msg(0x11, 0x03, 0, u32(0), b"\x03byeX"),
    verdict="invalid", error="terminator")
vec(E, "invalid.varstr-len-past-body", "NOW_VARSTR len 63 with 3 bytes left in the body",
    C2S, S + "NOW_VARSTR, NOW_HEADER msgSize", msg(0x13, 0x10, 0, u32(1), b"\x3fab\x00"),
    verdict="invalid", error="command")
vec(E, "invalid.varstr-not-utf8", "NOW_VARSTR holding bytes that are not UTF-8",
    C2S, S + "NOW_VARSTR (\"The UTF-8 encoded string\")", msg(0x12, 0x05, 0, b"\x02\xff\xfe\x00"),
    verdict="invalid", error="UTF-8")
vec(E, "invalid.varbuf-past-body", "DATA NOW_VARBUF size 10 with 2 bytes left",
    S2C, S + "NOW_VARBUF, NOW_HEADER msgSize", msg(0x13, 0x05, 0x0004, u32(1), b"\x0aab"),
    verdict="invalid", error="data")
vec(E, "invalid.guid-upper-case", "NOW_GUID in upper case (must be lower-case, 36 characters)",
    C2S, S + "NOW_GUID", msg(0x14, 0x06, 0, u32(1), varstr(GUID_A.upper())),
    verdict="invalid", error="NOW_GUID")
vec(E, "invalid.guid-empty", "NOW_GUID as an empty string",
    C2S, S + "NOW_GUID (36 characters)", msg(0x14, 0x06, 0, u32(1), varstr("")),
    verdict="invalid", error="NOW_GUID")
vec(E, "invalid.window-rec-start-empty", "WINDOW_REC_START with an empty body (now-proto-pdu 0.4.4 panics here)",
    C2S, "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_START_MSG; ERRATA NOW-10", msg(0x12, 0x06, 0),
    verdict="invalid", error="pollInterval", flags=["differential"])
vec(E, "invalid.window-rec-event-short", "WINDOW_REC_EVENT with a 4-byte body (now-proto-pdu 0.4.4 panics here)",
    S2C, "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_EVENT_MSG; ERRATA NOW-10", msg(0x12, 0x08, 1, u32(0)),
    verdict="invalid", error="timestamp", flags=["differential"])
vec(E, "invalid.rdm-session-action-empty", "RDM SESSION_ACTION with an empty body (now-proto-pdu 0.4.4 panics here)",
    C2S, S + "NOW_RDM_SESSION_ACTION_MSG", msg(0x14, 0x06, 0),
    verdict="invalid", error="sessionAction", flags=["differential"])
vec(E, "invalid.status-truncated", "CLOSE whose NOW_STATUS stops after the flags",
    C2S, S + "NOW_CHANNEL_CLOSE_MSG, NOW_STATUS", msg(0x10, 0x03, 0, u16(1)),
    verdict="invalid", error="status.kind")
vec(E, "invalid.header-only-partial", "Five bytes: not even a whole header",
    S2C, S + "NOW_HEADER (8 bytes)", raw(b"\x08\x00\x00\x00\x13"),
    verdict="invalid", error="header")
vec(E, "invalid.profile-1_0.varstr-with-nul", "now-1.0-text: a 1.1+ RUN (with a directory) leaves trailing bytes",
    C2S, "NOW-PROTO 1.0 text NOW_EXEC_RUN_MSG (command only); ERRATA NOW-1",
    msg(0x13, 0x10, 0, u32(6), varstr("calc"), varstr("")),
    verdict="invalid", error="trailing", profile=P10)

# ---------------------------------------------------------------- write


HEADER = ("# Generated by gen_golden.py from the spec text and ERRATA.md (NOW section); do not edit by hand.\n"
          "# Field names are the structured form of peercheck-now (camelCase as the spec writes them).\n")


def dump(v):
    lines = ["  - id: " + v["id"]]
    for k in ("description", "profile", "direction", "params", "verdict", "source", "flags", "message", "hex", "error"):
        if k in v:
            lines.append("    %s: %s" % (k, json.dumps(v[k], ensure_ascii=False)))
    return "\n".join(lines)


def main():
    for family, vectors in FILES.items():
        path = os.path.join(HERE, family + ".yaml")
        ids = [v["id"] for v in vectors]
        assert len(ids) == len(set(ids)), ids
        with open(path, "w") as f:
            f.write(HEADER + "vectors:\n" + "\n".join(dump(v) for v in vectors) + "\n")
        print(path, len(vectors))


if __name__ == "__main__":
    main()
