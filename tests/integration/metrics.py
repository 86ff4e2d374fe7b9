#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""--metrics: vhostd's Prometheus page, read with the official parser.

Usage: metrics.py VHOSTD VU_GEN VHOSTCTL

1. Bad --metrics addresses stop vhostd at start with one line saying why
   (syntax: exit 2 before anything starts; an address that is not local or
   a port in use: exit 1).
2. vhostd with a reflecting port, an idle port and --metrics 127.0.0.1:0;
   vu-gen moves traffic while the page is scraped again and again: every
   family has HELP and TYPE lines and the labels it should, every counter
   only grows, the guest's state follows the front-end.  Meanwhile
   slowloris connections, a garbage sender and a flood of connections
   beyond the limit are open: the control socket (vhostctl) and the page
   keep answering.
3. Once the traffic stopped, every value matches vhostctl stats.
4. Anything but GET/HEAD /metrics is refused (404, 405); vhostd exits 0 on
   SIGTERM.
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from prometheus_client.parser import text_string_to_metric_families

VHOSTD, GEN, VHOSTCTL = sys.argv[1:4]
WORK = tempfile.mkdtemp(prefix="vhostd-metrics-")
CPUS = sorted(os.sched_getaffinity(0))
WK_CPU, GEN_CPU = CPUS[-1], CPUS[0]
PROCS = []   # killed on the way out, whatever happens


def fail(msg):
    print("FAIL:", msg)
    log = os.path.join(WORK, "vhostd.log")
    if os.path.exists(log):
        print("".join(open(log).readlines()[-20:]))
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


# ---- 1. bad addresses --------------------------------------------------

def refused(addr, want_rc, want):
    p = subprocess.run([VHOSTD, "--port", "a=vhost:" + WORK + "/bad.sock",
                        "--cores", str(WK_CPU), "--metrics", addr],
                       capture_output=True, text=True, timeout=20)
    out = p.stdout + p.stderr
    check(p.returncode == want_rc,
          f"--metrics {addr!r}: exit {p.returncode}, want {want_rc}: {out}")
    check(re.search(want, out), f"--metrics {addr!r}: no {want!r} in: {out}")
    check("AddressSanitizer" not in out, f"--metrics {addr!r}: {out}")
    print(f"refused --metrics {addr!r}: {out.strip().splitlines()[-1]}")


def test_bad_addresses():
    syntax = "not ADDR:PORT|port is not|numeric|brackets|longer than"
    for addr in ["", "127.0.0.1", "127.0.0.1:", ":9100", "127.0.0.1:65536",
                 "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x",
                 "localhost:9100", "::1:9100", "[::1:9100", "[]:9100",
                 "1.2.3.4.5:80", "[::1]x:80", "a" * 200 + ":1",
                 "127.0.0.1:99999999999999999999999"]:
        refused(addr, 2, syntax)
    # Well formed, but not an address of this host.
    refused("192.0.2.1:9100", 1, "cannot listen on 192.0.2.1:9100: "
            "Cannot assign requested address")
    # A port someone else listens on.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    refused(f"127.0.0.1:{port}", 1, "Address already in use")
    s.close()
    check(not os.path.exists(WORK + "/bad.sock"),
          "a refused start left its socket file")


# ---- helpers ---------------------------------------------------------------

def request(port, method="GET", path="/metrics", body=None, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def scrape(port):
    """{(name, frozenset(labels)): value} and the families."""
    r, data = request(port)
    check(r.status == 200, f"GET /metrics: {r.status}")
    check(r.getheader("Content-Type", "").startswith("text/plain; version=0.0.4"),
          f"Content-Type {r.getheader('Content-Type')}")
    text = data.decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for f in fams.values():
        check(f.type in ("counter", "gauge"),
              f"family {f.name} is {f.type}: a sample outside its family")
        check(f.documentation, f"family {f.name} has no HELP")
    # Every family in the text has both lines, right before its samples.
    for name in re.findall(r"^# TYPE (\S+) ", text, re.M):
        check(re.search(rf"^# HELP {name} .+\n# TYPE {name} ", text, re.M),
              f"{name}: HELP and TYPE lines")
    vals = {}
    for f in fams.values():
        for s in f.samples:
            vals[(s.name, frozenset(s.labels.items()))] = s.value
    return vals, fams


def vhostctl(ctl, timeout=5):
    t0 = time.monotonic()
    p = subprocess.run([VHOSTCTL, ctl, "stats"], capture_output=True,
                       text=True, timeout=timeout)
    check(p.returncode == 0, f"vhostctl stats: {p.returncode} {p.stderr}")
    return p.stdout, time.monotonic() - t0


def get(vals, name, **labels):
    key = (name, frozenset((k, str(v)) for k, v in labels.items()))
    check(key in vals, f"no sample {name}{labels}")
    return vals[key]


QUEUE = ["vhostd_queue_packets_total", "vhostd_queue_bytes_total",
         "vhostd_queue_notifications_total", "vhostd_queue_broken",
         "vhostd_queue_live", "vhostd_queue_errors_total"]
TX_ONLY = ["vhostd_queue_forwarded_total", "vhostd_queue_drops_total",
           "vhostd_queue_cycles_total", "vhostd_queue_polled_packets_total",
           "vhostd_queue_cycles_per_packet", "vhostd_queue_worker"]
RX_ONLY = ["vhostd_queue_ring_full_total"]
WORKER = ["vhostd_worker_passes_total", "vhostd_worker_packets_total",
          "vhostd_worker_busy_cycles_total", "vhostd_worker_idle_cycles_total",
          "vhostd_worker_cycles_per_packet"]
PORT = ["vhostd_port_info", "vhostd_port_guest_state",
        "vhostd_port_guest_status"]
BRIDGE = ["vhostd_bridge_fdb_entries", "vhostd_bridge_members",
          "vhostd_bridge_fdb_events_total", "vhostd_bridge_frames_total",
          "vhostd_bridge_drops_total"]


def family_of(sample):
    return sample[:-6] if sample.endswith("_total") else sample


def check_families(vals, fams, traffic):
    """Families, their labels, one sample per expected label set."""
    for name in QUEUE + TX_ONLY + RX_ONLY + WORKER + PORT + BRIDGE:
        check(family_of(name) in fams, f"family {name} missing")
    label_sets = {
        "queue": {"port", "queue", "direction"},
        "reason": {"port", "queue", "direction", "reason"},
        "worker": {"worker", "core"},
        "vhostd_bridge_fdb_events_total": {"bridge", "event"},
        "vhostd_bridge_frames_total": {"bridge", "how"},
        "vhostd_bridge_drops_total": {"bridge", "reason"},
    }
    for (name, labels) in vals:
        keys = {k for k, _ in labels}
        if name.startswith("vhostd_queue_"):
            want = label_sets["reason" if name in (
                "vhostd_queue_drops_total", "vhostd_queue_errors_total")
                else "queue"]
            check(keys == want, f"{name}: labels {keys}, want {want}")
            d = dict(labels)["direction"]
            check(not (name in TX_ONLY and d != "tx"), f"{name} on {d}")
            check(not (name in RX_ONLY and d != "rx"), f"{name} on {d}")
        elif name.startswith("vhostd_worker_"):
            check(keys == label_sets["worker"], f"{name}: labels {keys}")
        elif name.startswith("vhostd_bridge_"):
            want = label_sets.get(name, {"bridge"})
            check(keys == want, f"{name}: labels {keys}, want {want}")
    get(vals, "vhostd_port_info", port="r0", type="vhost")
    get(vals, "vhostd_port_info", port="idle0", type="vhost")
    check(get(vals, "vhostd_port_guest_state", port="idle0",
              state="detached") == 1, "idle0 not detached")
    # idle0 is br0's one member; nothing reaches the bridge.
    check(get(vals, "vhostd_bridge_members", bridge="br0") == 1,
          "br0 members")
    check(get(vals, "vhostd_bridge_fdb_entries", bridge="br0") == 0,
          "br0 fdb entries")
    for ev in ["learned", "moved", "aged", "limit", "table_full"]:
        get(vals, "vhostd_bridge_fdb_events_total", bridge="br0", event=ev)
    for how in ["forwarded", "flooded"]:
        get(vals, "vhostd_bridge_frames_total", bridge="br0", how=how)
    get(vals, "vhostd_bridge_drops_total", bridge="br0", reason="vlan")
    if traffic:
        for reason in ["no_peer", "dst_down", "no_rx_buf", "too_big",
                       "abandoned"]:
            get(vals, "vhostd_queue_drops_total", port="r0", queue=0,
                direction="tx", reason=reason)
        # Error reasons appear once they occur (none here).
        check(not any(k[0] == "vhostd_queue_errors_total" for k in vals),
              "an error counted on a healthy ring")


def check_monotonic(before, after):
    for key, v in before.items():
        name = key[0]
        if not name.endswith("_total") or key not in after:
            continue
        check(after[key] >= v, f"counter {name}{dict(key[1])} went back: "
              f"{v} -> {after[key]}")


# ---- hostile clients ------------------------------------------------------

def slowloris(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    return socks


def trickle(socks):
    for s in socks:
        try:
            s.sendall(b"X-a: b\r\n")
        except OSError:
            pass


def nonreaders(port, n):
    """Clients that ask for the page again and again and never read it:
    the server's writes wait on them, nobody else does."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 200)
        except OSError:
            pass
        socks.append(s)
    return socks


def garbage(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        s.sendall(bytes(range(256)) * 8 + b"\r\n\r\n")
        s.settimeout(3)
        reply = s.recv(4096)
    except OSError:
        reply = b""
    s.close()
    check(not reply or re.match(rb"HTTP/1\.[01] 4\d\d", reply),
          f"garbage got {reply[:40]!r}")
    return reply[:12]


def flood(port, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port),
                                                  timeout=2))
        except OSError:
            break
    return socks


# ---- 3. the page against vhostctl ---------------------------------------

def parse_vhostctl(text):
    recs = []
    for line in text.splitlines():
        f = line.split()
        recs.append((f[0], dict(kv.split("=", 1) for kv in f[1:])))
    return recs


def check_against_vhostctl(vals, text):
    n = 0
    for kind, kv in parse_vhostctl(text):
        if kind == "worker":
            lab = dict(worker=kv["id"], core=kv["core"])
            check(get(vals, "vhostd_worker_packets_total", **lab) ==
                  int(kv["packets"]), "worker packets differ")
            check(get(vals, "vhostd_worker_busy_cycles_total", **lab) ==
                  int(kv["busy_cycles"]), "worker busy cycles differ")
            cpp = get(vals, "vhostd_worker_cycles_per_packet", **lab)
            check(abs(cpp - float(kv["cycles_per_packet"])) <= 0.1 +
                  cpp * 1e-5, f"cycles/packet {cpp} vs {kv}")
            n += 1
        if kind != "queue":
            continue
        ring = int(kv["ring"])
        lab = dict(port=kv["port"], queue=ring // 2, direction=kv["dir"])
        pairs = [("vhostd_queue_packets_total", "packets"),
                 ("vhostd_queue_bytes_total", "bytes"),
                 ("vhostd_queue_broken", "broken"),
                 ("vhostd_queue_live", "live")]
        if kv["dir"] == "tx":
            pairs.append(("vhostd_queue_forwarded_total", "forwarded"))
            for k in kv:
                if k.startswith("drop_"):
                    check(get(vals, "vhostd_queue_drops_total", **lab,
                              reason=k[5:]) == int(kv[k]), f"{k} differs")
        else:
            pairs += [("vhostd_queue_ring_full_total", "ring_full"),
                      ("vhostd_queue_notifications_total", "notifications")]
        for k in kv:
            if k.startswith("error_"):
                check(get(vals, "vhostd_queue_errors_total", **lab,
                          reason=k[6:]) == int(kv[k]), f"{k} differs")
        for metric, key in pairs:
            check(get(vals, metric, **lab) == int(kv[key]),
                  f"{metric}{lab} = {get(vals, metric, **lab)}, "
                  f"vhostctl {key}={kv[key]}")
            n += 1
    return n


# ---- 2. traffic ---------------------------------------------------------

def main():
    test_bad_addresses()
    ctl = WORK + "/ctl"
    log = open(WORK + "/vhostd.log", "w")
    vd = subprocess.Popen([VHOSTD, "--port", f"r0=vhost:{WORK}/r0.sock",
                           "--reflect", "r0",
                           "--bridge", "br0",
                           "--port", f"idle0=vhost:{WORK}/idle0.sock,bridge=br0",
                           "--cores", str(WK_CPU), "--control", ctl,
                           "--metrics", "127.0.0.1:0"],
                          stdout=log, stderr=subprocess.STDOUT)
    PROCS.append(vd)
    port = None
    for _ in range(100):
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics",
                      open(WORK + "/vhostd.log").read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    check(port, "no 'serving http://...' line")
    print(f"vhostd serves http://127.0.0.1:{port}/metrics")

    vals, fams = scrape(port)
    check_families(vals, fams, traffic=False)
    check(get(vals, "vhostd_port_guest_state", port="r0", state="detached")
          == 1, "r0 not detached before the front-end")

    # Hostile clients stay connected throughout the traffic.
    lazy = slowloris(port, 4) + nonreaders(port, 4)
    print("garbage request answered:", garbage(port))
    gen = subprocess.Popen([GEN, "--backend", "vhostd", "--core",
                            str(GEN_CPU), "--duration", "3",
                            "--rate-mpps", "0.2", WORK + "/r0.sock"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    PROCS.append(gen)
    prev, scrapes, running_seen, worst_ctl = vals, 0, False, 0.0
    deadline = time.monotonic() + 30
    while gen.poll() is None and time.monotonic() < deadline:
        trickle(lazy)
        cur, fams = scrape(port)
        check_monotonic(prev, cur)
        if get(cur, "vhostd_port_guest_state", port="r0",
               state="running") == 1:
            running_seen = True
            check_families(cur, fams, traffic=True)
        _, dt = vhostctl(ctl)
        worst_ctl = max(worst_ctl, dt)
        prev, scrapes = cur, scrapes + 1
        time.sleep(0.2)
    out = gen.communicate(timeout=30)[0]
    check(gen.returncode == 0, f"vu-gen failed: {out}")
    # Loss is not the point here (a host too busy to run the worker for a
    # while loses what was in flight at the end): every frame that came
    # back must be intact, and some must have.
    res = re.search(r"^RESULT.*", out, re.M)
    check(res and " bad=0 " in res.group(0) and " rx=0 " not in res.group(0),
          f"vu-gen: {out}")
    check(running_seen, "r0 never seen running")
    check(scrapes >= 5, f"only {scrapes} scrapes during traffic")
    print(f"{scrapes} scrapes during traffic, counters monotonic; "
          f"slowest vhostctl stats {worst_ctl * 1000:.0f} ms")
    check(worst_ctl < 1.0, f"vhostctl took {worst_ctl:.2f} s")

    # More connections than the server takes: the rest of vhostd does not
    # notice, and the page comes back once they are gone.
    many = flood(port, 80)
    _, dt = vhostctl(ctl)
    check(dt < 1.0, f"vhostctl took {dt:.2f} s during the flood")
    print(f"flood of {len(many)} connections: vhostctl in {dt * 1000:.0f} ms")
    for s in many + lazy:
        s.close()
    time.sleep(0.3)

    # 3. Traffic stopped (the front-end left): the page equals vhostctl.
    # On a starved host vhostd may see the hang-up a little later.
    for _ in range(100):
        after, fams = scrape(port)
        check_monotonic(prev, after)
        if get(after, "vhostd_port_guest_state", port="r0",
               state="detached") == 1:
            break
        time.sleep(0.05)
    text, _ = vhostctl(ctl)
    after, _ = scrape(port)
    n = check_against_vhostctl(after, text)
    check(n >= 10, f"only {n} values compared")
    pk = get(after, "vhostd_queue_packets_total", port="r0", queue=0,
             direction="tx")
    check(pk > 0, "no packets counted")
    # One path on one worker: its polls are all the worker moved.
    wk = dict(worker="0", core=str(WK_CPU))
    polled = get(after, "vhostd_queue_polled_packets_total", port="r0",
                 queue=0, direction="tx")
    check(polled == get(after, "vhostd_worker_packets_total", **wk),
          "queue polled packets != worker packets")
    qcy = get(after, "vhostd_queue_cycles_total", port="r0", queue=0,
              direction="tx")
    check(0 < qcy <= get(after, "vhostd_worker_busy_cycles_total", **wk),
          "queue cycles not within the worker's busy cycles")
    check(get(after, "vhostd_queue_cycles_per_packet", port="r0", queue=0,
              direction="tx") > 0, "no cycles/packet")
    check(get(after, "vhostd_worker_idle_cycles_total", **wk) > 0,
          "no idle cycles")
    check(get(after, "vhostd_port_guest_state", port="r0", state="detached")
          == 1, "r0 not detached 5 s after the front-end left")
    print(f"{n} values equal to vhostctl stats; r0 tx: {int(pk)} packets, "
          f"{qcy / polled:.0f} cycles/packet")

    # 4. Only GET/HEAD /metrics.
    for method, path, code in [("GET", "/", 404), ("GET", "/metricsx", 404),
                               ("GET", "/metrics?x=1", 200),
                               ("POST", "/metrics", 405),
                               ("PUT", "/metrics", 405),
                               ("DELETE", "/metrics", 405),
                               ("HEAD", "/metrics", 200)]:
        r, data = request(port, method, path,
                       body=b"x" * 100 if method in ("POST", "PUT") else None)
        check(r.status == code, f"{method} {path}: {r.status}, want {code}")
        if code == 405:
            check(r.getheader("Allow") == "GET, HEAD", "no Allow header")
        if method == "HEAD":
            check(data == b"", "HEAD has a body")
    # Headers beyond the connection's memory: refused, vhostd fine.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nX-big: " + b"a" * 65536 +
                  b"\r\n\r\n")
        reply = s.recv(64)
    except OSError:
        reply = b""
    s.close()
    check(not reply.startswith(b"HTTP/1.1 200"), f"huge header: {reply!r}")
    print("404/405/HEAD as they should; huge header:", reply[:12])
    scrape(port)

    vd.send_signal(signal.SIGTERM)
    rc = vd.wait(timeout=20)
    log.close()
    check(rc == 0, f"vhostd exit {rc}")
    text = open(WORK + "/vhostd.log").read()
    check("Sanitizer" not in text and "runtime error" not in text,
          "sanitizer report in vhostd's log")
    print("PASS: --metrics")


try:
    main()
finally:
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()
    subprocess.run(["rm", "-rf", WORK])
