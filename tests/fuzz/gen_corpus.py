#!/usr/bin/env python3
"""Writes the seed corpora of the ring fuzzers (corpus/vq-split,
corpus/vq-packed) and of fuzz-vnet and fuzz-vu-msg (corpus/vnet,
corpus/vu-msg): well-formed rings and messages, and a few hostile ones,
in the input formats the harnesses' comments describe, and the hand-made
regression inputs of regress/vu-msg.  Run from tests/fuzz: python3 gen_corpus.py (it rewrites
those files)."""
import os
import struct

A = 0x10000
B = A + 0x4000
DESC, AVAIL, USED = 0x0, 0x800, 0xa00
ITBL = A + 0xe80                       # indirect tables
F_NEXT, F_WRITE, F_IND = 1, 2, 4
P_AVAIL, P_USED = 1 << 7, 1 << 15
EVENT, INDIRECT, MRG, IN_ORDER, TX, LOG, LOG_USED, CALL = (1 << i for i in range(8))


def out(target, name, data):
    d = os.path.join('corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


class Mem:
    def __init__(self):
        self.b = bytearray(0x5000)
        self.used = 0

    def put(self, gpa, data):
        off = gpa - A
        self.b[off:off + len(data)] = data
        self.used = max(self.used, off + len(data))

    def image(self):
        return bytes(self.b[:self.used])


def op(code, a=0, b=0):
    return struct.pack('<BBH', code, a, b)


DEQ = lambda n: op(0, n - 1)
RSV = lambda ln, mx, sh=0: op(1, (mx - 1) | sh << 5, ln)
USE = lambda n, ln=0xffff: op(2, n - 1, ln)
UNRSV, FLUSH, REINIT = op(3), op(4), op(7)
PREF = lambda n: op(5, n - 1)


def gwrite(gpa, v):
    off = gpa - A
    return op(6, off >> 8, (off & 0xff) | v << 8)


def vq_input(size_code, fl, fl2, last_avail, used_idx, ops, mem):
    return (struct.pack('<BBBHHB', size_code, fl, fl2, last_avail, used_idx,
                        len(ops)) + b''.join(ops) + mem.image())


def sdesc(m, i, addr, ln, flags, nxt=0, table=A + DESC):
    m.put(table + 16 * i, struct.pack('<QIHH', addr, ln, flags, nxt))


def savail(m, heads, idx=None):
    m.put(A + AVAIL, struct.pack('<HH', 0, len(heads) if idx is None else idx))
    for i, h in enumerate(heads):
        m.put(A + AVAIL + 4 + 2 * i, struct.pack('<H', h))


def split_seeds():
    t = 'vq-split'
    m = Mem()                              # TX: three simple chains
    for i in range(3):
        sdesc(m, i, A + 0x1000 + 0x400 * i, 100 + i, 0)
    savail(m, [0, 1, 2])
    out(t, 'tx-simple', vq_input(3, TX | CALL, 0, 0, 0,
                                 [DEQ(8), USE(3), FLUSH], m))
    m = Mem()                              # TX chain straddling A and B
    sdesc(m, 0, A + 0x1000, 14, F_NEXT, 1)
    sdesc(m, 1, B - 0x80, 0x100, F_NEXT, 2)
    sdesc(m, 2, B + 0x100, 60, 0)
    savail(m, [0])
    out(t, 'tx-chain-straddle', vq_input(3, TX | EVENT, 0, 0, 0,
                                         [DEQ(4), USE(1), FLUSH], m))
    m = Mem()                              # TX indirect table
    sdesc(m, 0, ITBL, 48, F_IND)
    for i in range(3):
        sdesc(m, i, A + 0x1000 + 0x100 * i, 64, F_NEXT if i < 2 else 0,
              i + 1, table=ITBL)
    savail(m, [0])
    out(t, 'tx-indirect', vq_input(3, TX | INDIRECT | LOG | LOG_USED, 0,
                                   0, 0, [DEQ(2), USE(1), FLUSH], m))
    m = Mem()                              # RX: one buffer per packet
    for i in range(4):
        sdesc(m, i, A + 0x1000 + 0x800 * i, 0x800, F_WRITE)
    savail(m, [0, 1, 2, 3])
    out(t, 'rx-simple', vq_input(4, CALL, 4, 0, 0,
                                 [PREF(4), RSV(1514, 1), RSV(60, 1),
                                  USE(2, 1514), FLUSH, RSV(3000, 1)], m))
    out(t, 'rx-mergeable', vq_input(4, MRG | EVENT | LOG | LOG_USED, 0, 0,
                                    0, [RSV(5000, 8), USE(3, 0x800), FLUSH,
                                        RSV(100, 4), UNRSV, RSV(100, 4),
                                        USE(1, 100), FLUSH], m))
    out(t, 'rx-wrap-index', vq_input(2, MRG, 0, 0xfffe, 0xfffe,
                                     [RSV(100, 1), RSV(100, 1), USE(2, 50),
                                      FLUSH], _wrapped(m)))
    m = Mem()                              # hostile: a descriptor loop
    sdesc(m, 0, A + 0x1000, 10, F_NEXT, 1)
    sdesc(m, 1, A + 0x1100, 10, F_NEXT, 0)
    savail(m, [0])
    out(t, 'hostile-loop', vq_input(3, TX, 0, 0, 0, [DEQ(1), DEQ(1)], m))
    m = Mem()                              # hostile: head out of range
    savail(m, [9])
    out(t, 'hostile-head', vq_input(3, TX, 4, 0, 0, [DEQ(1), FLUSH], m))
    m = Mem()                              # hostile: avail idx jumps
    savail(m, [], idx=300)
    out(t, 'hostile-avail-jump', vq_input(3, 0, 4, 0, 0,
                                          [RSV(64, 1)], m))
    m = Mem()                              # hostile: buffer out of memory
    sdesc(m, 0, 0xfffffffffffffff0, 0x20, 0)
    savail(m, [0])
    out(t, 'hostile-wrap-addr', vq_input(3, TX, 0, 0, 0, [DEQ(1)], m))
    m = Mem()                              # guest rewrites next under us
    sdesc(m, 0, A + 0x1000, 10, F_NEXT, 1)
    sdesc(m, 1, A + 0x1100, 10, 0)
    savail(m, [0, 0], idx=1)
    out(t, 'guest-write-reinit', vq_input(
        3, TX, 0, 0, 0, [DEQ(1), USE(1), FLUSH, gwrite(A + 14, 0),
                         gwrite(A + AVAIL + 2, 2), REINIT, DEQ(2)], m))


def _wrapped(m):
    n = Mem()
    n.b[:] = m.b
    n.used = m.used
    n.put(A + AVAIL, struct.pack('<HH', 0, 0x0002))
    n.put(A + AVAIL + 4, struct.pack('<HHHH', 0, 1, 2, 3))
    return n


def pdesc(m, i, addr, ln, bid, flags, wrap=1, table=A + DESC):
    """Descriptor i, available for a driver wrap counter of wrap."""
    flags |= P_AVAIL if wrap else P_USED
    m.put(table + 16 * i, struct.pack('<QIHH', addr, ln, bid, flags))


def packed_seeds():
    t = 'vq-packed'
    m = Mem()                              # TX: three simple buffers
    for i in range(3):
        pdesc(m, i, A + 0x1000 + 0x400 * i, 100 + i, i, 0)
    out(t, 'tx-simple', vq_input(7, TX | CALL, 1, 0, 0,
                                 [DEQ(8), USE(3), FLUSH], m))
    m = Mem()                              # TX chain of three, straddling
    pdesc(m, 0, A + 0x1000, 14, 5, F_NEXT)
    pdesc(m, 1, B - 0x80, 0x100, 5, F_NEXT)
    pdesc(m, 2, B + 0x100, 60, 5, 0)
    out(t, 'tx-chain-straddle', vq_input(7, TX | EVENT, 1, 0, 0,
                                         [DEQ(4), USE(1), FLUSH], m))
    m = Mem()                              # TX indirect table
    pdesc(m, 0, ITBL, 48, 3, F_IND)
    for i in range(3):
        m.put(ITBL + 16 * i,
              struct.pack('<QIHH', A + 0x1000 + 0x100 * i, 64, 0, 0))
    out(t, 'tx-indirect', vq_input(7, TX | INDIRECT | LOG | LOG_USED, 1,
                                   0, 0, [DEQ(2), USE(1), FLUSH], m))
    out(t, 'tx-in-order', vq_input(7, TX | IN_ORDER | INDIRECT, 1, 0, 0,
                                   [DEQ(2), USE(1), FLUSH], m))
    m = Mem()                              # RX: one buffer per packet
    for i in range(4):
        pdesc(m, i, A + 0x1000 + 0x800 * i, 0x800, i, F_WRITE)
    out(t, 'rx-simple', vq_input(3, CALL, 1 | 4, 0, 0,
                                 [PREF(4), RSV(1514, 1), RSV(60, 1),
                                  USE(2, 1514), FLUSH, RSV(3000, 1)], m))
    out(t, 'rx-mergeable', vq_input(3, MRG | EVENT | LOG | LOG_USED, 1, 0, 0,
                                    [RSV(5000, 8), USE(3, 0x800), FLUSH,
                                     RSV(100, 4), UNRSV, RSV(100, 4),
                                     USE(1, 100), FLUSH], m))
    m = Mem()                              # RX across the wrap: size 4
    pdesc(m, 3, A + 0x1000, 0x800, 0, F_WRITE)
    for i in range(3):
        pdesc(m, i, A + 0x1800 + 0x800 * i, 0x800, i + 1, F_WRITE, wrap=0)
    out(t, 'rx-across-wrap', vq_input(3, MRG, 1 | 2, 3, 3,
                                      [RSV(3000, 4), USE(2, 0x800), FLUSH,
                                       RSV(100, 1)], m))
    m = Mem()                              # hostile: lying wrap counter
    pdesc(m, 0, A + 0x1000, 10, 0, 0, wrap=0)
    out(t, 'hostile-wrap-lie', vq_input(7, TX, 1, 0, 0, [DEQ(1)], m))
    m = Mem()                              # hostile: chain runs into an
    pdesc(m, 0, A + 0x1000, 10, 0, F_NEXT)  # unavailable descriptor
    out(t, 'hostile-chain-avail', vq_input(7, TX, 1, 0, 0, [DEQ(1)], m))
    m = Mem()                              # hostile: big buffer id,
    pdesc(m, 0, A + 0x1000, 10, 0xffff, 0)  # indirect in a chain
    pdesc(m, 1, ITBL, 16, 1, F_NEXT)
    pdesc(m, 2, ITBL, 16, 1, F_IND)
    out(t, 'hostile-id-indirect', vq_input(7, TX | INDIRECT, 1, 0, 0,
                                           [DEQ(4), USE(2), FLUSH], m))
    m = Mem()                              # flags flip under vhostd
    for i in range(2):
        pdesc(m, i, A + 0x1000 + 0x100 * i, 10, i, 0)
    out(t, 'guest-write-reinit', vq_input(
        7, TX, 1, 0, 0, [DEQ(1), gwrite(A + 16 + 15, 0), DEQ(1), USE(1),
                         FLUSH, REINIT, DEQ(2)], m))


# ---- fuzz-vnet: set-up, then (len, cut, virtio-net header + frame)...
def vnet_hdr(flags=0, gso_type=0, hdr_len=0, gso_size=0, cs=0, co=0,
             mrg=True):
    h = struct.pack('<BBHHHH', flags, gso_type, hdr_len, gso_size, cs, co)
    return h + (b'\0\0' if mrg else b'')


def eth(t=0x0800, vlan=False):
    e = bytes.fromhex('525400000002525400000001')
    if vlan:
        e += struct.pack('!HH', 0x8100, 5)
    return e + struct.pack('!H', t)


def ipv4(plen, proto=6):
    return struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + plen, 1, 0x4000, 64,
                       proto, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))


def ipv6(plen, nh=6):
    return (struct.pack('!IHBB', 0x60000000, plen, nh, 64) +
            bytes(15) + b'\1' + bytes(15) + b'\2')


def tcp(flags=0x18, opts=b''):
    return struct.pack('!HHIIBBHHH', 1234, 80, 1000, 0,
                       (5 + len(opts) // 4) << 4, flags, 65535, 0, 0) + opts


def udp(plen):
    return struct.pack('!HHHH', 53, 53, 8 + plen, 0)


def vnet_input(snd, rcv, fl, nrx, rxsz, pkts):
    b = struct.pack('<BBBBH', snd, rcv, fl, nrx - 1, rxsz - 14)
    for cut, p in pkts:
        b += struct.pack('<HB', len(p), cut) + p
    return b


def vnet_seeds():
    t = 'vnet'
    CS, T4, T6, VALID = 1, 2, 4, 8
    H12, MRGF, D12, REFL, NODST, ALIAS, RX2, EV = (1 << i for i in range(8))
    pay = bytes(range(256)) * 4
    udp_pkt = vnet_hdr() + eth() + ipv4(8 + 64, 17) + udp(64) + pay[:64]
    out(t, 'plain-udp', vnet_input(0, 0, H12 | D12, 4, 2048,
                                   [(1, udp_pkt), (4 << 2 | 2, udp_pkt)]))
    out(t, 'plain-hdr10', vnet_input(0, 0, 0, 4, 2048,
                                     [(0, vnet_hdr(mrg=False) + eth() +
                                       ipv4(72, 17) + udp(64) + pay[:64])]))
    csum_pkt = (vnet_hdr(1, 0, 0, 0, 34, 16) + eth() + ipv4(20 + 200) +
                tcp() + pay[:200])
    out(t, 'csum-sw', vnet_input(CS, 0, H12 | D12, 4, 2048,
                                 [(0, csum_pkt), (3 | 13 << 2, csum_pkt)]))
    out(t, 'csum-pass', vnet_input(CS, CS, H12 | D12, 4, 2048,
                                   [(0, csum_pkt)]))
    udp_cs = (vnet_hdr(1, 0, 0, 0, 34, 6) + eth() + ipv4(8 + 100, 17) +
              udp(100) + pay[:100])
    out(t, 'csum-udp', vnet_input(CS, 0, H12 | MRGF, 2, 2048,
                                  [(2 | 20 << 2, udp_cs)]))
    tso4 = (vnet_hdr(1, 1, 54, 536, 34, 16) + eth() + ipv4(20 + 2000) +
            tcp() + (pay * 2)[:2000])
    out(t, 'tso4-sw', vnet_input(CS | T4, 0, H12 | D12, 8, 1600,
                                 [(1 | 30 << 2, tso4)]))
    out(t, 'tso4-mrg', vnet_input(CS | T4, 0, H12 | MRGF | RX2, 16, 512,
                                  [(3 | 1 << 2, tso4)]))
    out(t, 'tso4-pass', vnet_input(CS | T4, CS | T4, H12 | MRGF, 4, 1024,
                                   [(0, tso4)]))
    tso6 = (vnet_hdr(1, 4, 74, 700, 54, 16) + eth(0x86dd) + ipv6(20 + 1500) +
            tcp(0x19) + (pay * 2)[:1500])
    out(t, 'tso6-sw', vnet_input(CS | T6, 0, H12 | D12 | EV, 8, 1600,
                                 [(2 | 14 << 2, tso6)]))
    vlan = (vnet_hdr(1, 1, 58, 500, 38, 16) + eth(vlan=True) +
            ipv4(32 + 1200) + tcp(0x10, b'\x01\x01\x08\x0a' + bytes(8)) +
            (pay * 2)[:1200])
    out(t, 'tso4-vlan-opts', vnet_input(CS | T4, 0, H12 | D12, 8, 1600,
                                        [(0, vlan)]))
    out(t, 'tso4-ecn-reflect', vnet_input(
        CS | T4, 0, H12 | D12 | REFL, 8, 1600,
        [(0, vnet_hdr(1, 0x81, 54, 600, 34, 16) + eth() + ipv4(20 + 1300) +
          tcp() + (pay * 2)[:1300])]))
    out(t, 'valid-port', vnet_input(VALID, CS, H12 | D12, 2, 2048,
                                    [(0, vnet_hdr(2) + eth() + ipv4(72, 17) +
                                      udp(64) + pay[:64])]))
    out(t, 'bad-csum-offset', vnet_input(CS, 0, H12 | D12, 2, 2048,
                                         [(0, vnet_hdr(1, 0, 0, 0, 300, 16) +
                                           eth() + ipv4(40) + tcp())]))
    out(t, 'bad-gso-not-negotiated', vnet_input(
        CS, 0, H12 | D12, 2, 2048, [(0, tso4)]))
    out(t, 'gso-udp-unsupp', vnet_input(
        CS | T4, 0, H12 | D12, 2, 2048,
        [(0, vnet_hdr(1, 3, 42, 500, 34, 6) + eth() + ipv4(8 + 1200, 17) +
          udp(1200) + (pay * 2)[:1200])]))
    out(t, 'short-hdr', vnet_input(0, 0, H12 | D12, 2, 2048,
                                   [(0, b'\0' * 6)]))
    out(t, 'no-dst', vnet_input(0, 0, H12 | NODST, 2, 2048,
                                [(0, udp_pkt)]))
    out(t, 'no-rx-room', vnet_input(0, 0, H12 | D12, 1, 40, [(0, udp_pkt)]))
    out(t, 'alias-rx-tx', vnet_input(0, 0, H12 | D12 | ALIAS, 2, 200,
                                     [(0, udp_pkt)]))


# ---- fuzz-vu-msg: a settings byte, then records (ctl, header, body,
# optional fill of the first memfd).
UVA = 0x7f0000000000
NEED_REPLY = 8
PROTO = ((1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) |
         (1 << 9) | (1 << 13) | (1 << 15) | (1 << 16))
FEAT = (1 << 32) | (1 << 30) | (1 << 15) | (1 << 29) | (1 << 28) | (1 << 0) \
    | (1 << 1) | (1 << 11) | (1 << 7)


def rec(req, body=b'', nfds=0, flags=1, ctl=0, fill=None):
    c = nfds | ctl | (0x20 if fill is not None else 0)
    r = struct.pack('<BIII', c, req, flags, len(body)) + body
    if fill is not None:
        r += struct.pack('<H', len(fill)) + fill
    return r


def u64(v):
    return struct.pack('<Q', v)


def state(i, n):
    return struct.pack('<II', i, n)


def region(gpa, size, uva, off):
    return struct.pack('<QQQQ', gpa, size, uva, off)


def guest_rings(packed):
    m = bytearray(0x248)
    pkt = bytes(12) + bytes.fromhex('ffffffffffff525400000001') + \
        b'\x08\x06' + bytes(46)
    m[0x200:0x200 + len(pkt)] = pkt
    if not packed:
        m[0x000:0x010] = struct.pack('<QIHH', 0x400, 0x400, F_WRITE, 0)
        m[0x040:0x046] = struct.pack('<HHH', 0, 1, 0)
        m[0x100:0x110] = struct.pack('<QIHH', 0x200, len(pkt), 0, 0)
        m[0x140:0x146] = struct.pack('<HHH', 0, 1, 0)
    else:
        m[0x000:0x010] = struct.pack('<QIHH', 0x400, 0x400, 0,
                                     F_WRITE | P_AVAIL)
        m[0x100:0x110] = struct.pack('<QIHH', 0x200, len(pkt), 0, P_AVAIL)
    return bytes(m)


def ring_up(i, base, num=4, kick=True):
    a = UVA + base
    addr = struct.pack('<IIQQQQ', i, 0, a, a + 0x80, a + 0x40, 0)
    r = rec(8, state(i, num)) + rec(9, addr) + rec(10, state(i, 0))
    r += rec(13, u64(i), nfds=1)
    r += rec(12, u64(i), nfds=1) if kick else b''
    return r + rec(18, state(i, 1))


def handshake(feat=FEAT, proto=PROTO, packed=False, mem=True):
    r = rec(1) + rec(3) + rec(15) + rec(16, u64(proto)) + rec(2, u64(feat))
    if mem:
        r += rec(5, struct.pack('<II', 1, 0) +
                 region(0, 0x10000, UVA, 0), nfds=1, flags=1 | NEED_REPLY,
                 fill=guest_rings(packed))
    return r


def vu_seeds():
    t = 'vu-msg'
    rings = ring_up(0, 0) + ring_up(1, 0x100)
    out(t, 'split-reflect', b'\0' + handshake() + rings +
        rec(11, state(1, 0)) + rec(11, state(0, 0)))
    out(t, 'packed-reflect', b'\0' + handshake(FEAT | 1 << 34, packed=True) +
        rings + rec(11, state(1, 0)))
    out(t, 'features-flip', b'\0' + handshake() + rings +
        rec(2, u64(FEAT | 1 << 34), flags=1 | NEED_REPLY))
    out(t, 'log-base', b'\0' + handshake(FEAT | 1 << 26) + rings +
        rec(6, struct.pack('<QQ', 0x1000, 0), nfds=1) + rec(7, nfds=1))
    out(t, 'mem-slots', b'\0' + handshake(mem=False) + rec(36) +
        rec(37, u64(0) + region(0, 0x10000, UVA, 0), nfds=1,
            fill=guest_rings(False)) + rings +
        rec(38, u64(0) + region(0, 0x10000, UVA, 0)))
    cfg = struct.pack('<III', 0, 12, 0)
    out(t, 'config', b'\0' + handshake(mem=False) + rec(24, cfg + bytes(12)) +
        rec(25, struct.pack('<III', 0, 6, 0) + bytes.fromhex('02aabbccddee'),
            flags=1 | NEED_REPLY))
    out(t, 'misc', b'\1' + handshake(mem=False) + rec(17) +
        rec(19, bytes.fromhex('025400000001') + b'\0\0') +
        rec(20, u64(9000)) + rec(39, u64(15)) + rec(40) + rec(21, nfds=1) +
        rec(34) + rec(4))
    out(t, 'refused', b'\0' + rec(2, u64(FEAT)) + rec(3) + rec(22, bytes(8)) +
        rec(5, struct.pack('<II', 9, 0), nfds=9) + rec(9, bytes(40)) +
        rec(0x7fffffff) + rec(1, flags=4))
    out(t, 'oversize', b'\0' + rec(3) + struct.pack('<BIII', 0, 1, 1, 0x10000))
    out(t, 'half-then-eof', b'\0' + rec(3) + rec(16, u64(PROTO))[:-4])
    out(t, 'reconnect', b'\0' + handshake() + rings +
        rec(11, state(1, 0), ctl=0x40) + rec(3, ctl=0x80) + rec(1))
    out(t, 'qp2-kick-nofd', b'\1' + handshake() + rings +
        ring_up(2, 0, kick=False) + rec(12, u64(2 | 0x100)) +
        ring_up(3, 0x100))


def regress_inputs():
    """A ring layout flipped under set-up rings and a refused SET_CONFIG
    that changed the MAC, which fuzz-vu-msg's checks catch."""
    d = os.path.join('regress', 'vu-msg')
    os.makedirs(d, exist_ok=True)
    # Item 1: a packed ring with its event areas at the end of the 64 KiB
    # region, then SET_FEATURES without RING_PACKED: the split rings the
    # datapath would build lie past the region.
    a = UVA
    r = b'\0' + handshake(FEAT | 1 << 34, packed=True)
    for i, (dsc, drv, dev) in enumerate(((0x100, 0xfff8, 0xfffc),
                                         (0x200, 0xfff0, 0xfff4))):
        r += rec(8, state(i, 4)) + rec(9, struct.pack(
            '<IIQQQQ', i, 0, a + dsc, a + dev, a + drv, 0))
        r += rec(10, state(i, 0)) + rec(13, u64(i), nfds=1)
        r += rec(12, u64(i), nfds=1) + rec(18, state(i, 1))
    r += rec(2, u64(FEAT), flags=1 | NEED_REPLY)
    with open(os.path.join(d, 'features-flip-packed-to-split-at-region-end'),
              'wb') as f:
        f.write(r)
    # Item 6: SET_CONFIG (migration flag) with a new MAC and MTU 0:
    # refused, and the MAC must not have changed.
    body = struct.pack('<III', 0, 12, 1) + bytes.fromhex('02aabbccddee') + \
        struct.pack('<HHH', 1, 1, 0)
    r = b'\0' + handshake(mem=False) + rec(25, body, flags=1 | NEED_REPLY)
    with open(os.path.join(d, 'set-config-refused-changes-mac'), 'wb') as f:
        f.write(r)


if __name__ == '__main__':
    split_seeds()
    packed_seeds()
    vnet_seeds()
    vu_seeds()
    regress_inputs()
