"""An upload with the IETF resumable upload protocol (the current draft
text, interop version 9; INTEROP=6 for draft -05), standard library only
(tests/resumable.rs).

`start BASE PATH FILE`: creates the upload with `Upload-Complete: ?0` and an
empty body (201, `Location`), prints `url URL`, then sends FILE in one
PATCH. `resume URL FILE`: HEAD for the offset, then one PATCH with the
rest. Prints `done STATUS OFFSET`. SLOW_AFTER=BYTES throttles the body past
that offset."""

import http.client
import os
import sys
import time
import urllib.parse

INTEROP = os.environ.get("INTEROP", "9")


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60), u.path


def create(base, path, size):
    conn, _ = connect(base)
    conn.request("POST", path, body=b"", headers={
        "Upload-Complete": "?0",
        "Upload-Draft-Interop-Version": INTEROP,
        "Upload-Length": str(size),
    })
    res = conn.getresponse()
    res.read()
    assert res.status == 201, res.status
    return base + res.getheader("Location")


def offset(url):
    conn, path = connect(url)
    conn.request("HEAD", path, headers={"Upload-Draft-Interop-Version": INTEROP})
    res = conn.getresponse()
    res.read()
    assert res.status == 204, res.status
    assert res.getheader("Upload-Complete") == "?0"
    return int(res.getheader("Upload-Offset"))


def patch(url, path, start, after):
    size = os.path.getsize(path)
    conn, upath = connect(url)
    conn.putrequest("PATCH", upath)
    for k, v in {
        "Content-Type": "application/partial-upload",
        "Upload-Offset": str(start),
        "Upload-Complete": "?1",
        "Upload-Draft-Interop-Version": INTEROP,
        "Content-Length": str(size - start),
    }.items():
        conn.putheader(k, v)
    conn.endheaders()
    with open(path, "rb") as f:
        f.seek(start)
        while True:
            if after is not None and f.tell() >= after:
                time.sleep(0.05)
            piece = f.read(1 << 20)
            if not piece:
                break
            conn.send(piece)
    res = conn.getresponse()
    res.read()
    return res.status, res.getheader("Upload-Offset"), res.getheader("Upload-Complete")


def main():
    after = os.environ.get("SLOW_AFTER")
    after = int(after) if after else None
    if sys.argv[1] == "start":
        base, target, path = sys.argv[2:5]
        url = create(base, target, os.path.getsize(path))
        print("url", url, flush=True)
        start = 0
    else:
        url, path = sys.argv[2:4]
        start = offset(url)
        print("resumed at", start, flush=True)
    status, off, complete = patch(url, path, start, after)
    print("done", status, off, complete, flush=True)


main()
