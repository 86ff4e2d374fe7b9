#!/usr/bin/env python3
"""Where a restarted vhostd's CPU time goes, piece by piece, independent of
the host's load (on-CPU time only: cpu-clock samples, 10 kHz, with call
stacks).

Runs tests/integration/test_fdstore (the fd-store restarts: split,
mergeable, packed, listening; VHOSTD_RESTARTS each) under `perf record`,
then sorts every sample of every vhostd process by the piece of start-up
(or stop) its call stack is in, and prints milliseconds per process.

Usage: perf/restart_cpu.py BUILD_DIR [RESTARTS] [VHOSTD_BUILD_DIR]
(root: perf needs it; the test from BUILD_DIR, vhostd and vhostctl from
VHOSTD_BUILD_DIR, default the same: another build's vhostd is measured
by the same test)
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

# First match wins: vhostd's own functions, then where the process is.
MAIN = [("stop (SIGTERM: halt, last record)", ["stop_all", "fdstore_last_records"]),
        ("state record read (CRC)", ["get_slot", "vu_state_get"]),
        ("state record write (CRC)", ["vu_state_put"]),
        ("device rebuild (memory, rings)", ["vu_state_apply", "vu_mem_set_table", "rebuild"]),
        ("dp_init (workers, per-queue state)", ["dp_init"]),
        ("sw_run (ports)", ["sw_run"]),
        ("main, other", ["main+", "main ("])]


def piece(stack):
    j = "\n".join(stack)
    for name, subs in MAIN:
        if any(s in j for s in subs):
            return name
    if any(s in j for s in ["bprm_execve", "load_elf_binary", "__x64_sys_execve"]):
        return "kernel: execve"
    if any(s in j for s in ["do_exit", "exit_mmap", "do_group_exit"]):
        return "kernel: exit"
    if "_dl_init" in j or "call_init" in j:
        return "library constructors"
    if "ld-linux" in j:
        return "ld.so: map and relocate libraries"
    user = [f for f in stack if "kernel.kallsyms" not in f]
    dso = re.search(r"\((\S+)\)$", user[0]).group(1) if user else ""
    if "/libc.so" in dso:
        return "libc (stack not followed)"
    if ".so" in dso:
        return "other libraries (constructors, mostly)"
    return "main, other" if dso.endswith("vhostd") else "other"


def main():
    build = sys.argv[1]
    restarts = sys.argv[2] if len(sys.argv) > 2 else "20"
    vbuild = sys.argv[3] if len(sys.argv) > 3 else build
    with tempfile.TemporaryDirectory(prefix="vhostd-cpu.") as tmp:
        data = os.path.join(tmp, "perf.data")
        env = dict(os.environ, VHOSTD_RESTARTS=restarts)
        r = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F",
                            "10000", "-g", "-o", data, "--",
                            build + "/tests/integration/test_fdstore",
                            vbuild + "/control/vhostd",
                            vbuild + "/control/vhostctl"],
                           env=env, capture_output=True, text=True)
        if r.returncode:
            sys.exit("test_fdstore failed:\n" + r.stdout + r.stderr)
        out = subprocess.run(["perf", "script", "-i", data, "-F",
                              "comm,pid,tid,ip,sym,dso", "--comm",
                              "vhostd,vhostd-wk0"], capture_output=True,
                             text=True).stdout
    procs = collections.defaultdict(list)
    cur = None
    for line in out.splitlines():
        if line and not line.startswith("\t") and line.strip():
            f = line.split()
            cur = (f[0], [])
            procs[f[1].split("/")[0]].append(cur)
        elif line.startswith("\t") and cur:
            cur[1].append(line.strip())
    n = len(procs)
    tot = collections.Counter()
    for samples in procs.values():
        for comm, stack in samples:
            tot["worker thread (all its life)" if comm != "vhostd"
                else piece(stack)] += 1
    ms = 0.1  # one sample at 10 kHz
    print("%d vhostd processes (%s restarts x 4 kinds + first starts and "
          "refusal cases); on-CPU ms per process:" % (n, restarts))
    main_ms = 0
    for k, v in tot.most_common():
        print("  %-42s %6.2f" % (k, v * ms / n))
        if not k.startswith("worker"):
            main_ms += v * ms / n
    print("  %-42s %6.2f" % ("main thread, total", main_ms))


main()
