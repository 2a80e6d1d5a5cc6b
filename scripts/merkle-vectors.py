#!/usr/bin/env python3
"""Proof vectors for RFC 9162's Merkle tree, from the RFC's own recursive definitions (section
2.1), with nothing but hashlib: an implementation independent of the service's.

Writes tests/fixtures/merkle-vectors.json: the roots of the trees of 0..64 leaves (leaf i is
the UTF-8 text "leaf i"), for each size n a SHA-256 over every inclusion proof in it (leaves
0..n-1) and over every consistency proof to it (from sizes 1..n), and every proof of the trees
of up to 8 leaves in full. Run from the repository's root (another output path may be given, for comparing):

    python3 scripts/merkle-vectors.py [tests/fixtures/merkle-vectors.json]
"""
import hashlib
import json
import sys

LEAF = "leaf {}"
MAX = 64


def sha(data):
    return hashlib.sha256(data).digest()


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return sha(b"")
    if n == 1:
        return sha(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def path(m, leaves):
    n = len(leaves)
    if n <= 1:
        return []
    k = split(n)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, whole):
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = split(n)
    if m <= k:
        return subproof(m, leaves[:k], whole) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def proof(m, leaves):
    if m == 0 or m == len(leaves):
        return []
    return subproof(m, leaves, True)


def digest(paths):
    h = hashlib.sha256()
    for p in paths:
        for node in p:
            h.update(node)
    return h.hexdigest()


def main(output):
    leaves = [LEAF.format(i).encode() for i in range(MAX)]
    out = {"leaf": LEAF, "roots": [], "inclusion_digests": [], "consistency_digests": [], "examples": []}
    for n in range(MAX + 1):
        tree = leaves[:n]
        out["roots"].append(mth(tree).hex())
        out["inclusion_digests"].append(digest(path(m, tree) for m in range(n)))
        out["consistency_digests"].append(digest(proof(m, tree) for m in range(1, n + 1)))
        if 1 <= n <= 8:
            for m in range(n):
                out["examples"].append({"kind": "inclusion", "m": m, "n": n, "path": [h.hex() for h in path(m, tree)]})
            for m in range(1, n + 1):
                out["examples"].append({"kind": "consistency", "m": m, "n": n, "path": [h.hex() for h in proof(m, tree)]})
    with open(output, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/merkle-vectors.json")
