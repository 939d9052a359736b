"""Byte-stream framings for the psrpcore shims (no psrpcore here: psrpcore is sans-IO and leaves
the transport to its caller).

- OutOfProc: PowerShell's stdin/stdout packets, one XML element per line
  (`<Data Stream='Default' PSGuid='…'>base64</Data>`, `<Command PSGuid='…' />`, …). PSGuid is the
  pipeline id, all zero for the pool.
- fragments: MS-PSRP §2.2.4 fragments back to back (ObjectId u64 BE, FragmentId u64 BE, flags u8,
  BlobLength u32 BE, blob).
"""

import base64
import struct
import uuid
import xml.etree.ElementTree as ET

NIL = uuid.UUID(int=0)
FRAGMENT_HEADER = 21
# A peer that announces a larger blob is waited for, never trusted with an allocation up front.
MAX_BLOB = 16 * 1024 * 1024
CONTROL = ("DataAck", "Command", "CommandAck", "Signal", "SignalAck", "Close", "CloseAck")


class FramingError(Exception):
    """The peer's bytes cannot be framed (malformed line, oversized blob)."""


class Packet:
    """One received unit: `kind` is `Data` or a control element name; `guid` is None for the pool
    (or, in fragments framing, unknown); `payload` holds whole fragments for `Data`."""

    def __init__(self, kind, guid=None, stream="Default", payload=b""):
        self.kind = kind
        self.guid = guid
        self.stream = stream
        self.payload = payload

    def __repr__(self):
        return f"<Packet {self.kind} {self.guid} {self.stream} {len(self.payload)} bytes>"


def _guid(text):
    if text is None:
        raise FramingError("packet lacks PSGuid")
    try:
        g = uuid.UUID(text)
    except ValueError as e:
        raise FramingError(f"bad PSGuid {text!r}: {e}") from None
    return None if g == NIL else g


def guid_text(g):
    return str(g or NIL)


class OutOfProcReader:
    """Splits a byte stream into OutOfProc packets."""

    def __init__(self):
        self._buf = bytearray()

    def push(self, data):
        self._buf += data

    def packets(self):
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                return
            line = bytes(self._buf[:nl]).strip()
            del self._buf[: nl + 1]
            if not line:
                continue
            yield parse_line(line)

    def pending(self):
        return len(self._buf)


def parse_line(line):
    try:
        el = ET.fromstring(line)
    except ET.ParseError as e:
        raise FramingError(f"malformed OutOfProc line {line[:80]!r}: {e}") from None
    guid = _guid(el.get("PSGuid"))
    if el.tag == "Data":
        stream = el.get("Stream")
        if stream is None:
            raise FramingError("<Data> lacks Stream")
        try:
            payload = base64.b64decode("".join((el.text or "").split()), validate=True)
        except ValueError as e:
            raise FramingError(f"<Data> is not base64: {e}") from None
        return Packet("Data", guid, stream, payload)
    if el.tag in CONTROL:
        return Packet(el.tag, guid)
    raise FramingError(f"unknown OutOfProc packet <{el.tag}>")


def data_line(guid, stream, payload):
    b64 = base64.b64encode(payload).decode()
    return f"<Data Stream='{stream}' PSGuid='{guid_text(guid)}'>{b64}</Data>\n".encode()


def control_line(kind, guid):
    return f"<{kind} PSGuid='{guid_text(guid)}' />\n".encode()


class FragmentReader:
    """Cuts a byte stream into whole fragments (psrpcore's own reader assumes whole fragments:
    it slices a partial header or blob without checking the length)."""

    def __init__(self):
        self._buf = bytearray()

    def push(self, data):
        self._buf += data

    def fragments(self):
        while len(self._buf) >= FRAGMENT_HEADER:
            (blob_len,) = struct.unpack(">I", self._buf[17:21])
            if blob_len > MAX_BLOB:
                raise FramingError(f"BlobLength {blob_len} is over the shim's {MAX_BLOB} limit")
            end = FRAGMENT_HEADER + blob_len
            if len(self._buf) < end:
                return
            frag = bytes(self._buf[:end])
            del self._buf[:end]
            yield frag

    def pending(self):
        return len(self._buf)


def fragment_fields(frag):
    """(object_id, fragment_id, start, end, blob) of one whole fragment."""
    object_id, fragment_id, flags, _ = struct.unpack(">QQBI", frag[:FRAGMENT_HEADER])
    return object_id, fragment_id, bool(flags & 1), bool(flags & 2), frag[FRAGMENT_HEADER:]


class MessagePeek:
    """Reads the first 40 bytes of each message (Destination, MessageType, RPID, PID) as its
    fragments go by, so the shim can create a pipeline object before psrpcore sees its
    CREATE_PIPELINE (psrpcore requires the ServerPipeline to exist already)."""

    def __init__(self):
        self._prefix = {}

    def feed(self, frag):
        """Returns (message_type, pid) once the message header of this object is complete."""
        object_id, _, start, end, blob = fragment_fields(frag)
        if start:
            self._prefix[object_id] = bytearray()
        prefix = self._prefix.setdefault(object_id, bytearray())
        done = len(prefix) >= 40
        if not done:
            prefix += blob[: 40 - len(prefix)]
        result = None
        if not done and len(prefix) >= 40:
            (msg_type,) = struct.unpack("<I", prefix[4:8])
            pid = uuid.UUID(bytes_le=bytes(prefix[24:40]))
            result = (msg_type, None if pid == NIL else pid)
        if end:
            self._prefix.pop(object_id, None)
        return result
