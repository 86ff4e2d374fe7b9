#!/usr/bin/env python3
"""What systemd gives a Type=notify service, played by this script.

NOTIFY_SOCKET: vhostd must send READY=1 only once every socket it creates
listens (a vhost-user socket and the control socket answer at that moment),
and STOPPING=1 when SIGTERM asks it to stop, before it exits 0.  A second
vhostd that cannot start must not send READY=1.
JOURNAL_STREAM: when it names vhostd's stderr, every line carries its
syslog priority ("<6>level=info comp=..."); when it names another stream
(a parent's), no line does.

Usage: service_env.py VHOSTD
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile

VHOSTD = sys.argv[1]
CPU = str(max(os.sched_getaffinity(0)))
fails = 0


def check(cond, what):
    global fails
    print(("ok: " if cond else "FAIL: ") + what)
    fails += 0 if cond else 1


def connects(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def recv(ns, timeout):
    ns.settimeout(timeout)
    try:
        return ns.recv(4096).decode()
    except socket.timeout:
        return None


with tempfile.TemporaryDirectory(prefix="vhostd-svc.") as work:
    notify = os.path.join(work, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify)
    sock = os.path.join(work, "run", "a.sock")
    ctl = os.path.join(work, "run", "ctl")
    log = open(os.path.join(work, "vhostd.log"), "w+")
    env = dict(os.environ, NOTIFY_SOCKET=notify)
    env.pop("JOURNAL_STREAM", None)
    p = subprocess.Popen([VHOSTD, "--cores", CPU, "--port",
                          "a=vhost:" + sock, "--reflect", "a",
                          "--port", "b=loop:", "--control", ctl],
                         env=env, stderr=log)
    msg = recv(ns, 20)
    check(msg is not None and "READY=1" in msg.split("\n"),
          "READY=1 sent: %r" % msg)
    # At the moment READY=1 arrives, both sockets answer.
    check(connects(sock) and connects(ctl),
          "vhost-user and control sockets listen when READY=1 comes")
    check(msg is not None and "STATUS=2 port(s)" in msg, "STATUS line")
    # A second vhostd on the same socket fails: no READY=1 from it.
    q = subprocess.run([VHOSTD, "--cores", CPU, "--port", "a=vhost:" + sock],
                       env=env, stderr=subprocess.PIPE, timeout=20)
    check(q.returncode == 1, "second vhostd on the same socket: exit %d"
          % q.returncode)
    check(recv(ns, 0.5) is None, "and nothing from it on the notify socket")
    p.send_signal(signal.SIGTERM)
    msg = recv(ns, 20)
    check(msg is not None and "STOPPING=1" in msg.split("\n"),
          "STOPPING=1 on SIGTERM: %r" % msg)
    check(p.wait(20) == 0, "exit 0 after SIGTERM")
    check(not os.path.exists(os.path.join(work, "run")),
          "the socket directory it created is gone")

    # Without NOTIFY_SOCKET nothing is sent and nothing complains.
    env.pop("NOTIFY_SOCKET")
    for journal in ("self", "other", None):
        log.seek(0)
        log.truncate()
        st = os.fstat(log.fileno())
        ino = st.st_ino + (1 if journal == "other" else 0)
        if journal:
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, ino)
        else:
            env.pop("JOURNAL_STREAM", None)
        p = subprocess.Popen([VHOSTD, "--cores", CPU, "--port",
                              "a=vhost:" + sock, "--reflect", "a",
                              "--log-level", "debug"],
                             env=env, stderr=log)
        for _ in range(200):
            if connects(sock):
                break
            subprocess.run(["sleep", "0.05"])
        p.send_signal(signal.SIGTERM)
        check(p.wait(20) == 0, "vhostd (journal %s) exit 0" % journal)
        log.seek(0)
        lines = log.read().splitlines()
        check(len(lines) > 3, "%d lines logged" % len(lines))
        if journal == "self":
            prio = {"err": "3", "warn": "4", "info": "6", "debug": "7"}
            good = all(l.startswith("<%s>level=%s comp=" % (prio[lv], lv))
                       for l in lines
                       for lv in [l.split("level=", 1)[1].split()[0]])
            check(good, "stderr is the journal: every line '<N>level=...'"
                  " with N its priority: %r" % lines[0])
        else:
            good = all(l.startswith("level=") and " comp=" in l
                       for l in lines)
            check(good, "JOURNAL_STREAM %s: plain 'level=... comp=...' "
                  "lines: %r" % (journal, lines[0]))
    ns.close()

print("PASS: notify and journal" if not fails else "FAIL: %d case(s)" % fails)
sys.exit(1 if fails else 0)
