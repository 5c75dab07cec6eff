"""Python `websockets` clients for crates/httpout-core/tests/ws*.rs.

    client.py conformance BASE   text, binary, fragments, 16 MiB, close codes
    client.py many BASE N        N sockets open at once, each echoes once;
                                 "open N" on stdout, closes all on a stdin line
    client.py slow BASE          a socket that reads nothing until a stdin
                                 line, then drains it; prints the close code

BASE is ws://127.0.0.1:PORT. Any failure raises (exit status 1).
"""

import asyncio
import os
import sys

from websockets.asyncio.client import connect as _connect
from websockets.exceptions import ConnectionClosed

MIB = 1024 * 1024


def connect(url, **kw):
    """No proxy from the environment, no compression: the server offers none."""
    return _connect(url, proxy=None, compression=None, open_timeout=10, **kw)


async def expect_close(ws, code, why):
    """The next recv() fails: the server closed with `code`."""
    try:
        await ws.recv()
        raise AssertionError(why)
    except ConnectionClosed as e:
        assert e.rcvd is not None and e.rcvd.code == code, e.rcvd
        return e.rcvd


async def conformance(base):
    async with connect(base + "/echo", max_size=32 * MIB) as ws:
        await ws.send("héllo ✓")
        assert await ws.recv() == "héllo ✓"
        data = bytes(range(256)) * 4
        await ws.send(data)
        assert await ws.recv() == data
        # A fragmented message (three frames) comes back whole.
        await ws.send(["frag", "men", "ted"])
        assert await ws.recv() == "fragmented"
        await ws.send([b"\x00\x01", b"\x02"])
        assert await ws.recv() == b"\x00\x01\x02"
        big = os.urandom(16 * MIB)
        await ws.send(big)
        assert await ws.recv() == big, "16 MiB echo differs"
        text = "é" * (8 * MIB)  # 16 MiB of UTF-8
        await ws.send(text)
        assert await ws.recv() == text
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        await ws.close(4001, "client bye")
    print("echo ok")

    async with connect(base + "/close") as ws:
        assert await ws.recv() == "bye"
        rcvd = await expect_close(ws, 4000, "the server did not close")
        assert rcvd.reason == "done", rcvd
    print("server close ok")

    async with connect(base + "/small", max_size=None) as ws:
        await ws.send(b"x" * 2048)
        await expect_close(ws, 1009, "an oversized message was accepted")
    print("too big ok")

    # A text message that is not UTF-8: 1007.
    async with connect(base + "/echo") as ws:
        await ws.send(b"\xff\xfe", text=True)
        await expect_close(ws, 1007, "invalid UTF-8 was accepted")
    print("conformance ok")


async def many(base, n):
    sockets = []
    for i in range(n):
        ws = await connect(base + "/echo", max_queue=1)
        await ws.send(f"hello {i}")
        assert await ws.recv() == f"hello {i}"
        sockets.append(ws)
    print(f"open {len(sockets)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await asyncio.gather(*(ws.close() for ws in sockets))
    print("closed", flush=True)


async def slow(base):
    async with connect(base + "/flood", max_size=None, max_queue=2) as ws:
        print("connected", flush=True)
        # Reads nothing (websockets stops reading once 2 messages wait).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        received = 0
        try:
            while True:
                received += len(await ws.recv())
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            print(f"closed {code} after {received} bytes", flush=True)


def main():
    what, base = sys.argv[1], sys.argv[2]
    if what == "conformance":
        asyncio.run(conformance(base))
    elif what == "many":
        asyncio.run(many(base, int(sys.argv[3])))
    elif what == "slow":
        asyncio.run(slow(base))
    else:
        raise SystemExit(f"unknown test {what}")


if __name__ == "__main__":
    main()
