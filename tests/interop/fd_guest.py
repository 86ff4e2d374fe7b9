#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What a VMM manager does to hand vhostd a guest's socket (issue 21), for
qemu_link.sh's WIRING=fd.  vhostd gets the socket through
"vhostctl CTL add-port NAME vhost-fd:N OPTS" (vhostctl passes its fd N with
SCM_RIGHTS); this process then becomes the VMM (CMD...).

  fd_guest.py VHOSTCTL CTL NAME OPTS connect PATH -- CMD...
      the VMM listens on PATH (QEMU: -chardev socket,path=PATH,server=on,
      which waits for its one connection); a child of ours connects to it
      and passes that connected socket: vhostd serves it as it is.
  fd_guest.py VHOSTCTL CTL NAME OPTS listen PATH -- CMD...
      we listen on PATH and pass the listening socket; the VMM connects
      to PATH (-chardev socket,path=PATH): vhostd accepts on it.

(A socketpair, one end to each, is what a manager does with a VMM that
takes a connected fd for its vhost-user chardev; Debian 12's QEMU 7.2
refuses -chardev socket,fd=N there: 'does not support FD passing'.)"""
import os
import socket
import subprocess
import sys
import time


def add_port(vhostctl, ctl, name, opts, sock):
    r = subprocess.run([vhostctl, ctl, "add-port", name,
                        f"vhost-fd:{sock.fileno()}{opts}"],
                       pass_fds=[sock.fileno()])
    sock.close()           # vhostd holds its own copy now
    if r.returncode != 0:
        sys.exit(f"fd_guest.py: vhostctl add-port {name} failed")


def main():
    vhostctl, ctl, name, opts, mode, path, sep = sys.argv[1:8]
    cmd = sys.argv[8:]
    if sep != "--" or mode not in ("connect", "listen") or not cmd:
        sys.exit(__doc__)
    if mode == "listen":
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        lsock.listen(1)
        add_port(vhostctl, ctl, name, opts, lsock)
    elif os.fork() == 0:   # the connector; the VMM keeps our pid
        for _ in range(500):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                break
            except OSError:
                s.close()
                time.sleep(0.02)
        else:
            os._exit(1)
        add_port(vhostctl, ctl, name, opts, s)
        os._exit(0)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
