"""Folding large flat groups into a readable overview: repeats, chains and sections.

Where nodes carry no scope (a flat ONNX export, a TFLite file), :class:`Folder` finds, among
the direct ops of a large group, the same op sequence N times in a row (one ``repeat`` group
holding N block groups, found from the op-type sequence in execution order), long runs of
ops each feeding only the next (``chain``), and cuts what is still too wide into consecutive
sections. :mod:`netray.hierarchy` calls it on every group of :data:`FOLD_MIN_OPS` or more ops.
"""

from __future__ import annotations

import math

import numpy as np

from netray.graph_order import Adjacency, csr_slots, execution_order
from netray.groups import Group
from netray.ir import Graph

# A group with fewer direct ops than this is left as it is.
FOLD_MIN_OPS = 64
# The shortest block and the smallest run worth folding as a repeat.
MIN_PERIOD = 3
MIN_REPEAT_COVER = 12
# Blocks shorter than this are not given a group each: the whole run is one group.
MIN_BLOCK_GROUP_OPS = 8
PHASE_SHIFT_COST = 1.0  # in values crossing a block boundary
MAX_PERIOD_CANDIDATES = 8
MAX_USES_PER_BLOCK = 8  # how many uses of one op type per block the period search expects
# The shortest run of single-input/single-output ops folded as a chain.
CHAIN_MIN_OPS = 6
# Above this many direct members a group is cut into sections.
SECTION_MAX_MEMBERS = 200
SECTION_MIN_OPS = 48


class Folder:
    """Finds repeats, chains and sections among the direct ops of large groups."""

    def __init__(self, graph: Graph, node_group: list[Group]) -> None:
        self.graph = graph
        self.node_group = node_group
        self.adj = Adjacency(graph)
        self.run_order = execution_order(graph, self.adj)
        codes: dict[str, int] = {}
        self.op_code = np.array([codes.setdefault(n.op, len(codes)) for n in graph.nodes], dtype=np.int64)
        self.local = np.full(len(graph.nodes), -1, dtype=np.int64)
        self.counter = 0
        self.attached: set[int] = set()  # constants moved into their consumer's group

    def _new_group(self, parent: Group, label: str, kind: str, nodes: list[int], tag: str) -> Group:
        self.counter += 1
        prefix = parent.id + "/" if parent.id else ""
        g = Group(id=f"{prefix}{tag}", label=label, kind=kind, parent=parent, nodes=list(nodes))
        parent.children.append(g)
        for i in nodes:
            self.node_group[i] = g
        return g

    def fold(self, group: Group) -> None:
        """Fold the direct ops of ``group``: repeats, then chains, then sections if still too wide."""
        seq = sorted(group.nodes, key=self.run_order.__getitem__)
        # Constants (fed by weights only: ONNX Constant/ConstantOfShape, shape literals) are
        # kept out of the folding: exporters list them together, so they would fold into one
        # block of hundreds far from their users. Each joins its first consumer's group below.
        constant = self.adj.constant & (self.adj.out_degree > 0)
        constants = [i for i in seq if constant[i]]
        if constants:
            seq = [i for i in seq if not constant[i]]
        group.nodes = []
        before = len(group.children)
        remaining = self._fold_repeats(group, seq)
        remaining = self._fold_chains(group, remaining)
        # A very long chain or run of tiny repeats is itself cut into sections, so it opens readably.
        for child in group.children[before:]:
            if child.kind in ("chain", "repeat") and len(child.nodes) > SECTION_MAX_MEMBERS:
                ordered = sorted(child.nodes, key=self.run_order.__getitem__)
                child.nodes = self._fold_sections(child, ordered)
        if len(remaining) + len(group.children) > SECTION_MAX_MEMBERS:
            remaining = self._fold_sections(group, remaining)
        group.nodes = remaining
        for i in constants:
            self._attach_to_consumer(group, i)

    def _attach_to_consumer(self, group: Group, i: int) -> None:
        """Put constant ``i`` in the group of its first consumer, if that lies inside ``group``."""
        succ = self.adj.succ[self.adj.succ_ptr[i] : self.adj.succ_ptr[i + 1]]
        first = int(succ[np.argmin(self.run_order[succ])])
        target: Group | None = self.node_group[first]
        inside = target
        while inside is not None and inside is not group:
            inside = inside.parent
        destination = target if inside is group and target is not None else group
        destination.nodes.append(i)
        self.node_group[i] = destination
        self.attached.add(i)

    # -- repeats ---------------------------------------------------------------------------

    def _fold_repeats(self, parent: Group, seq: list[int]) -> list[int]:
        """Fold the longest run of a repeated block in ``seq``, then look on either side of it.

        A work list, not recursion: a long graph may hold hundreds of separate runs.
        """
        remaining: list[int] = []
        todo = [seq]
        while todo:
            part = todo.pop()
            found = None
            if len(part) >= max(FOLD_MIN_OPS // 2, 2 * MIN_PERIOD):
                found = self._find_repeat(np.asarray(part, dtype=np.int64))
            if found is None:
                remaining.extend(part)
                continue
            start, period, copies = found
            self._fold_run(parent, [part[start + j * period : start + (j + 1) * period] for j in range(copies)])
            todo.append(part[:start])
            todo.append(part[start + copies * period :])
        return sorted(remaining, key=self.run_order.__getitem__)

    def _fold_run(self, parent: Group, blocks: list[list[int]]) -> None:
        """One group for a run of identical blocks (with a group per block unless they are tiny)."""
        n = self.counter
        copies, period = len(blocks), len(blocks[0])
        if period < MIN_BLOCK_GROUP_OPS:
            # A few ops repeated: one group of them all reads better than many tiny boxes.
            ops = self.graph.nodes
            label = f"{ops[blocks[0][0]].op} … {ops[blocks[0][-1]].op} ×{copies}"
            self._new_group(parent, label, "repeat", [i for block in blocks for i in block], f"~repeat{n}")
            return
        container = self._new_group(parent, f"block.0 … block.{copies - 1} ×{copies}", "repeat", [], f"~repeat{n}")
        first: Group | None = None
        for j, block in enumerate(blocks):
            inner = self._new_group(container, f"block.{j}", "scope", block, f"block.{j}")
            if len(block) < FOLD_MIN_OPS:
                continue
            if first is None:
                self.fold(inner)
                first = inner
            else:
                # Same op sequence: fold it the way the first block was folded.
                self._copy_folds(first, inner, dict(zip(blocks[0], block, strict=True)))

    def _find_repeat(self, seq: np.ndarray) -> tuple[int, int, int] | None:
        """(start, period, copies) of the run of identical op sequences covering most ops."""
        codes = self.op_code[seq]
        n = len(codes)
        # Candidate periods: distances between successive uses of one op type.
        # An op used k times per block recurs at distance "period" from its k-th next use.
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        gap_parts = []
        for j in range(1, MAX_USES_PER_BLOCK + 1):
            same = sorted_codes[j:] == sorted_codes[:-j]
            gap_parts.append((order[j:] - order[:-j])[same])
        gaps = np.concatenate(gap_parts)
        gaps = gaps[(gaps >= MIN_PERIOD) & (gaps <= n // 2)]
        if gaps.size == 0:
            return None
        values, counts = np.unique(gaps, return_counts=True)
        candidates = values[np.argsort(-(counts * values), kind="stable")[:MAX_PERIOD_CANDIDATES]]
        best: tuple[int, int, int, int] | None = None  # (cover, -period, start, copies)
        for p in sorted(int(c) for c in candidates):
            start, length = _longest_true_run(codes[:-p] == codes[p:])
            copies = (length + p) // p
            cover = copies * p
            if copies < 2 or cover < MIN_REPEAT_COVER or (copies < 3 and p < 8):
                continue
            if best is None or cover > best[0] * 1.1:
                best = (cover, -p, start, copies)
        if best is None:
            return None
        cover, neg_p, start, copies = best
        period = -neg_p
        end = start + copies * period
        # The run may hold a shorter period too (candidates are only the likeliest).
        for d in range(MIN_PERIOD, period // 2 + 1):
            if period % d == 0 and np.array_equal(codes[start : end - d], codes[start + d : end]):
                copies, period = copies * (period // d), d
                break
        start, copies = self._align(seq, start, end, period)
        return (start, period, copies) if copies >= 2 else None

    def _align(self, seq: np.ndarray, start: int, end: int, period: int) -> tuple[int, int]:
        """Shift the block boundaries to where the fewest values cross them (between layers)."""
        n = len(seq)
        live = self._live_values(seq)
        best = (math.inf, 0, start, 0)
        for phase in range(period):
            s = start + phase
            copies = (end - s) // period
            if copies < 2:
                break
            bounds = s + period * np.arange(copies + 1)
            bounds = bounds[bounds <= n]
            # The run's own start is usually the true one (the op before it differs):
            # shift only where clearly fewer values cross the boundaries.
            score = float(live[bounds].mean()) + (0.0 if phase == 0 else PHASE_SHIFT_COST)
            key = (score, -copies, s, copies)
            if key < best:
                best = key
        return int(best[2]), int(best[3])

    def _live_values(self, seq: np.ndarray) -> np.ndarray:
        """live[b]: ops before position b of ``seq`` whose output is still used at b or after."""
        n = len(seq)
        adj = self.adj
        self.local[seq] = np.arange(n)
        counts = adj.out_degree[seq]
        succ_local = self.local[adj.succ[csr_slots(adj.succ_ptr, seq)]]
        owner = np.repeat(np.arange(n), counts)
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, owner, succ_local)
        self.local[seq] = -1
        diff = np.zeros(n + 2, dtype=np.int64)
        has = last > np.arange(n)
        np.add.at(diff, np.arange(n)[has] + 1, 1)
        np.add.at(diff, last[has] + 1, -1)
        return np.cumsum(diff)[: n + 1]

    def _copy_folds(self, template: Group, target: Group, mapping: dict[int, int]) -> None:
        """Give ``target`` the groups ``template`` has, with ops mapped position by position."""
        target.nodes = [mapping[i] for i in template.nodes]
        for i in target.nodes:
            self.node_group[i] = target
        for t_child in template.children:
            tag = t_child.id.rsplit("/", 1)[-1]
            child = self._new_group(target, t_child.label, t_child.kind, [], tag)
            self._copy_folds(t_child, child, mapping)

    # -- chains and sections -------------------------------------------------------------------

    def _fold_chains(self, parent: Group, seq: list[int]) -> list[int]:
        """Runs of ops where each feeds only the next (constants feeding them included)."""
        if len(seq) < CHAIN_MIN_OPS:
            return seq
        adj = self.adj
        inside = np.zeros(len(self.graph.nodes), dtype=bool)
        inside[seq] = True
        nxt: dict[int, int] = {}
        has_prev: set[int] = set()
        data_in_degree = adj.data_in_degree.tolist()
        # Candidates: one consumer, not a constant, and that consumer in this group.
        arr = np.asarray(seq, dtype=np.int64)
        single = arr[(adj.out_degree[arr] == 1) & ~adj.constant[arr]]
        single_next = adj.succ[adj.succ_ptr[single]]
        keep = inside[single_next]
        for u, v in zip(single[keep].tolist(), single_next[keep].tolist(), strict=True):
            if data_in_degree[v] == 1:
                nxt[u] = v
                has_prev.add(v)
        taken: set[int] = set()
        for u in seq:
            if u in has_prev or u not in nxt:
                continue
            chain = [u]
            while chain[-1] in nxt:
                chain.append(nxt[chain[-1]])
            if len(chain) < CHAIN_MIN_OPS:
                continue
            members = set(chain)
            # Constants used only by this chain travel with it.
            for v in chain:
                for p in adj.pred[adj.pred_ptr[v] : adj.pred_ptr[v + 1]]:
                    p = int(p)
                    if adj.constant[p] and inside[p] and p not in taken and adj.out_degree[p] == 1:
                        members.add(p)
            ops = self.graph.nodes
            label = f"{ops[chain[0]].op} … {ops[chain[-1]].op}"
            self._new_group(parent, label, "chain", sorted(members), f"~chain{self.counter}")
            taken |= members
        return [i for i in seq if i not in taken]

    def _fold_sections(self, parent: Group, seq: list[int]) -> list[int]:
        """Cut what is still too wide into consecutive runs of about sqrt(n) members each.

        Members (direct ops and the groups folded so far) are taken in execution order.
        """
        groups = parent.children
        order = self.run_order
        members: list[tuple[int, int, Group | None]] = [(int(order[i]), i, None) for i in seq]
        members += [(min(int(order[i]) for sub in g.walk() for i in sub.nodes), -1, g) for g in groups]
        members.sort(key=lambda m: m[0])
        parent.children = []
        size = max(SECTION_MIN_OPS, math.isqrt(len(members)) + 1)
        for a in range(0, len(members), size):
            part = members[a : a + size]
            nodes = [i for _, i, g in part if g is None]
            section = self._new_group(parent, f"ops {part[0][0]}–{part[-1][0]}", "chain", nodes, f"~ops{a}")
            for _, _, g in part:
                if g is not None:
                    g.parent = section
                    section.children.append(g)
        return []


def _longest_true_run(mask: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in ``mask``; (0, 0) if none."""
    if mask.size == 0 or not mask.any():
        return (0, 0)
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[0::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k] - starts[k])
