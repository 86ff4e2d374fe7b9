#!/usr/bin/env python3
"""qmp.py SOCKET COMMAND [JSON-ARGS]: one QMP command to a QEMU listening on
a unix socket (-qmp unix:SOCKET,server=on,wait=off); prints the "return"
value as JSON, or the error on stderr with exit status 1.  Events that
arrive in between are skipped.  QMP_TIMEOUT: seconds to wait for an
answer (default 30)."""
import json
import os
import socket
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: qmp.py SOCKET COMMAND [JSON-ARGS]")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(float(os.environ.get("QMP_TIMEOUT", "30")))
    s.connect(sys.argv[1])
    f = s.makefile("rw")

    def reply():
        while True:
            line = f.readline()
            if not line:
                sys.exit("qmp: connection closed")
            msg = json.loads(line)
            if "return" in msg or "error" in msg:
                return msg

    f.readline()  # greeting
    f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
    f.flush()
    reply()
    cmd = {"execute": sys.argv[2]}
    if len(sys.argv) > 3:
        cmd["arguments"] = json.loads(sys.argv[3])
    f.write(json.dumps(cmd) + "\n")
    f.flush()
    msg = reply()
    if "error" in msg:
        print(json.dumps(msg["error"]), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(msg["return"]))


if __name__ == "__main__":
    main()
