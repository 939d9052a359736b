#!/usr/bin/env python3
"""A tiny NOW-PROTO server for peercheck's own tests, written from the spec, independent of our codec.

Usage: now_peer.py MODE [tcp PORTFILE]   (default: stdio)
Modes: correct | wrong-message | mismatch | malformed | silent | close | slow-close | ignore-term
"""
import os, signal, socket, struct, sys, time

MODE = sys.argv[1]

def capset_answer(body):
    # Echo the client's capset back with the heartbeat flag cleared: a valid server answer.
    return struct.pack("<IBBH", len(body), 0x10, 0x01, 0) + body

def serve(rd, wr):
    buf = b""
    while True:
        while len(buf) < 8:
            chunk = rd(4096)
            if not chunk:
                return
            buf += chunk
        size, cls, typ, flags = struct.unpack("<IBBH", buf[:8])
        while len(buf) < 8 + size:
            chunk = rd(4096)
            if not chunk:
                return
            buf += chunk
        body, buf = buf[8:8 + size], buf[8 + size:]
        if MODE == "silent":
            continue
        if MODE == "close":
            return
        if MODE == "ignore-term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(3600)
        if (cls, typ) == (0x10, 0x01):
            if MODE == "correct":
                wr(capset_answer(body))
            elif MODE == "wrong-message":
                wr(struct.pack("<IBBH", 4, 0x13, 0x06, 0) + b"\x01\x00\x00\x00")  # exec.started instead
            elif MODE == "mismatch":
                b = bytearray(body); b[0:2] = struct.pack("<H", 7)  # versionMajor 7
                wr(capset_answer(bytes(b)))
            elif MODE == "malformed":
                wr(b"\xff\xff\xff\x7f\x10\x01\x00\x00garbage")
            elif MODE == "slow-close":
                time.sleep(0.2)
                return

if MODE == "client":
    # A client: connect, send a capset, read the server's capset, exit 0 if it came.
    host, port = sys.argv[2].rsplit(":", 1)
    c = socket.create_connection((host, int(port)), timeout=5)
    body = struct.pack("<HHHHHI", 1, 6, 0, 0, 0x1001, 60)
    c.sendall(struct.pack("<IBBH", len(body), 0x10, 0x01, 1) + body)
    hdr = c.recv(8)
    sys.exit(0 if len(hdr) == 8 and hdr[4:6] == b"\x10\x01" else 1)
elif len(sys.argv) > 2 and sys.argv[2] == "tcp":
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0)); srv.listen(16)
    with open(sys.argv[3] + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(sys.argv[3] + ".tmp", sys.argv[3])
    while True:
        c, _ = srv.accept()
        serve(c.recv, c.sendall)
        c.close()
else:
    out = sys.stdout.buffer
    def wr(b):
        out.write(b); out.flush()
    serve(lambda n: os.read(0, n), wr)
