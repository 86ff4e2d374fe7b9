#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What a VMM manager does to wire a guest to vhostd without a socket file:
a socketpair, one end to vhostd with the request (SCM_RIGHTS on vhostd's
control socket), the other to the VMM.  No paths, permissions or races.

  fdport.py CTL NAME BRIDGE VMM-COMMAND...    ("@FD@" in it: the VMM's end)
  e.g. fdport.py /run/vhostd/main/ctl vm1 br0 VMM ... --vhost-user-fd=@FD@
(for a VMM that takes a connected vhost-user socket by fd; Debian 12's QEMU
7.2 refuses "-chardev socket,fd=N" for vhost-user, see README.md "Ports on
passed sockets" for what to pass it instead)

When the VMM exits the port stays, "detached"; run this again with the same
NAME to give it a new socket (set-port-fd), or del-port it."""
import json
import os
import socket
import sys


def request(ctl, req, fd=None):
    """One JSON request (with fd passed alongside) and vhostd's answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(ctl)
        line = (json.dumps(req) + "\n").encode()
        socket.send_fds(s, [line], [fd] if fd is not None else [])
        reply = b"".join(iter(lambda: s.recv(65536), b""))
    return json.loads(reply)


def main():
    ctl, name, bridge, vmm = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    ours, theirs = socket.socketpair()
    ports = request(ctl, {"cmd": "show"})["ports"]
    if any(p["name"] == name for p in ports):      # a restarted VM
        rep = request(ctl, {"cmd": "set-port-fd", "name": name}, ours.fileno())
    else:                  # the number in the spec is ours, only recorded
        rep = request(ctl, {"cmd": "add-port", "name": name, "spec":
                            f"vhost-fd:{ours.fileno()},bridge={bridge}"},
                      ours.fileno())
    ours.close()           # vhostd holds its own copy now
    if not rep["ok"]:
        sys.exit(f"vhostd refused {name}: {rep['error']}")
    theirs.set_inheritable(True)
    os.execvp(vmm[0], [a.replace("@FD@", str(theirs.fileno())) for a in vmm])


if __name__ == "__main__":
    main()
