#!/usr/bin/env python3
"""Derives the Inedo golden vectors by hand from the spec tables, independently of the Rust codec.

Layouts: specs/inedo-agent-network-protocol-v1.md ("Handshake", "Client to Server Message", "Server
to Client Message") with ERRATA "Inedo Agent network protocol" entries 1-11. AES ciphertexts are
computed here with the Python `cryptography` package (AES-CBC, PKCS#7), not with the codec.

Run from this folder: python3 derive.py  (rewrites handshake.yaml, handshake-reply.yaml,
frames-plain.yaml, frames-aes.yaml).
"""
import json
import struct

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# ERRATA Inedo-2: 6CEBD24E-4AF7-4A13-B9AF-81D3DFC644BE in .NET byte order.
GUID = "4ed2eb6c f74a 134a b9af81d3dfc644be"
GUID_TEXT = "6cebd24e-4af7-4a13-b9af-81d3dfc644be"
KEY128 = "000102030405060708090a0b0c0d0e0f"
KEY256 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV = "f0e0d0c0b0a090807060504030201000"


def i32(v):
    return struct.pack("<i", v).hex()


def s7(text):
    """.NET BinaryWriter string: 7-bit length prefix, UTF-8 (ERRATA Inedo-1)."""
    raw = text.encode()
    n, out = len(raw), b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    out += bytes([n])
    return out.hex() + " " + raw.hex()


def compact(h):
    return bytes.fromhex(h.replace(" ", ""))


def aes_frame(key_hex, iv_hex, plaintext_hex, pad=True):
    pt = compact(plaintext_hex)
    if pad:
        p = padding.PKCS7(128).padder()
        pt = p.update(pt) + p.finalize()
    else:
        pt = pt + b"\0" * (-len(pt) % 16)
    enc = Cipher(algorithms.AES(bytes.fromhex(key_hex)), modes.CBC(bytes.fromhex(iv_hex))).encryptor()
    ct = enc.update(pt) + enc.finalize()
    return i32(len(ct)) + " " + ct.hex()


def vec(id, description, direction, verdict, source, hexs, message=None, profile=None, params=None, error=None, flags=None):
    v = {"id": id, "description": description}
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
    return v


def dump(path, header, vectors):
    # JSON is YAML: flow style keeps every vector greppable and the file free of a yaml dependency.
    lines = [f"# {l}" if l else "#" for l in header.strip().splitlines()]
    lines.append("vectors:")
    for v in vectors:
        first = True
        for k, val in v.items():
            lead = "  - " if first else "    "
            lines.append(f"{lead}{k}: {json.dumps(val, ensure_ascii=False)}")
            first = False
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


HS = "Inedo Agent network protocol v1 §Handshake"
C2S = "Inedo Agent network protocol v1 §Client to Server Message"
S2C = "Inedo Agent network protocol v1 §Server to Client Message"
HAND = "derived by hand from the spec (no open implementation exists)"

# ---------------------------------------------------------------- handshake
hs = [
    vec("inedo.handshake.v1-session-42", "v1 handshake: protocol id, version 1000, session id 42. The client "
        "handshake carries no encryption mode (the server's reply chooses it), so it is the same for none, AES and SSL.",
        "to-server", "valid", f"{HS}; ERRATA Inedo-1, Inedo-2; {HAND}",
        f"{GUID}  {i32(1000)}  {i32(42)}",
        {"handshake": {"protocolId": GUID_TEXT, "protocolVersion": 1000, "sessionId": 42}}, profile="inedo-v1"),
    vec("inedo.handshake.v1-session-negative", "v1 handshake with session id -1 (int32, signed)",
        "to-server", "valid", f"{HS}; ERRATA Inedo-1; {HAND}",
        f"{GUID}  {i32(1000)}  {i32(-1)}",
        {"handshake": {"protocolVersion": 1000, "sessionId": -1}}),
    vec("inedo.handshake.v1-future-version", "v1 handshake announcing protocol version 1001: the codec reads it; "
        "whether a server accepts it is behaviour, not framing", "to-server", "valid", f"{HS}; {HAND}",
        f"{GUID}  {i32(1001)}  {i32(0)}", {"handshake": {"protocolVersion": 1001, "sessionId": 0}}),
    vec("inedo.handshake.v2-default-range", "v2 handshake: min 1000, max 2000 instead of version and session id",
        "to-server", "valid", f"{HS}; ERRATA Inedo-10; {HAND}",
        f"{GUID}  {i32(1000)}  {i32(2000)}",
        {"handshake": {"protocolId": GUID_TEXT, "minVersion": 1000, "maxVersion": 2000}}, profile="inedo-v2",
        flags=["errata-inedo-10"]),
    vec("inedo.handshake.v2-v1-only-range", "v2 handshake from a client that only speaks 1000",
        "to-server", "valid", f"{HS}; ERRATA Inedo-10; {HAND}",
        f"{GUID}  {i32(1000)}  {i32(1000)}", {"handshake": {"minVersion": 1000, "maxVersion": 1000}},
        profile="inedo-v2", flags=["errata-inedo-10"]),
    vec("inedo.handshake.bad-guid-text-order", "The protocol GUID written in text (big-endian) order instead of "
        ".NET order: 'If the protocol ID is not valid, the server will immediately disconnect'",
        "to-server", "invalid", f"{HS}; ERRATA Inedo-2, Inedo-11; {HAND}",
        f"6cebd24e 4af7 4a13 b9af81d3dfc644be  {i32(1000)}  {i32(0)}", error="protocolId",
        flags=["errata-inedo-2"]),
    vec("inedo.handshake.bad-guid-nil", "An all-zero protocol id", "to-server", "invalid", f"{HS}; {HAND}",
        f"{'00' * 16}  {i32(1000)}  {i32(0)}", error="bad protocol id"),
    vec("inedo.handshake.bad-guid-v2", "v2 handshake with one GUID byte flipped", "to-server", "invalid",
        f"{HS}; ERRATA Inedo-10; {HAND}", f"4ed2eb6c f74a 134a b9af81d3dfc644bf  {i32(1000)}  {i32(2000)}",
        profile="inedo-v2", error="protocolId"),
    vec("inedo.handshake.truncated", "v1 handshake cut after 20 of 24 bytes (connection closed)", "to-server",
        "invalid", f"{HS}; {HAND}", f"{GUID}  {i32(1000)}", error="truncated"),
]
dump("handshake.yaml", """
Inedo client handshake (v1 and v2), 24 bytes: protocol id (Guid, .NET order), then
v1: protocol version (int32 1000) + session id (int32); v2: min + max protocol version (ERRATA Inedo-10).
Derived by hand from the spec by derive.py (no open implementation exists).""", hs)

# ---------------------------------------------------------------- handshake reply
def sv4(a, b, c, d):
    return f"{i32(a)} {i32(b)} {i32(c)} {i32(d)}"

rp = []
for prof, field, value in (("inedo-v1", "sessionId", 42), ("inedo-v2", "protocolVersion", 2000)):
    v = prof[-2:]
    for mode, code in (("none", 0), ("ssl", 1), ("aes", 2)):
        iv_hex = f" {IV} " if mode == "aes" else " "
        msg4 = {"encryptionMode": mode, field: value, "serverVersion": [5, 2, 3, 17]}
        if mode == "aes":
            msg4["iv"] = IV
        params4 = {"server-version": "int32x4"}
        rp.append(vec(f"inedo.handshake-reply.{v}-{mode}-int32x4",
                      f"{v} reply, encryption {mode}, server version 5.2.3.17 as four int32 "
                      f"({'37' if mode == 'aes' else '21'} bytes)",
                      "to-client", "valid", f"{HS}; ERRATA Inedo-3, Inedo-5{', Inedo-10' if v == 'v2' else ''}; {HAND}",
                      f"{code:02x}{iv_hex}{i32(value)}  {sv4(5, 2, 3, 17)}", msg4, profile=prof,
                      params=params4 if mode != "none" else None, flags=["errata-inedo-3"]))
        msg1 = dict(msg4)
        msg1["serverVersion"] = 0x05020311
        rp.append(vec(f"inedo.handshake-reply.{v}-{mode}-int32",
                      f"{v} reply, encryption {mode}, server version as the single int32 of the current page "
                      f"({'25' if mode == 'aes' else '9'} bytes)",
                      "to-client", "valid", f"{HS}; ERRATA Inedo-3, Inedo-5; {HAND}",
                      f"{code:02x}{iv_hex}{i32(value)}  {i32(0x05020311)}", msg1, profile=prof,
                      params={"server-version": "int32"}, flags=["errata-inedo-3"]))
rp += [
    vec("inedo.handshake-reply.v1-session-changed", "The server returns a different session id than requested "
        "('server is allowed to return a different one')", "to-client", "valid", f"{HS}; {HAND}",
        f"00 {i32(7)}  {sv4(1, 0, 0, 0)}", {"handshake-reply": {"encryptionMode": "none", "sessionId": 7}}),
    vec("inedo.handshake-reply.unknown-mode", "Encryption mode 7 (not 0/1/2): kept as a number, no IV",
        "to-client", "valid", f"{HS}; {HAND}", f"07 {i32(0)}  {sv4(1, 0, 0, 0)}",
        {"handshake-reply": {"encryptionMode": 7, "sessionId": 0}}),
    vec("inedo.handshake-reply.aes-cut-in-iv", "AES reply cut inside the IV", "to-client", "invalid",
        f"{HS}; ERRATA Inedo-5; {HAND}", f"02 {IV[:20]}", error="truncated"),
    vec("inedo.handshake-reply.int32x4-read-as-single", "A 9-byte single-int32 reply read under the default "
        "int32x4 reading: the reader waits for 12 more bytes and the stream ends", "to-client", "invalid",
        f"{HS}; ERRATA Inedo-3; {HAND}", f"00 {i32(0)}  {i32(0x05020311)}", error="serverVersion",
        flags=["errata-inedo-3"]),
]
# Wrap the non-reply fields as messages.
for v in rp:
    if "message" in v and "handshake-reply" not in v["message"]:
        v["message"] = {"handshake-reply": v["message"]}
dump("handshake-reply.yaml", """
Inedo handshake reply: encryption mode (int8), AES IV (16 bytes, AES only; ERRATA Inedo-5), session id
(v1) or chosen protocol version (v2, ERRATA Inedo-10), server version as four int32 (default reading) or
one int32 (`server-version=int32`), ERRATA Inedo-3. Derived by hand from the spec by derive.py.""", rp)

# ---------------------------------------------------------------- plain frames
F = {"phase": "frames"}
pl = [
    vec("inedo.frame.plain.v1-command-otter", "v1 client frame: data length 3 (Data only), agent type 1 (otter), "
        "command 17, data", "to-server", "valid", f"{C2S}; ERRATA Inedo-6, Inedo-8; {HAND}",
        f"{i32(3)} 01 {i32(17)} 616263", {"command": {"agentType": "otter", "command": 17, "data": "616263"}},
        params=F, flags=["errata-inedo-6"]),
    vec("inedo.frame.plain.v1-command-unknown-agent", "v1 client frame with agent type 9 (unknown, kept)",
        "to-server", "valid", f"{C2S}; ERRATA Inedo-8; {HAND}", f"{i32(0)} 09 {i32(1)}",
        {"command": {"agentType": 9, "command": 1, "data": ""}}, params=F),
    vec("inedo.frame.plain.v1-get-agent-root-path", "Meta command 3, Get Agent Root Path: agent type 0, no data",
        "to-server", "valid", f"{C2S}; ERRATA Inedo-8; {HAND}", f"{i32(0)} 00 {i32(3)}",
        {"meta.get-agent-root-path": {}}, params=F, flags=["errata-inedo-8"]),
    vec("inedo.frame.plain.v1-update-agent", "Meta command 2, Update Agent, with an opaque payload",
        "to-server", "valid", f"{C2S}; ERRATA Inedo-8; {HAND}", f"{i32(4)} 00 {i32(2)} 00010203",
        {"meta.update-agent": {"data": "00010203"}}, params=F, flags=["errata-inedo-8"]),
    vec("inedo.frame.plain.v2-command", "v2 client frame: no agent-type byte", "to-server", "valid",
        f"{C2S}; ERRATA Inedo-10; {HAND}", f"{i32(2)} {i32(40)} beef",
        {"command": {"command": 40, "data": "beef"}}, profile="inedo-v2", params=F, flags=["errata-inedo-10"]),
    vec("inedo.frame.plain.v2-get-agent-root-path", "v2 Get Agent Root Path: command 3 without agent type",
        "to-server", "valid", f"{C2S}; ERRATA Inedo-8, Inedo-10; {HAND}", f"{i32(0)} {i32(3)}",
        {"meta.get-agent-root-path": {}}, profile="inedo-v2", params=F),
    vec("inedo.frame.plain.ssl-inner-command", "In SSL mode the plain layout runs inside TLS; this is the "
        "decrypted TLS payload", "to-server", "valid", f"{C2S} ('no encryption or SSL'); ERRATA Inedo-9; {HAND}",
        f"{i32(1)} 02 {i32(5)} ff", {"command": {"agentType": "buildmaster", "command": 5, "data": "ff"}},
        params={"phase": "frames", "encryption": "ssl"}, flags=["errata-inedo-9"]),
    vec("inedo.frame.plain.response", "Server frame: data length 2, command 17, data at offset 8",
        "to-client", "valid", f"{S2C}; ERRATA Inedo-4, Inedo-6; {HAND}", f"{i32(2)} {i32(17)} 6869",
        {"response": {"command": 17, "data": "6869"}}, params=F, flags=["errata-inedo-4"]),
    vec("inedo.frame.plain.response-empty", "Server frame without data", "to-client", "valid",
        f"{S2C}; {HAND}", f"{i32(0)} {i32(-5)}", {"response": {"command": -5, "data": ""}}, params=F),
    vec("inedo.frame.plain.root-path-reply", "Reply to Get Agent Root Path: command 3, data = one .NET string "
        "(7-bit length prefix)", "to-client", "valid", f"{S2C}; ERRATA Inedo-1, Inedo-8; {HAND}",
        f"{i32(20)} {i32(3)} {s7('C:/BuildMasterAgent')}", {"meta.get-agent-root-path-reply": {"path": "C:/BuildMasterAgent"}},
        params={"phase": "frames", "pending": "get-agent-root-path"}, flags=["errata-inedo-1"]),
    vec("inedo.frame.plain.root-path-reply-long", "Root path of 200 bytes: a two-byte 7-bit length prefix",
        "to-client", "valid", f"{S2C}; ERRATA Inedo-1; {HAND}",
        f"{i32(202)} {i32(3)} {s7('/opt/' + 'a' * 195)}", {"meta.get-agent-root-path-reply": {"path": "/opt/" + "a" * 195}},
        params={"phase": "frames", "pending": "get-agent-root-path"}),
    vec("inedo.frame.plain.response-data-at-offset-5", "A server that follows the table's typo (1-byte command, "
        "data at offset 5): read with data at offset 8, the 4-byte length promises more than arrives",
        "to-client", "invalid", f"{S2C}; ERRATA Inedo-4; {HAND}", f"{i32(2)} 11 6869", error="truncated",
        params=F, flags=["errata-inedo-4"]),
    vec("inedo.frame.plain.lying-length", "Length 256 but only 3 data bytes before the stream ends",
        "to-server", "invalid", f"{C2S}; {HAND}", f"{i32(256)} 01 {i32(17)} 616263", error="truncated", params=F),
    vec("inedo.frame.plain.length-at-limit-plus-one", "Length INEDO_MAX_FRAME_LEN + 1: refused on the length "
        "alone, nothing buffered", "to-server", "invalid", f"{C2S}; suite limit", f"{i32(16 * 1024 * 1024 + 1)} 01 {i32(1)}",
        error="INEDO_MAX_FRAME_LEN", params=F),
    vec("inedo.frame.plain.negative-length", "Length -1", "to-client", "invalid", f"{S2C}; {HAND}",
        f"{i32(-1)} {i32(1)}", error="negative", params=F),
    vec("inedo.frame.plain.root-path-over-max", "Root path string with a 7-bit length of INEDO_MAX_STRING_LEN + 1",
        "to-client", "invalid", f"{S2C}; ERRATA Inedo-1; suite limit", f"{i32(3)} {i32(3)} 818040",
        error="INEDO_MAX_STRING_LEN", params={"phase": "frames", "pending": "get-agent-root-path"}),
    vec("inedo.frame.plain.root-path-past-frame", "Root path string longer than the frame's data",
        "to-client", "invalid", f"{S2C}; ERRATA Inedo-1; {HAND}", f"{i32(3)} {i32(3)} 09 4344",
        error="path", params={"phase": "frames", "pending": "get-agent-root-path"}),
    vec("inedo.frame.plain.root-path-int32-prefix", "Root path written with an int32 length prefix instead of "
        "the 7-bit one: reads as a 19-byte string in a 23-byte field, 3 bytes left over", "to-client", "invalid",
        f"{S2C}; ERRATA Inedo-1; {HAND}", f"{i32(23)} {i32(3)} {i32(19)} {'C:/BuildMasterAgent'.encode().hex()}",
        error="path", params={"phase": "frames", "pending": "get-agent-root-path"}),
]
dump("frames-plain.yaml", """
Inedo plain frames (no encryption, or the payload inside TLS). Client: length of Data (int32), agent type
(int8, v1 only: ERRATA Inedo-10), command (int32), data. Server: length, command, data at offset 8
(ERRATA Inedo-4). Length counts Data only (ERRATA Inedo-6). Lone frames use params phase=frames.
Derived by hand from the spec by derive.py.""", pl)

# ---------------------------------------------------------------- AES frames
def P(key, extra=None):
    p = {"phase": "frames", "encryption": "aes", "key": key, "iv": IV}
    p.update(extra or {})
    return p

N1 = "11" * 16
N2 = "22" * 16
ae = [
    vec("inedo.frame.aes.v1-get-agent-root-path-aes128", "AES-128 Get Agent Root Path: next IV + agent type 0 + "
        "command 3 = 21 bytes, PKCS#7 to 32; the length counts the 32 encrypted bytes",
        "to-server", "valid", f"{C2S}; ERRATA Inedo-6, Inedo-7; AES by Python cryptography; {HAND}",
        aes_frame(KEY128, IV, f"{N1} 00 {i32(3)}"), {"meta.get-agent-root-path": {"nextIv": N1}},
        params=P(KEY128), flags=["errata-inedo-7"]),
    vec("inedo.frame.aes.v1-command-aes256", "AES-256 client frame with 20 bytes of data (3 blocks)",
        "to-server", "valid", f"{C2S}; ERRATA Inedo-6, Inedo-7; AES by Python cryptography; {HAND}",
        aes_frame(KEY256, IV, f"{N2} 01 {i32(17)} {'61' * 20}"),
        {"command": {"agentType": "otter", "command": 17, "data": "61" * 20, "nextIv": N2}},
        params=P(KEY256), flags=["errata-inedo-7"]),
    vec("inedo.frame.aes.v1-command-block-aligned", "Plaintext of exactly 32 bytes: PKCS#7 adds a whole block",
        "to-server", "valid", f"{C2S}; ERRATA Inedo-7; AES by Python cryptography; {HAND}",
        aes_frame(KEY128, IV, f"{N1} 02 {i32(8)} {'00' * 11}"),
        {"command": {"agentType": "buildmaster", "command": 8, "data": "00" * 11, "nextIv": N1}},
        params=P(KEY128)),
    vec("inedo.frame.aes.v2-command", "v2 AES client frame: no agent-type byte inside", "to-server", "valid",
        f"{C2S}; ERRATA Inedo-7, Inedo-10; AES by Python cryptography; {HAND}",
        aes_frame(KEY128, IV, f"{N1} {i32(40)} beef"), {"command": {"command": 40, "data": "beef", "nextIv": N1}},
        profile="inedo-v2", params=P(KEY128), flags=["errata-inedo-10"]),
    vec("inedo.frame.aes.response", "AES server frame: next IV + command + data",
        "to-client", "valid", f"{S2C}; ERRATA Inedo-6, Inedo-7; AES by Python cryptography; {HAND}",
        aes_frame(KEY128, IV, f"{N2} {i32(17)} 6869"), {"response": {"command": 17, "data": "6869", "nextIv": N2}},
        params=P(KEY128)),
    vec("inedo.frame.aes.root-path-reply", "AES reply to Get Agent Root Path", "to-client", "valid",
        f"{S2C}; ERRATA Inedo-1, Inedo-7, Inedo-8; AES by Python cryptography; {HAND}",
        aes_frame(KEY256, IV, f"{N1} {i32(3)} {s7('/var/lib/inedo')}"),
        {"meta.get-agent-root-path-reply": {"path": "/var/lib/inedo", "nextIv": N1}},
        params=P(KEY256, {"pending": "get-agent-root-path"})),
    vec("inedo.frame.aes.wrong-key", "A frame sealed under another key: decrypts to bad PKCS#7 padding",
        "to-server", "invalid", f"{C2S}; ERRATA Inedo-7; AES by Python cryptography",
        aes_frame("ff" * 16, IV, f"{N1} 00 {i32(3)}"), error="padding", params=P(KEY128)),
    vec("inedo.frame.aes.zero-fill-no-padding", "An encryptor that zero-fills instead of PKCS#7 padding",
        "to-client", "invalid", f"{S2C}; ERRATA Inedo-7; AES by Python cryptography",
        aes_frame(KEY128, IV, f"{N2} {i32(17)} 6869", pad=False), error="padding", params=P(KEY128)),
    vec("inedo.frame.aes.length-not-blocks", "Encrypted length 33: not whole AES blocks", "to-server", "invalid",
        f"{C2S}; ERRATA Inedo-6, Inedo-7", f"{i32(33)} {'00' * 33}", error="blocks", params=P(KEY128)),
    vec("inedo.frame.aes.length-counts-data-only", "An AES frame whose length counts only the data (0), as in "
        "plain mode", "to-server", "invalid", f"{C2S}; ERRATA Inedo-6",
        f"{i32(0)} " + aes_frame(KEY128, IV, f"{N1} 00 {i32(3)}").split(' ', 1)[1], error="length",
        params=P(KEY128), flags=["errata-inedo-6"]),
    vec("inedo.frame.aes.lying-length", "Length 64 but only one block before the stream ends", "to-client",
        "invalid", f"{S2C}; ERRATA Inedo-6", f"{i32(64)} {'ab' * 16}", error="truncated", params=P(KEY128)),
]
dump("frames-aes.yaml", """
Inedo AES frames: length of the encrypted part (int32, ERRATA Inedo-6), then AES-CBC/PKCS#7 under the
pre-shared key of: next IV (16 bytes) + the plain header fields + data (ERRATA Inedo-7). Lone frames use
params phase=frames, key and iv (the IV this frame is encrypted with). Ciphertexts computed by derive.py
with Python's `cryptography`, independently of the Rust codec.""", ae)
