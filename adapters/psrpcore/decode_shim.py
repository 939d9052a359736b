#!/usr/bin/env python3
"""psrpcore (PyPI, pinned in requirements.txt) as a decoder behind the `peercheck golden verify`
shim protocol (docs/golden.md): one JSON request per line on stdin, one JSON answer per line on
stdout.

What decodes is psrpcore's: fragments are unpacked with psrpcore.unpack_fragment and put together
the way psrpcore's own receive path does (fragment ids counted per object id), the message header
with psrpcore.unpack_message, and the body with psrpcore's CLIXML deserializer. This file only maps
the result to peercheck's names (message names, rpid/pid/objectId/fragmentCount, `bom`, the
properties of psrpcore's message object that hold plain values, lower-camel-cased or renamed by
RENAMES, and primitive output/input values as {"<tag>": value}); properties holding objects or
lists are left out, so a vector naming them shows them as missing. The OutOfProc line framing
(`<Data>`, `<Command>`, ...) is not part of psrpcore; its lines are read with the psrpcore shims'
own transport.py, as server.py and client.py read them.

The shim protocol has no "unsupported" verdict. Answers follow psrpcore: bytes it decodes are
accepted (`ok: true`) even where this file cannot map a part of the result; such a part is left
out (a vector naming it shows `<field> missing`) and the shim writes `decode_shim: unsupported: ...`
on stderr. Bytes psrpcore (or transport.py's framing) raises on are rejected with its exception.
"""
import enum
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transport  # noqa: E402  (the shims' framing; no psrpcore in it)

# unpack_fragment/unpack_message are not re-exported by psrpcore 0.3.1 (its receive path,
# PSRPCore.next_event, imports them from here); deserialize is public in psrpcore.types.
from psrpcore._payload import unpack_fragment, unpack_message
from psrpcore.types import PSRPMessageType, deserialize


class Unsupported(Exception):
    pass


# psrpcore type name -> peercheck's CLIXML tag for a primitive value, and how to show the value.
def _hexbytes(v):
    return bytes(v).hex()


PRIMITIVES = {
    "PSString": ("S", str),
    "PSChar": ("C", int),
    "PSByte": ("By", int),
    "PSSByte": ("SB", int),
    "PSUInt16": ("U16", int),
    "PSInt16": ("I16", int),
    "PSUInt": ("U32", int),
    "PSInt": ("I32", int),
    "PSUInt64": ("U64", int),
    "PSInt64": ("I64", int),
    "PSGuid": ("G", str),
    "PSUri": ("URI", str),
    "PSVersion": ("Version", str),
    "PSScriptBlock": ("SBK", str),
    "PSByteArray": ("BA", _hexbytes),
}

# psrpcore property name -> peercheck field name, where lower-camel-casing the name is not enough.
RENAMES = {
    "protocolversion": "protocolVersion",
    "PSVersion": "psVersion",
    "PSThreadOptions": "psThreadOptions",
    "mi": "methodId",
    "mp": "parameters",
    "mr": "returnValue",
}


# Properties that hold a serialized value (peercheck: {"<tag>": value}).
VALUE_PROPS = {"mr", "MessageData"}


def field_name(prop_name):
    return RENAMES.get(prop_name, prop_name[:1].lower() + prop_name[1:])


def scalar(v):
    """A property value peercheck writes as a plain JSON value, else None (left out)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, enum.Enum):
        return int(v.value) if isinstance(v.value, int) else None
    if isinstance(v, int):
        return int(v)
    if isinstance(v, str):
        return str(v)
    if type(v).__name__ == "PSVersion":
        return str(v)
    return None


def body_fields(obj):
    """The message object's own properties that map to plain values."""
    out = {}
    try:
        props = obj.PSObject.adapted_properties + obj.PSObject.extended_properties
    except AttributeError:
        return out
    for p in props:
        try:
            v = p.get_value(obj)
        except Exception:
            continue
        if p.name == "mi" and isinstance(v, enum.Enum):
            out["methodName"] = v.name
        if p.name == "CategoryInfo":
            cat = getattr(v, "Category", None)
            if isinstance(cat, enum.Enum):
                out["category"] = int(cat.value)
            continue
        if p.name in VALUE_PROPS:
            try:
                out[field_name(p.name)] = value_of(v)
            except Unsupported:
                pass
            continue
        x = scalar(v)
        if x is not None:
            out[field_name(p.name)] = x
    return out


def message_name(t):
    """PSRPMessageType.PipelineHostCall -> pipeline-host-call (peercheck's spelling)."""
    words = re.sub(r"(?<!^)(?=[A-Z])", "-", t.name).lower()
    return words.replace("runspace-pool", "runspacepool")


def value_of(obj):
    if obj is None:
        return "Nil"
    if isinstance(obj, bool):
        return {"B": obj}
    for cls in type(obj).__mro__:
        if cls.__name__ in PRIMITIVES:
            tag, conv = PRIMITIVES[cls.__name__]
            return {tag: conv(obj)}
    raise Unsupported(f"value of psrpcore type {type(obj).__name__} has no mapping to peercheck's form")


def decode_fragments(data):
    """psrpcore's receive path (PSRPCore.next_event): fragments -> exactly one message."""
    buf = bytearray(data)
    pending, done = {}, []
    while buf:
        frag = unpack_fragment(buf)  # psrpcore neither checks BlobLength against what follows
        buf = buf[21 + len(frag.data):]
        parts = pending.setdefault(frag.object_id, [])
        if frag.fragment_id != len(parts):
            raise ValueError(f"Expecting fragment with a fragment id of {len(parts)} not {frag.fragment_id}")
        parts.append(frag.data)
        if frag.end:
            done.append((frag.object_id, len(parts), b"".join(parts)))
            del pending[frag.object_id]
    if pending:
        raise ValueError(f"object(s) {sorted(pending)} never ended")
    if len(done) != 1:
        raise ValueError(f"{len(done)} messages where one was expected")
    object_id, count, raw = done[0]
    msg = unpack_message(bytearray(raw))
    fields = {
        "destination": {1: "client", 2: "server"}.get(msg.destination, msg.destination),
        "rpid": str(msg.rpid),
        "pid": str(msg.pid) if msg.pid else "00000000-0000-0000-0000-000000000000",
        "objectId": object_id,
        "fragmentCount": count,
    }
    name = message_name(msg.message_type)
    if msg.message_type == PSRPMessageType.EndOfPipelineInput:
        return name, fields
    # unpack_message drops a leading UTF-8 BOM (ERRATA PSRP-4): it was there if the body shrank.
    fields["bom"] = len(msg.data) != len(raw) - 40
    body = bytes(msg.data).decode("utf-8")  # as psrpcore: data.decode()
    obj = deserialize(ET.fromstring(body), cipher=None)
    if name in ("pipeline-output", "pipeline-input"):
        try:
            fields["value"] = value_of(obj)
        except Unsupported as e:
            # psrpcore decoded it; only the mapping is missing: accepted, without `value`.
            print(f"decode_shim: unsupported: {name}.value: {e}", file=sys.stderr, flush=True)
    else:
        fields.update(body_fields(obj))
    return name, fields


OOP_NAMES = {"Command": "oop.command", "CommandAck": "oop.command-ack", "Signal": "oop.signal",
             "SignalAck": "oop.signal-ack", "Close": "oop.close", "CloseAck": "oop.close-ack",
             "DataAck": "oop.data-ack"}


def decode_outofproc(data):
    """The psrpcore shims' own OutOfProc reader (transport.py), then psrpcore on the fragments."""
    reader = transport.OutOfProcReader()
    reader.push(data)
    packets = list(reader.packets())
    if reader.pending():
        raise ValueError(f"{reader.pending()} byte(s) after the last line end")
    if packets and all(p.kind == "Data" for p in packets):
        name, fields = decode_fragments(b"".join(p.payload for p in packets))
        fields["psGuid"] = transport.guid_text(packets[0].guid)
        return name, fields
    if len(packets) != 1:
        raise ValueError(f"{len(packets)} packets where one was expected")
    return OOP_NAMES[packets[0].kind], {"psGuid": transport.guid_text(packets[0].guid)}


def answer(req):
    if req.get("protocol") != "psrp":
        return {"ok": False, "error": f"unsupported: protocol {req.get('protocol')} (psrpcore is PSRP only)"}
    data = bytes.fromhex(req["hex"])
    framing = req.get("params", {}).get("framing", "outofproc")
    try:
        name, fields = (decode_fragments if framing == "fragments" else decode_outofproc)(data)
    except Exception as e:  # psrpcore (or the framing) rejected the bytes
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    return {"ok": True, "name": name, "fields": fields}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            a = answer(json.loads(line))
        except Exception as e:
            a = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(a), flush=True)


if __name__ == "__main__":
    main()
