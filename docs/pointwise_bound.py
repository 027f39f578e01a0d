"""The fewest modelled Cortex-M4 cycles any schedule of a pointwise conv's SMLAD loop can take (issue 8's
"<= 1.0 cycle/MAC" target; docs/kernels.md), by exhaustive search -- evidence, not part of the harness.

The model is the engine's M4 cost rules that matter here (TRM, tests/test_cycles.py): an LDR right after
an LDR costs 1 cycle, any other 2; SMLAD and SXTB16 cost 1. A block of C output channels x P pixels keeps
C*P accumulators; 2 more registers are the input and weight pointers, so F = 12 - C*P registers hold
operand words (r0-r12 and lr are the 14 a Thumb function may use). Loop control, requantization and
stores are left out: the figure is a floor for the MAC loop alone.

Operands, per group of 4 taps (two tap pairs): each pixel's im2col words (int16 pairs, one load each);
each channel's weights, either int16 pairs in flash (`--int16`, one load per tap pair) or the flash's
int8 word of 4 taps, which SXTB16 / SXTB16 ROR 8 unpack into the even or odd tap pair (into a new
register or over the raw word). The search is over every order of loads, unpacks, SMLADs and register
reuse for G groups (A*, its estimate the products left plus the operand words needed and not in a
register); states are canonical up to permutations of pixels, channels and groups.

    python docs/pointwise_bound.py C P G [--int16]
"""
from __future__ import annotations

import heapq
import itertools
import sys
from functools import lru_cache


def floor_cycles(C: int, P: int, G: int, int16: bool) -> int:
    F = 12 - C * P
    NB = P * C
    perms = [(pp, pc) for pp in itertools.permutations(range(P)) for pc in itertools.permutations(range(C))]

    def bit(h, p, c):
        return 1 << (h * NB + p * C + c)

    def pend_a(d, h, p):
        return any(not d & bit(h, p, c) for c in range(C))

    def pend_w(d, h, c):
        return any(not d & bit(h, p, c) for p in range(P))

    @lru_cache(maxsize=None)
    def canon(st):
        # a group: products done (bits h,p,c), live im2col words (h,p), live weight words (h,c), live raw (c)
        d, a, w, r = st
        best = None
        for pp, pc in perms:
            key = (sum(bit(h, pp[p], pc[c]) for h in range(2) for p in range(P) for c in range(C) if d & bit(h, p, c)),
                   sum(1 << (h * P + pp[p]) for h in range(2) for p in range(P) if a >> (h * P + p) & 1),
                   sum(1 << (h * C + pc[c]) for h in range(2) for c in range(C) if w >> (h * C + c) & 1),
                   sum(1 << pc[c] for c in range(C) if r >> c & 1))
            best = key if best is None or key < best else best
        return best

    def norm(groups):
        out = []
        for d, a, w, r in groups:      # drop what nothing needs any more
            a = sum(1 << (h * P + p) for h in range(2) for p in range(P) if a >> (h * P + p) & 1 and pend_a(d, h, p))
            w = sum(1 << (h * C + c) for h in range(2) for c in range(C) if w >> (h * C + c) & 1 and pend_w(d, h, c))
            r = sum(1 << c for c in range(C) if r >> c & 1
                    and any(pend_w(d, h, c) and not w >> (h * C + c) & 1 for h in range(2)))
            out.append(canon((d, a, w, r)))
        return tuple(sorted(out))

    def live(groups):
        return sum(bin(a).count("1") + bin(w).count("1") + bin(r).count("1") for _, a, w, r in groups)

    def fit(groups, n, keep):
        """`groups` holds one register more than the n before: over F, every way to give one up."""
        if n + 1 <= F:
            yield groups
            return
        for k, (d, a, w, r) in enumerate(groups):
            for kind, mask, width in (("a", a, 2 * P), ("w", w, 2 * C), ("r", r, C)):
                for i in range(width):
                    if mask >> i & 1 and (k, kind, i) != keep:
                        q = list(groups)
                        q[k] = (d, *(m & ~(1 << i) if kd == kind else m for kd, m in (("a", a), ("w", w), ("r", r))))
                        yield q

    def still(groups):
        """A lower bound on the cycles left (A*): every product not done is an SMLAD, and every operand word
        that is needed and not in a register takes a load or an unpack."""
        left = 0
        for d, a, w, _ in groups:
            left += 2 * NB - bin(d).count("1")
            left += sum(1 for h in range(2) for p in range(P) if pend_a(d, h, p) and not a >> (h * P + p) & 1)
            left += sum(1 for h in range(2) for c in range(C) if pend_w(d, h, c) and not w >> (h * C + c) & 1)
        return left

    full = (1 << (2 * NB)) - 1
    start = (norm([(0, 0, 0, 0)] * G), False)
    dist = {start: 0}
    queue = [(still(start[0]), start)]
    while queue:
        _, state = heapq.heappop(queue)
        cyc = dist[state]
        groups, after_load = state
        if all(g[0] == full for g in groups):
            return cyc
        n, load = live(groups), 1 if after_load else 2
        moves = []                                          # (cycles, groups, is a load)
        for gi, (d, a, w, r) in enumerate(groups):
            def with_(**kw):
                q = list(groups)
                q[gi] = (kw.get("d", d), kw.get("a", a), kw.get("w", w), kw.get("r", r))
                return q
            for h, p in itertools.product(range(2), range(P)):
                ia = h * P + p
                if not a >> ia & 1:
                    if pend_a(d, h, p):
                        moves += [(load, q, True) for q in fit(with_(a=a | 1 << ia), n, (gi, "a", ia))]
                    continue
                moves += [(1, with_(d=d | bit(h, p, c)), False) for c in range(C)
                          if w >> (h * C + c) & 1 and not d & bit(h, p, c)]
            for c in range(C):
                need = [h for h in range(2) if pend_w(d, h, c) and not w >> (h * C + c) & 1]
                for h in need if int16 else []:
                    moves += [(load, q, True) for q in fit(with_(w=w | 1 << (h * C + c)), n, (gi, "w", h * C + c))]
                if int16 or not need:
                    continue
                if not r >> c & 1:
                    moves += [(load, q, True) for q in fit(with_(r=r | 1 << c), n, (gi, "r", c))]
                    continue
                for h in need:
                    moves += [(1, q, False) for q in fit(with_(w=w | 1 << (h * C + c)), n, (gi, "w", h * C + c))]
                    moves.append((1, with_(w=w | 1 << (h * C + c), r=r & ~(1 << c)), False))
        for cost, q, is_load in moves:
            nxt = (norm(q), is_load)
            if cyc + cost < dist.get(nxt, 1 << 30):
                dist[nxt] = cyc + cost
                heapq.heappush(queue, (cyc + cost + still(nxt[0]), nxt))
    raise ValueError(f"no schedule: {C}x{P} leaves {F} operand registers")


if __name__ == "__main__":
    c, p, g = (int(x) for x in sys.argv[1:4])
    wide = "--int16" in sys.argv
    cycles = floor_cycles(c, p, g, wide)
    macs = 2 * 2 * c * p * g
    print(f"{c} channels x {p} pixels, {'int16' if wide else 'int8'} weights, {2 * g} tap pairs: "
          f"{cycles} cycles for {macs} MACs = {cycles / macs:.4f} cycles/MAC")
