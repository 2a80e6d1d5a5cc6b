//! The Merkle tree of RFC 9162 (Certificate Transparency 2.0), section 2.1, as pure functions:
//! hashing, the root of a range, inclusion and consistency proofs, and their verification.
//!
//! Leaves are hashed as `SHA-256(0x00 ‖ leaf)` and interior nodes as
//! `SHA-256(0x01 ‖ left ‖ right)`; the tree of `n` leaves splits at `k`, the largest power of two
//! below `n`, so that every left subtree is perfect. A perfect subtree of `2^level` leaves whose
//! first leaf is `index · 2^level` is named [`NodeId`] `{ level, index }`: these are the only
//! hashes the store keeps, and every hash a proof needs is one of them or is folded from at most
//! one of them per level. Proofs are computed by [`inclusion_proof`] and [`consistency_proof`]
//! over any source of perfect-subtree hashes; [`needed_nodes`] names the hashes a proof will ask
//! for (the walk never depends on the hash values), so that a store fetches them in one read.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// A perfect subtree: `2^level` leaves from leaf `index << level` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u32,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf {leaf_index} is not in a tree of {tree_size} leaves")]
    LeafOutOfRange { leaf_index: u64, tree_size: u64 },
    #[error("a tree of {first} leaves cannot be a prefix of one of {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("the proof leads to a different root for the older tree")]
    OldRootMismatch,
}

pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut digest = Sha256::new();
    digest.update([0x00]);
    digest.update(leaf);
    digest.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut digest = Sha256::new();
    digest.update([0x01]);
    digest.update(left);
    digest.update(right);
    digest.finalize().into()
}

/// The root of the empty tree: the hash of no bytes.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (`n` > 1).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up leaves `start..end`, largest first, where `start` is a
/// multiple of every power of two up to `end - start` (true of every range the RFC's recursion
/// visits).
pub fn decompose(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut from = start;
    while from < end {
        let size = end - from;
        let level = 63 - size.leading_zeros();
        nodes.push(NodeId {
            level,
            index: from >> level,
        });
        from += 1 << level;
    }
    nodes
}

/// Folds a decomposition (largest first) into the root of its range, right to left.
pub fn fold(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    iter.fold(*last, |right, left| node_hash(left, &right))
}

/// The root hash of leaves `start..end` (RFC 9162's MTH), from perfect-subtree hashes.
fn range_root(start: u64, end: u64, node: &mut impl FnMut(NodeId) -> Hash) -> Hash {
    let hashes: Vec<Hash> = decompose(start, end).into_iter().map(&mut *node).collect();
    fold(&hashes)
}

/// RFC 9162's PATH(m, D[n]): the audit path of leaf `leaf_index` in the tree of the first
/// `tree_size` leaves, nearest sibling first.
pub fn inclusion_proof(
    leaf_index: u64,
    tree_size: u64,
    node: &mut impl FnMut(NodeId) -> Hash,
) -> Result<Vec<Hash>, ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::LeafOutOfRange { leaf_index, tree_size });
    }
    let mut path = Vec::new();
    path_of(leaf_index, 0, tree_size, node, &mut path);
    Ok(path)
}

fn path_of(m: u64, start: u64, end: u64, node: &mut impl FnMut(NodeId) -> Hash, path: &mut Vec<Hash>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_of(m, start, start + k, node, path);
        path.push(range_root(start + k, end, node));
    } else {
        path_of(m - k, start + k, end, node, path);
        path.push(range_root(start, start + k, node));
    }
}

/// RFC 9162's PROOF(m, D[n]): the proof that the tree of `first` leaves is a prefix of the
/// tree of `second`; empty when `first` is 0 or equals `second`.
pub fn consistency_proof(
    first: u64,
    second: u64,
    node: &mut impl FnMut(NodeId) -> Hash,
) -> Result<Vec<Hash>, ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    let mut proof = Vec::new();
    if first > 0 && first < second {
        subproof(first, 0, second, true, node, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: u64, start: u64, end: u64, whole: bool, node: &mut impl FnMut(NodeId) -> Hash, proof: &mut Vec<Hash>) {
    let n = end - start;
    if m == n {
        if !whole {
            proof.push(range_root(start, end, node));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, start, start + k, whole, node, proof);
        proof.push(range_root(start + k, end, node));
    } else {
        subproof(m - k, start + k, end, false, node, proof);
        proof.push(range_root(start, start + k, node));
    }
}

/// The perfect subtrees `compute` will ask for: it is run once with a recorder (the walk
/// depends on the sizes alone), so that a store can fetch them all in one read.
pub fn needed_nodes<T>(compute: impl FnOnce(&mut dyn FnMut(NodeId) -> Hash) -> T) -> Vec<NodeId> {
    let mut wanted = Vec::new();
    compute(&mut |id| {
        wanted.push(id);
        [0; 32]
    });
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

/// Looks hashes up in what a store returned for [`needed_nodes`].
pub fn lookup(found: &HashMap<NodeId, Hash>) -> impl FnMut(NodeId) -> Hash + '_ {
    |id| found.get(&id).copied().unwrap_or_default()
}

/// RFC 9162 section 2.1.3.2: does `path` prove leaf `leaf_index` (hashed `leaf`) in the tree
/// of `tree_size` leaves with root `root`?
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::LeafOutOfRange { leaf_index, tree_size });
    }
    let (mut f, mut s) = (leaf_index, tree_size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 section 2.1.4.2: does `proof` show that the tree of `first` leaves with root
/// `first_root` is a prefix of the tree of `second` leaves with root `second_root`? Equal sizes
/// need equal roots and an empty proof; every tree extends the empty one.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == second {
        return match (proof.is_empty(), first_root == second_root) {
            (false, _) => Err(ProofError::WrongLength),
            (true, false) => Err(ProofError::RootMismatch),
            (true, true) => Ok(()),
        };
    }
    if first == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((head, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != first_root {
        return Err(ProofError::OldRootMismatch);
    }
    if &sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// A tree held whole in memory: what `audit verify` rebuilds from the log, and the tests'
/// reference. Every perfect subtree is kept (the store keeps those from
/// `tree::STORED_FROM_LEVEL` up).
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    nodes: HashMap<NodeId, Hash>,
    /// The perfect subtrees along the right edge, largest first: enough to append and to fold
    /// the root.
    frontier: Vec<Hash>,
    size: u64,
}

impl MemoryTree {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash; returns every perfect subtree it completed, the leaf first.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let completed = append_to_frontier(&mut self.frontier, self.size, leaf);
        self.size += 1;
        self.nodes.extend(completed.iter().copied());
        completed
    }

    pub fn root(&self) -> Hash {
        fold(&self.frontier)
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Hash {
        range_root(0, size.min(self.size), &mut self.node())
    }

    pub fn node(&self) -> impl FnMut(NodeId) -> Hash + '_ {
        lookup(&self.nodes)
    }
}

/// Appends leaf number `size` to a frontier (the right edge's perfect subtrees, largest first);
/// returns the subtrees it completed, the leaf itself first.
pub fn append_to_frontier(frontier: &mut Vec<Hash>, size: u64, leaf: Hash) -> Vec<(NodeId, Hash)> {
    let mut completed = vec![(NodeId { level: 0, index: size }, leaf)];
    let (mut hash, mut index, mut level) = (leaf, size, 0);
    while index & 1 == 1 {
        let Some(left) = frontier.pop() else { break };
        hash = node_hash(&left, &hash);
        index >>= 1;
        level += 1;
        completed.push((NodeId { level, index }, hash));
    }
    frontier.push(hash);
    completed
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    /// Vectors computed by an independent implementation (`scripts/merkle-vectors.py`, straight
    /// from the RFC's recursive definitions with Python's hashlib).
    #[derive(Deserialize)]
    struct Vectors {
        leaf: String,
        roots: Vec<String>,
        inclusion_digests: Vec<String>,
        consistency_digests: Vec<String>,
        examples: Vec<Example>,
    }

    #[derive(Deserialize)]
    struct Example {
        kind: String,
        m: u64,
        n: u64,
        path: Vec<String>,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../../../tests/fixtures/merkle-vectors.json")).expect("the vectors parse")
    }

    fn tree_of(n: u64, leaf: &str) -> MemoryTree {
        let mut tree = MemoryTree::default();
        for index in 0..n {
            tree.push(leaf_hash(leaf.replace("{}", &index.to_string()).as_bytes()));
        }
        tree
    }

    fn digest(paths: &[Vec<Hash>]) -> String {
        let mut digest = Sha256::new();
        paths.iter().flatten().for_each(|hash| digest.update(hash));
        hex::encode(digest.finalize())
    }

    #[test]
    fn roots_and_proofs_match_the_independent_vectors_for_1_to_64_leaves() {
        let vectors = vectors();
        let tree = tree_of(64, &vectors.leaf);
        assert_eq!(hex::encode(tree.root_at(0)), vectors.roots[0]);
        for n in 1..=64u64 {
            let root = tree.root_at(n);
            assert_eq!(hex::encode(root), vectors.roots[n as usize], "root of {n}");
            assert_eq!(hex::encode(tree_of(n, &vectors.leaf).root()), vectors.roots[n as usize]);
            let inclusion: Vec<Vec<Hash>> = (0..n)
                .map(|m| inclusion_proof(m, n, &mut tree.node()).unwrap())
                .collect();
            assert_eq!(
                digest(&inclusion),
                vectors.inclusion_digests[n as usize],
                "inclusion in {n}"
            );
            for (m, path) in inclusion.iter().enumerate() {
                let leaf = leaf_hash(vectors.leaf.replace("{}", &m.to_string()).as_bytes());
                verify_inclusion(m as u64, n, &leaf, path, &root).unwrap();
            }
            let consistency: Vec<Vec<Hash>> = (1..=n)
                .map(|m| consistency_proof(m, n, &mut tree.node()).unwrap())
                .collect();
            assert_eq!(
                digest(&consistency),
                vectors.consistency_digests[n as usize],
                "consistency to {n}"
            );
            for (m, proof) in (1..=n).zip(&consistency) {
                verify_consistency(m, n, &tree.root_at(m), &root, proof).unwrap();
            }
        }
        for example in vectors.examples {
            let path = match example.kind.as_str() {
                "inclusion" => inclusion_proof(example.m, example.n, &mut tree.node()).unwrap(),
                _ => consistency_proof(example.m, example.n, &mut tree.node()).unwrap(),
            };
            let hex: Vec<String> = path.iter().map(hex::encode).collect();
            assert_eq!(hex, example.path, "{} {} {}", example.kind, example.m, example.n);
        }
    }

    #[test]
    fn edge_cases_of_the_rfc() {
        let tree = tree_of(16, "{}");
        let mut node = tree.node();
        // Size 0: the empty root; every tree extends it with an empty proof.
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(consistency_proof(0, 16, &mut node).unwrap(), Vec::<Hash>::new());
        verify_consistency(0, 16, &empty_root(), &tree.root(), &[]).unwrap();
        assert_eq!(
            verify_consistency(0, 16, &empty_root(), &tree.root(), &[[0; 32]]),
            Err(ProofError::WrongLength)
        );
        // Equal sizes: an empty proof, and the roots must agree.
        assert!(consistency_proof(16, 16, &mut node).unwrap().is_empty());
        verify_consistency(16, 16, &tree.root(), &tree.root(), &[]).unwrap();
        assert_eq!(
            verify_consistency(8, 8, &tree.root_at(8), &tree.root(), &[]),
            Err(ProofError::RootMismatch)
        );
        // Powers of two: the old root is not in the proof, the verifier supplies it.
        for (m, n) in [(1, 2), (2, 4), (4, 8), (8, 16), (1, 16)] {
            let proof = consistency_proof(m, n, &mut node).unwrap();
            assert!(!proof.contains(&tree.root_at(m)), "{m} {n}");
            verify_consistency(m, n, &tree.root_at(m), &tree.root_at(n), &proof).unwrap();
        }
        // A single leaf is its own root, with an empty path.
        assert!(inclusion_proof(0, 1, &mut node).unwrap().is_empty());
        assert_eq!(tree.root_at(1), leaf_hash(b"0"));
        // Out of range and out of order.
        assert!(inclusion_proof(16, 16, &mut node).is_err());
        assert!(consistency_proof(9, 8, &mut node).is_err());
    }

    #[test]
    fn a_changed_leaf_or_path_fails_verification() {
        let tree = tree_of(13, "{}");
        let root = tree.root();
        let path = inclusion_proof(5, 13, &mut tree.node()).unwrap();
        let leaf = leaf_hash(b"5");
        verify_inclusion(5, 13, &leaf, &path, &root).unwrap();
        assert!(verify_inclusion(5, 13, &leaf_hash(b"x"), &path, &root).is_err());
        assert!(verify_inclusion(4, 13, &leaf, &path, &root).is_err());
        assert!(verify_inclusion(5, 13, &leaf, &path[1..], &root).is_err());
        let proof = consistency_proof(6, 13, &mut tree.node()).unwrap();
        verify_consistency(6, 13, &tree.root_at(6), &root, &proof).unwrap();
        assert!(verify_consistency(6, 13, &tree.root_at(5), &root, &proof).is_err());
        let forked = tree_of(13, "fork {}").root();
        assert!(verify_consistency(6, 13, &tree.root_at(6), &forked, &proof).is_err());
    }

    #[test]
    fn needed_nodes_are_all_a_proof_reads() {
        let tree = tree_of(37, "{}");
        let wanted = needed_nodes(|node| consistency_proof(11, 37, &mut |id| node(id)));
        let found: HashMap<NodeId, Hash> = wanted.iter().map(|id| (*id, tree.nodes[id])).collect();
        assert_eq!(
            consistency_proof(11, 37, &mut lookup(&found)).unwrap(),
            consistency_proof(11, 37, &mut tree.node()).unwrap()
        );
        assert!(wanted.len() <= 2 * 6);
    }
}
