#!/usr/bin/env python3
"""How long vhostd takes from exec to READY=1 (sd_notify), the start half
of a systemd restart (vhostd@.service adds RestartSec=100ms before it).

One vhost-user port reflecting and a control socket, started N times
under a fake service manager (a NOTIFY_SOCKET of our own), stopped with
SIGTERM after each READY=1.  Also the CPU time (user + system, all
threads) and minor page faults of each whole run (start, READY, SIGTERM,
exit) from wait4(): those do not depend on the host's load.

Usage: perf/ready_time.py BUILD_DIR/control/vhostd [N]
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

vhostd, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
cpu = str(max(os.sched_getaffinity(0)))
ms, cpums, flt = [], [], []
with tempfile.TemporaryDirectory(prefix="vhostd-ready.") as work:
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(work + "/notify")
    ns.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=work + "/notify")
    for _ in range(n):
        t0 = time.monotonic()
        p = subprocess.Popen([vhostd, "--cores", cpu, "--port",
                              "a=vhost:%s/run/a.sock" % work, "--reflect",
                              "a", "--control", work + "/run/ctl"],
                             env=env, stderr=subprocess.DEVNULL)
        if b"READY=1" not in ns.recv(4096):
            sys.exit("no READY=1")
        ms.append((time.monotonic() - t0) * 1000)
        p.send_signal(signal.SIGTERM)
        ns.recv(4096)            # STOPPING=1
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = 0
        cpums.append((ru.ru_utime + ru.ru_stime) * 1000)
        flt.append(ru.ru_minflt)
ms.sort()
print("exec to READY=1, %d starts: min %.1f ms, median %.1f ms, p90 %.1f ms,"
      " max %.1f ms" % (n, ms[0], ms[n // 2], ms[int(n * 0.9)], ms[-1]))
cpums.sort()
flt.sort()
print("CPU per run (start to exit, all threads): min %.1f ms, median %.1f ms;"
      " minor page faults: median %d" % (cpums[0], cpums[n // 2], flt[n // 2]))
