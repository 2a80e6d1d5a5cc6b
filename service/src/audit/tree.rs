//! The Merkle tree as the store keeps it, grown by a background task in the log's order, and
//! the signed checkpoints cut over it.
//!
//! The task follows the log exactly as the read models do ([`Store::log_after`]: the same
//! order, and on PostgreSQL the same horizon), so leaf `i` is the `i`-th event of the log and a
//! leaf never lands behind another. In a service it reads only the page's positions, and takes
//! the events its own engine appended from memory ([`RecentAppends`]) rather than reading back
//! their payload and metadata, which cost more than anything else the tree does; what it does
//! not find there it reads whole. Each page of events becomes, in one transaction, its leaves
//! and every perfect subtree of [`STORED_FROM_LEVEL`] or above they complete (a smaller one is
//! folded from its at most 8 leaves when a proof asks for it, which costs a proof a few leaves
//! read where each event cost a node row written); the right edge of the tree (one hash per set
//! bit of its size) is kept in memory, so an append reads nothing back. Trees grown before
//! kept every level: their lower nodes stay, unread. Any process may run the
//! task: two that race on the same leaves collide on the primary keys, and the loser reloads
//! its right edge from the store and goes on.
//!
//! A checkpoint is cut every `interval` while the tree grows, and on demand: the tree is first
//! brought up to the log, its root signed, and the note stored (one per size). Proofs are
//! computed against any size up to the tree's, from the perfect subtrees they need, read in one
//! query.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::error::ErrorKind;
use sqlx::QueryBuilder;
use tokio::sync::{watch, Mutex};

use super::leaf::{HistoryEntry, NotCanonical};
use super::merkle::{self, append_to_frontier, decompose, fold, node_hash, Hash, NodeId, ProofError};
use super::note::{Checkpoint, LogSigner};
use crate::store::{on_pool, RecentAppends, Store, StoreError, StoredEvent};

/// Events read from the log per append transaction.
const PAGE: i64 = 1_000;
/// The lowest level of perfect subtree the store keeps (16 leaves): below it, a subtree is
/// folded from its leaves when asked for, so that the tree writes a node row for every 16
/// events rather than one for each.
pub const STORED_FROM_LEVEL: u32 = 4;
/// How often the task looks for events appended by other processes.
const POLL: Duration = Duration::from_secs(1);
/// How long the task lets appends gather after it has grown the tree: a round per append costs
/// a dozen statements, and nothing waits for the background task (a checkpoint's cut catches
/// up itself).
const GATHER: Duration = Duration::from_millis(100);
/// Rows per multi-row `INSERT`: three parameters a row, well below SQLite's limit.
const ROWS_PER_INSERT: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Leaf(#[from] NotCanonical),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("the stored tree lacks {0} of the hashes a proof needs")]
    Incomplete(usize),
    #[error("no event at position {0} is in the tree yet")]
    NotInTree(i64),
    #[error("the tree has {have} leaves, not {asked}")]
    TooLarge { asked: u64, have: u64 },
    #[error("this service has no signing key: it cuts no checkpoints")]
    NoSigningKey,
    #[error("no checkpoint has been cut yet")]
    NoCheckpoint,
    #[error("the stored tree no longer ends where this process wrote it")]
    Raced,
}

impl From<sqlx::Error> for TreeError {
    fn from(error: sqlx::Error) -> Self {
        TreeError::Store(error.into())
    }
}

/// The right edge of the stored tree: enough to append leaves and to fold the root.
#[derive(Debug, Clone)]
struct Frontier {
    size: u64,
    /// The position of the last leaf's event; 0 for the empty tree.
    last_position: i64,
    /// The perfect subtrees of `decompose(0, size)`, largest first.
    hashes: Vec<Hash>,
}

/// A checkpoint as stored: its size, root and signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
}

/// An inclusion proof with the event it proves, as exported.
#[derive(Debug, Clone)]
pub struct Inclusion {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub path: Vec<Hash>,
    pub event: HistoryEntry,
}

/// The log's Merkle tree and checkpoints, shared by the background task and the handlers.
#[derive(Debug, Clone)]
pub struct TransparencyLog {
    store: Store,
    signer: Option<Arc<LogSigner>>,
    interval: Duration,
    /// The right edge as this process last wrote it; `None` until loaded, or after a collision.
    frontier: Arc<Mutex<Option<Frontier>>>,
    /// The events this process's engine appended, taken instead of read back when given.
    recent: Option<RecentAppends>,
    /// Events this tree read whole from the log, having not found them in `recent`.
    read_back: Arc<AtomicU64>,
}

impl TransparencyLog {
    /// A tree that is kept but never signed until [`TransparencyLog::with_signer`].
    pub fn new(store: Store) -> Self {
        TransparencyLog {
            store,
            signer: None,
            interval: Duration::from_secs(5),
            frontier: Arc::new(Mutex::new(None)),
            recent: None,
            read_back: Arc::default(),
        }
    }

    /// Takes the events `recent` holds from it rather than reading them back from the log.
    pub fn with_recent_appends(mut self, recent: RecentAppends) -> Self {
        self.recent = Some(recent);
        self
    }

    /// Signs a checkpoint with `signer` every `interval` while the log grows.
    pub fn with_signer(mut self, signer: LogSigner, interval: Duration) -> Self {
        self.signer = Some(Arc::new(signer));
        self.interval = interval;
        self
    }

    pub fn signer(&self) -> Option<&LogSigner> {
        self.signer.as_deref()
    }

    /// Grows the tree as the log grows, woken by this process's appends and by a poll for
    /// other processes'; cuts a checkpoint every `interval` while it grows.
    pub fn spawn(&self, mut appended: watch::Receiver<u64>) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut last_cut: Option<Instant> = None;
            let mut size = None;
            loop {
                match log.catch_up().await {
                    Ok(grown) => {
                        if size.is_some_and(|size| size != grown) {
                            tokio::time::sleep(GATHER).await;
                        }
                        size = Some(grown);
                    }
                    Err(error) => tracing::warn!(%error, "cannot grow the log's Merkle tree"),
                }
                if log.signer.is_some() && last_cut.is_none_or(|at| at.elapsed() >= log.interval) {
                    match log.cut().await {
                        Ok(_) => last_cut = Some(Instant::now()),
                        Err(error) => tracing::warn!(%error, "cannot cut a checkpoint"),
                    }
                }
                let wait = if log.signer.is_some() {
                    POLL.min(log.interval)
                } else {
                    POLL
                };
                tokio::select! {
                    changed = appended.changed(), if appended.has_changed().is_ok() => drop(changed),
                    () = tokio::time::sleep(wait) => {}
                }
            }
        });
    }

    /// Appends the events the log shows beyond the tree, up to its readable end as last read;
    /// returns the tree's size.
    pub async fn catch_up(&self) -> Result<u64, TreeError> {
        let mut guard = self.frontier.lock().await;
        loop {
            // The cached edge holds only while the stored tree still ends there: another
            // process, or an owner rewriting the tables, may have moved it.
            let stored = self.stored_size().await?;
            let frontier = match guard.take() {
                Some(frontier) if (frontier.size, frontier.last_position) == stored => frontier,
                _ => self.load_frontier(stored).await?,
            };
            let events = self.page_after(frontier.last_position).await?;
            // A short page (an empty one too) is the log's readable end as it was read: what
            // came since waits for the next round, so that under load the tree grows by large
            // pages, not by a small transaction chasing every few appends.
            let at_end = events.len() < PAGE as usize;
            let mut next = frontier;
            let mut leaves = Vec::with_capacity(events.len());
            let mut nodes = Vec::new();
            for event in events {
                let position = event.position;
                let hash = HistoryEntry::leaf_hash_of(&event)?;
                let completed = append_to_frontier(&mut next.hashes, next.size, hash);
                leaves.push((next.size, position, hash));
                nodes.extend(completed.into_iter().filter(|(id, _)| id.level >= STORED_FROM_LEVEL));
                next.size += 1;
                next.last_position = position;
            }
            if !leaves.is_empty() {
                match self.write(&leaves, &nodes).await {
                    Ok(()) => {}
                    // Another process wrote these leaves first: start again from what it wrote.
                    Err(TreeError::Raced) => {
                        tracing::debug!("the stored tree moved: reloading its right edge");
                        continue;
                    }
                    Err(error) => return Err(error),
                }
            }
            let size = next.size;
            *guard = Some(next);
            if at_end {
                metrics::gauge!("lianxin_merkle_tree_size").set(size as f64);
                return Ok(size);
            }
        }
    }

    /// The log's page after `after`, as [`Store::log_after`] reads it; given this process's
    /// recent appends, only the events not found there are read whole.
    async fn page_after(&self, after: i64) -> Result<Vec<Arc<StoredEvent>>, TreeError> {
        let Some(recent) = &self.recent else {
            let page = self.store.log_after(after, PAGE).await?;
            return Ok(page.into_iter().map(Arc::new).collect());
        };
        let (page, read_back) = self.store.page_after_taking(recent, after, PAGE, Arc::clone).await?;
        self.read_back.fetch_add(read_back as u64, Ordering::Relaxed);
        metrics::counter!("lianxin_merkle_events_read_back_total").increment(read_back as u64);
        Ok(page)
    }

    /// How many events this tree, given recent appends, read whole from the log for want of
    /// them there.
    pub fn events_read_back(&self) -> u64 {
        self.read_back.load(Ordering::Relaxed)
    }

    /// Writes a page's leaves and nodes in one transaction, if the stored tree still ends where
    /// this process's right edge says (another process, or an owner rewriting the tables, may
    /// have moved it): else [`TreeError::Raced`], and the edge is reloaded.
    async fn write(&self, leaves: &[(u64, i64, Hash)], nodes: &[(NodeId, Hash)]) -> Result<(), TreeError> {
        const STORED_SIZE: &str = "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM merkle_leaves";
        let first = leaves.first().map_or(0, |(index, _, _)| *index as i64);
        // The tree's end is read and written in one transaction: on SQLite it takes the write
        // lock from the start (a read first could not take it later once another wrote).
        macro_rules! write_page {
            ($transaction:expr, $insert:ident) => {
                async {
                    let mut transaction = $transaction.await?;
                    let stored: i64 = sqlx::query_scalar(STORED_SIZE)
                        .fetch_one(&mut *transaction)
                        .await?;
                    if stored != first {
                        return Ok(false);
                    }
                    $insert(&mut *transaction, leaves, nodes).await?;
                    transaction.commit().await?;
                    Ok::<bool, sqlx::Error>(true)
                }
                .await
            };
        }
        let written = match &self.store {
            Store::Postgres(pool) => write_page!(pool.begin(), insert_arrays),
            Store::Sqlite(pool) => write_page!(pool.begin_with("BEGIN IMMEDIATE"), insert_values),
        };
        match written {
            Ok(true) => Ok(()),
            Ok(false) => Err(TreeError::Raced),
            Err(sqlx::Error::Database(error)) if error.kind() == ErrorKind::UniqueViolation => Err(TreeError::Raced),
            Err(error) => Err(error.into()),
        }
    }

    /// The number of leaves stored, and the position of the last one's event.
    pub async fn stored_size(&self) -> Result<(u64, i64), TreeError> {
        const LAST: &str = "SELECT leaf_index, position FROM merkle_leaves ORDER BY leaf_index DESC LIMIT 1";
        let last: Option<(i64, i64)> = on_pool!(&self.store, |pool| sqlx::query_as(LAST).fetch_optional(pool).await?);
        Ok(last.map_or((0, 0), |(index, position)| (index as u64 + 1, position)))
    }

    async fn load_frontier(&self, (size, last_position): (u64, i64)) -> Result<Frontier, TreeError> {
        let ids = decompose(0, size);
        let found = self.nodes(&ids).await?;
        Ok(Frontier {
            size,
            last_position,
            hashes: ids.iter().map(|id| found[id]).collect(),
        })
    }

    /// The hashes of perfect subtrees (level 0: leaves), read in one query: leaves and stored
    /// nodes as stored, a subtree below [`STORED_FROM_LEVEL`] folded from its leaves; every one
    /// must be there.
    pub async fn nodes(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>, TreeError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let (folded, stored): (Vec<&NodeId>, Vec<&NodeId>) = ids.iter().partition(|id| id.level < STORED_FROM_LEVEL);
        let leaves: Vec<String> = folded
            .iter()
            .flat_map(|id| (id.index << id.level)..((id.index + 1) << id.level))
            .map(|leaf| leaf.to_string())
            .collect();
        let inner: Vec<String> = stored
            .iter()
            .map(|id| format!("({}, {})", id.level, id.index))
            .collect();
        let mut parts = Vec::new();
        if !leaves.is_empty() {
            parts.push(format!(
                "SELECT CAST(0 AS BIGINT), leaf_index, hash FROM merkle_leaves WHERE leaf_index IN ({})",
                leaves.join(", ")
            ));
        }
        if !inner.is_empty() {
            parts.push(format!(
                "SELECT CAST(level AS BIGINT), node_index, hash FROM merkle_nodes \
                 WHERE (level, node_index) IN (VALUES {})",
                inner.join(", ")
            ));
        }
        let sql = parts.join(" UNION ALL ");
        let rows: Vec<(i64, i64, Vec<u8>)> = on_pool!(&self.store, |pool| sqlx::query_as(&sql).fetch_all(pool).await?);
        let mut read = HashMap::with_capacity(rows.len());
        for (level, index, hash) in rows {
            let hash: Hash = hash
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("the tree's node {level}/{index} is not 32 bytes")))?;
            read.insert(
                NodeId {
                    level: level as u32,
                    index: index as u64,
                },
                hash,
            );
        }
        let found: HashMap<NodeId, Hash> = ids
            .iter()
            .filter_map(|id| {
                let hash = if id.level < STORED_FROM_LEVEL {
                    fold_leaves(*id, &read)
                } else {
                    read.get(id).copied()
                };
                hash.map(|hash| (*id, hash))
            })
            .collect();
        let missing = ids.iter().filter(|id| !found.contains_key(id)).count();
        if missing > 0 {
            return Err(TreeError::Incomplete(missing));
        }
        Ok(found)
    }

    /// Runs a proof over the stored tree: first to learn which hashes it reads, then over them.
    async fn prove<T>(&self, compute: impl Fn(&mut dyn FnMut(NodeId) -> Hash) -> T) -> Result<T, TreeError> {
        let ids = merkle::needed_nodes(&compute);
        let found = self.nodes(&ids).await?;
        let mut lookup = merkle::lookup(&found);
        Ok(compute(&mut lookup))
    }

    /// The root of the first `size` leaves of the stored tree.
    pub async fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        let ids = decompose(0, size);
        let found = self.nodes(&ids).await?;
        Ok(fold(&ids.iter().map(|id| found[id]).collect::<Vec<_>>()))
    }

    async fn check_size(&self, asked: u64) -> Result<(), TreeError> {
        let (have, _) = self.stored_size().await?;
        if asked > have {
            return Err(TreeError::TooLarge { asked, have });
        }
        Ok(())
    }

    /// The inclusion proof of the event at `position` in the tree of `tree_size` leaves, with
    /// the event as exported now (its leaf hash is what the proof must lead from).
    pub async fn inclusion(&self, position: i64, tree_size: u64) -> Result<Inclusion, TreeError> {
        self.check_size(tree_size).await?;
        let leaf_index: Option<i64> = on_pool!(&self.store, |pool| sqlx::query_scalar(
            "SELECT leaf_index FROM merkle_leaves WHERE position = $1"
        )
        .bind(position)
        .fetch_optional(pool)
        .await?);
        let leaf_index = leaf_index
            .map(|index| index as u64)
            .filter(|index| *index < tree_size)
            .ok_or(TreeError::NotInTree(position))?;
        let path = self
            .prove(|node| merkle::inclusion_proof(leaf_index, tree_size, &mut |id| node(id)))
            .await??;
        Ok(Inclusion {
            leaf_index,
            tree_size,
            path,
            event: self.leaf_event(leaf_index, position).await?,
        })
    }

    /// The event of leaf `leaf_index`: the one the log shows right after the previous leaf's.
    async fn leaf_event(&self, leaf_index: u64, position: i64) -> Result<HistoryEntry, TreeError> {
        let previous: i64 = match leaf_index {
            0 => 0,
            _ => on_pool!(&self.store, |pool| sqlx::query_scalar(
                "SELECT position FROM merkle_leaves WHERE leaf_index = $1"
            )
            .bind(leaf_index as i64 - 1)
            .fetch_one(pool)
            .await?),
        };
        let event = self.store.log_after(previous, 1).await?.into_iter().next();
        event
            .filter(|event| event.position == position)
            .map(HistoryEntry::from)
            .ok_or(TreeError::NotInTree(position))
    }

    /// The consistency proof between the trees of `first` and `second` leaves.
    pub async fn consistency(&self, first: u64, second: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(second).await?;
        Ok(self
            .prove(|node| merkle::consistency_proof(first, second, &mut |id| node(id)))
            .await??)
    }

    /// The latest signed checkpoint, if any was cut.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, TreeError> {
        const LATEST: &str = "SELECT tree_size, root_hash, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1";
        let row: Option<(i64, Vec<u8>, String)> =
            on_pool!(&self.store, |pool| sqlx::query_as(LATEST).fetch_optional(pool).await?);
        row.map(|(size, root, note)| {
            let root: Hash = root
                .try_into()
                .map_err(|_| StoreError::Corrupt("a checkpoint's root is not 32 bytes".into()))?;
            Ok(StoredCheckpoint {
                size: size as u64,
                root,
                note,
            })
        })
        .transpose()
    }

    /// Brings the tree up to the log and signs a checkpoint of it, unless the latest already
    /// covers that size; returns the latest checkpoint.
    pub async fn cut(&self) -> Result<StoredCheckpoint, TreeError> {
        let signer = self.signer.as_deref().ok_or(TreeError::NoSigningKey)?;
        let size = self.catch_up().await?;
        if let Some(latest) = self.latest_checkpoint().await?.filter(|latest| latest.size >= size) {
            return Ok(latest);
        }
        let checkpoint = Checkpoint {
            origin: signer.name().to_owned(),
            size,
            root: self.root_at(size).await?,
        };
        let note = signer.sign(&checkpoint);
        const INSERT: &str =
            "INSERT INTO checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3) ON CONFLICT (tree_size) DO NOTHING";
        on_pool!(&self.store, |pool| {
            sqlx::query(INSERT)
                .bind(size as i64)
                .bind(checkpoint.root.to_vec())
                .bind(&note)
                .execute(pool)
                .await?;
        });
        metrics::gauge!("lianxin_checkpoint_size").set(size as f64);
        tracing::debug!(size, "checkpoint signed");
        self.latest_checkpoint().await?.ok_or(TreeError::NoCheckpoint)
    }
}

/// The hash of the perfect subtree `id` from its leaves among `read` (level 0), pairwise up;
/// `None` if one is missing.
fn fold_leaves(id: NodeId, read: &HashMap<NodeId, Hash>) -> Option<Hash> {
    let mut layer = ((id.index << id.level)..((id.index + 1) << id.level))
        .map(|leaf| read.get(&NodeId { level: 0, index: leaf }).copied())
        .collect::<Option<Vec<Hash>>>()?;
    while layer.len() > 1 {
        layer = layer.chunks(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
    }
    layer.pop()
}

/// A page's leaves and nodes on PostgreSQL: one statement each, every row in one array per
/// column, so the statement's text (and plan) is the same whatever the page's size.
async fn insert_arrays(
    connection: &mut sqlx::PgConnection,
    leaves: &[(u64, i64, Hash)],
    nodes: &[(NodeId, Hash)],
) -> Result<(), sqlx::Error> {
    const LEAVES: &str = "INSERT INTO merkle_leaves (leaf_index, position, hash) \
                          SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::bytea[])";
    const NODES: &str = "INSERT INTO merkle_nodes (level, node_index, hash) \
                         SELECT * FROM UNNEST($1::int2[], $2::int8[], $3::bytea[])";
    sqlx::query(LEAVES)
        .bind(leaves.iter().map(|(index, _, _)| *index as i64).collect::<Vec<_>>())
        .bind(leaves.iter().map(|(_, position, _)| *position).collect::<Vec<_>>())
        .bind(leaves.iter().map(|(_, _, hash)| hash.as_slice()).collect::<Vec<_>>())
        .execute(&mut *connection)
        .await?;
    if !nodes.is_empty() {
        sqlx::query(NODES)
            .bind(nodes.iter().map(|(id, _)| id.level as i16).collect::<Vec<_>>())
            .bind(nodes.iter().map(|(id, _)| id.index as i64).collect::<Vec<_>>())
            .bind(nodes.iter().map(|(_, hash)| hash.as_slice()).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// A page's leaves and nodes on SQLite: multi-row inserts, as many as its parameter limit needs.
async fn insert_values(
    connection: &mut sqlx::SqliteConnection,
    leaves: &[(u64, i64, Hash)],
    nodes: &[(NodeId, Hash)],
) -> Result<(), sqlx::Error> {
    for chunk in leaves.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::new("INSERT INTO merkle_leaves (leaf_index, position, hash) ");
        insert.push_values(chunk, |mut row, (index, position, hash)| {
            row.push_bind(*index as i64)
                .push_bind(*position)
                .push_bind(hash.to_vec());
        });
        insert.build().execute(&mut *connection).await?;
    }
    for chunk in nodes.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::new("INSERT INTO merkle_nodes (level, node_index, hash) ");
        insert.push_values(chunk, |mut row, (id, hash)| {
            row.push_bind(id.level as i16)
                .push_bind(id.index as i64)
                .push_bind(hash.to_vec());
        });
        insert.build().execute(&mut *connection).await?;
    }
    Ok(())
}
