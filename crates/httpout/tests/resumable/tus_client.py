"""A tus upload with tuspy (tests/resumable.rs): `start BASE DIR FILE` creates
an upload in DIR and sends FILE; `resume URL FILE` goes on from the server's
offset. Prints `url URL` once created and `done` at the end; with
SLOW_AFTER=BYTES in the environment, reads past that offset are throttled
(so that a test can stop it mid-way)."""

import os
import sys
import time

from tusclient import client


class Throttled:
    """A file that reads slowly past `after` bytes."""

    def __init__(self, path, after):
        self.f = open(path, "rb")
        self.after = after

    def read(self, n=-1):
        if self.after is not None and self.f.tell() >= self.after:
            # tuspy reads a whole chunk (4 MiB) at once: about 20 MB/s.
            time.sleep(0.2)
        return self.f.read(n)

    def seek(self, *a):
        return self.f.seek(*a)

    def tell(self):
        return self.f.tell()


def main():
    mode = sys.argv[1]
    after = os.environ.get("SLOW_AFTER")
    after = int(after) if after else None
    if mode == "start":
        base, directory, path = sys.argv[2:5]
        tus = client.TusClient(base + directory)
        up = tus.uploader(
            file_stream=Throttled(path, after),
            chunk_size=4 << 20,
            metadata={"filename": os.path.basename(path) + ".stored"},
            upload_checksum=True,
        )
        # The creation alone first: the test needs the URL to resume.
        up.set_url(up.create_url())
        print("url", up.url, flush=True)
    else:
        url, path = sys.argv[2:4]
        base = url.split("/.uploads/")[0]
        tus = client.TusClient(base + "/")
        up = tus.uploader(
            file_stream=Throttled(path, after),
            url=url,
            chunk_size=4 << 20,
            upload_checksum=True,
        )
        print("resumed at", up.offset, flush=True)
    up.upload()
    print("done", up.offset, flush=True)


main()
