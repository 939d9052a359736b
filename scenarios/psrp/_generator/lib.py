"""Helpers that write the PSRP catalogue (scenarios/psrp/**) as YAML.

Regenerate: `PEERCHECK=target/debug/peercheck python3 scenarios/psrp/_generator/gen.py` (needs PyYAML;
`peercheck encode` supplies the exact bytes of a few structured messages sent raw).
"""
import base64
import os
import struct
import uuid

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
NIL = "00000000-0000-0000-0000-000000000000"
RPID = "d1b2c3a4-0000-4000-8000-505352500001"  # the suite session's default `rpid` param
P1 = "7c1e5a55-0000-4000-8000-000000000001"
P2 = "7c1e5a55-0000-4000-8000-000000000002"
P3 = "7c1e5a55-0000-4000-8000-000000000003"
BOM = b"\xef\xbb\xbf"
PUBKEY = open(os.path.join(os.path.dirname(__file__), "pubkey.b64")).read().strip()

# Records and outputs a correct server may or may not send while a pipeline runs (the spec leaves
# them to the higher layer): skipped by `expect` steps unless named.
RECORDS = ["verbose-record", "progress-record", "information-record", "debug-record", "warning-record"]
RECORDS_ERR = RECORDS + ["error-record"]
RUN_IGNORE = RECORDS_ERR + ["pipeline-output"]

SCENARIOS = {}


class Flow(dict):
    pass


def _flow(v):
    t = yaml.safe_dump(v, default_flow_style=True, width=100000, allow_unicode=True, sort_keys=False).strip()
    if t.endswith("\n..."):
        t = t[:-4].strip()
    return t


def dump_steps(steps):
    out = []
    for st in steps:
        if "comment" in st:
            out.append(f"  # {st['comment']}")
            continue
        first = True
        for k, v in st.items():
            prefix = "  - " if first else "    "
            first = False
            out.append(f"{prefix}{k}: {_flow(v)}")
    return "\n".join(out)


def scenario(sid, title, spec, requirement, level, peer, covers, tags, steps, profiles=None, errata=None,
             params=None, ignore=None, timeout=None):
    assert sid.startswith("psrp."), sid
    assert sid not in SCENARIOS, sid
    _, area, case = sid.split(".", 2)
    head = {
        "id": sid,
        "title": title,
        "spec": spec,
        "requirement": requirement,
        "level": level,
        "protocol": "psrp",
    }
    if profiles:
        head["profiles"] = profiles
    head["peer"] = peer
    if errata:
        head["errata"] = errata
    head["covers"] = covers
    head["tags"] = tags
    if timeout:
        head["timeout"] = timeout
    if params:
        head["params"] = {k: str(v) for k, v in params.items()}
    if ignore:
        head["ignore"] = ignore
    text = "# yaml-language-server: $schema=../../../docs/scenario.schema.json\n"
    for k, v in head.items():
        if isinstance(v, (list, dict)):
            text += f"{k}: {_flow(v)}\n"
        else:
            text += yaml.safe_dump({k: v}, width=100000, allow_unicode=True).rstrip("\n") + "\n"
    text += "steps:\n" + dump_steps(steps) + "\n"
    SCENARIOS[sid] = (f"{ROOT}/scenarios/psrp/{area}/{case}.yaml", text, covers)


def prelude(name, title, steps):
    text = f"title: {_flow(title)}\nprotocol: psrp\nsteps:\n" + dump_steps(steps) + "\n"
    path = f"{ROOT}/scenarios/_preludes/psrp/{name}.yaml"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(text)


def write_all():
    os.makedirs(f"{ROOT}/scenarios/psrp", exist_ok=True)
    for path, text, _ in SCENARIOS.values():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(text)


# ---- raw bytes --------------------------------------------------------------------------------

def message(mtype, clixml, rpid=RPID, pid=NIL, dest=2, bom=True):
    """A §2.2.1 message: Destination and MessageType little-endian, GUIDs in .NET order (ERRATA PSRP-2/3)."""
    body = (BOM if bom else b"") + clixml.encode("utf-8")
    return struct.pack("<II", dest, mtype) + uuid.UUID(rpid).bytes_le + uuid.UUID(pid).bytes_le + body


def fragment(oid, fid, flags, blob, blen=None, le=False):
    """A §2.2.4 fragment; header big-endian (ERRATA PSRP-2). flags: 1 = Start, 2 = End."""
    n = len(blob) if blen is None else blen
    fmt = "<QQBI" if le else ">QQBI"
    return struct.pack(fmt, oid, fid, flags, n) + blob


def split(data, parts):
    k = max(1, (len(data) + parts - 1) // parts)
    return [data[i:i + k] for i in range(0, len(data), k)]


def data_line(payload, psguid=NIL, stream="Default"):
    return f"<Data Stream='{stream}' PSGuid='{psguid}'>{base64.b64encode(payload).decode()}</Data>\n".encode()


def hexs(b):
    h = b.hex()
    return " ".join(h[i:i + 8] for i in range(0, len(h), 8))


def get_avail(ci):
    return f'<Obj RefId="0"><MS><I64 N="ci">{ci}</I64></MS></Obj>'


GET_AVAILABLE_RUNSPACES = 0x00021007
SET_MAX_RUNSPACES = 0x00021002
PIPELINE_INPUT = 0x00041002
PIPELINE_OUTPUT = 0x00041004
USER_EVENT = 0x00021008
APPLICATION_PRIVATE_DATA = 0x00021009


import json as _json
import subprocess as _sp
_ENC = {}
PEERCHECK = os.environ.get("PEERCHECK", "peercheck")


def enc(msg, framing="outofproc", direction="to-server"):
    """Exact bytes of a structured message, from the codec (`peercheck encode`)."""
    key = (_json.dumps(msg, sort_keys=True), framing, direction)
    if key not in _ENC:
        proto = "psrp-outofproc" if framing == "outofproc" else "psrp"
        r = _sp.run([PEERCHECK, "encode", "--protocol", proto, "--direction", direction],
                    input=_json.dumps(msg), capture_output=True, text=True, check=True)
        _ENC[key] = bytes.fromhex(r.stdout.strip().replace("\n", ""))
    return _ENC[key]
