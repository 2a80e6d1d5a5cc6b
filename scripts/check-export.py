#!/usr/bin/env python3
"""Checks a log's export with implementations independent of the service's: every leaf
recomputed with the `rfc8785` package and hashlib, the checkpoint's Ed25519 signature with the
`cryptography` package, and the checkpoint's root from the recomputed leaves (RFC 9162).

Input: a JSON file {"verifier_key": "name+id+base64", "checkpoint": "<signed note>",
"events": [the audit export, in order], "leaf_hashes": ["hex", ...]} where `leaf_hashes` are
the leaves the service stored. Exits non-zero, saying what differs, on any mismatch.

    python3 scripts/check-export.py export.json
"""
import base64
import hashlib
import json
import sys

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sha(data):
    return hashlib.sha256(data).digest()


def root(leaves):
    n = len(leaves)
    if n == 0:
        return sha(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return sha(b"\x01" + root(leaves[:k]) + root(leaves[k:]))


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    leaves = [sha(b"\x00" + rfc8785.dumps(event)) for event in data["events"]]
    for index, (leaf, stored) in enumerate(zip(leaves, data["leaf_hashes"])):
        if leaf.hex() != stored:
            fail(f"leaf {index} (position {data['events'][index]['position']}): rfc8785 gives {leaf.hex()}, the service stored {stored}")
    if len(leaves) != len(data["leaf_hashes"]):
        fail(f"{len(leaves)} events exported, {len(data['leaf_hashes'])} leaves stored")

    name, key_id, key = data["verifier_key"].split("+", 2)
    key = base64.b64decode(key)
    if key[0] != 1 or sha(name.encode() + b"\n" + key)[:4].hex() != key_id:
        fail("the verifier key's id does not match its name and key")
    body, signatures = data["checkpoint"].split("\n\n", 1)
    body += "\n"
    public = Ed25519PublicKey.from_public_bytes(key[1:])
    verified = False
    for line in signatures.splitlines():
        signer, signature = line.removeprefix("\u2014 ").split(" ", 1)
        raw = base64.b64decode(signature)
        if signer == name and raw[:4].hex() == key_id:
            public.verify(raw[4:], body.encode())  # raises on a bad signature
            verified = True
    if not verified:
        fail("no signature by the verifier key")
    origin, size, signed_root = body.splitlines()[:3]
    if origin != name:
        fail(f"the checkpoint is of {origin}, not {name}")
    computed = root(leaves[: int(size)])
    if base64.b64encode(computed).decode() != signed_root:
        fail(f"the first {size} leaves hash to {base64.b64encode(computed).decode()}, the checkpoint signs {signed_root}")
    print(f"{len(leaves)} leaves, the signature and the root of {size} check out")


if __name__ == "__main__":
    main(sys.argv[1])
