//! Many single-entry rewrites made fast: grouped into LDAP transactions
//! (RFC 5805), several in flight at once, each on its own connection.
//!
//! Why: slapd's mdb back-end syncs the disk once per write transaction.
//! One modify per request is one sync each (about 3,000/s here); a
//! transaction of [`BATCH`] modifies is one sync for all of them, and
//! while one connection's transaction is being committed the next ones
//! are already being sent and parsed on the others.
//!
//! How OpenLDAP (2.5) does it: Start Transaction answers an empty
//! identifier, because the transaction belongs to the connection (one at a
//! time per connection, hence one connection per transaction in flight);
//! every modify carrying the transaction-specification control is queued
//! and answered "success" at once; End Transaction runs the queue in one
//! mdb transaction, all or nothing, and answers with the message id of the
//! first modify that failed, if one did.
//!
//! Every modify carries an assertion (the filter the records were selected
//! by), so a record that changed since it was read is not overwritten.
//! When a transaction fails for such a record, or for one deleted meanwhile,
//! its batch is redone one modify at a time and those records are skipped:
//! a slow path for the rare batch, not for the whole rewrite. Committed
//! batches stay committed when a later one fails; the caller selects by the
//! attribute it rewrites, so running it again finishes the job.
//!
//! A server that refuses Start Transaction (or the control) gets the same
//! modifies one at a time, after a warning.
//!
//! A rewrite of fewer than [`MIN_FOR_TRANSACTIONS`] records, or with a
//! batch size of 1, goes one modify at a time: a transaction would save
//! nothing worth its round trips.
//!
//! slapd pitfall: Debian 12's slapd 2.5.13 segfaults within seconds of a
//! few such transactions when its database has `dbnosync` (as the test
//! kit's throwaway instances do). With the default durability it ran every
//! test here (6 runs each) and the 500,000-record benchmark without a
//! fault. Production directories keep durability; tests that rewrite many
//! records use `Slapd::start_durable`. Also seen: a plain write of a record
//! queued in a pending transaction gets "internal error" (80) until the
//! transaction settles; writes of other records are not disturbed.

use std::collections::VecDeque;
use std::time::Duration;

use ldap3::controls::{Assertion, RawControl};
use ldap3::exop::Exop;
use ldap3::{Ldap, LdapError, Mod};
use tokio::task::JoinSet;

use super::connection::{Connection, rc, result_code};
use crate::hosts::Progress;
use crate::{DirectoryError, Result};

const TARGET: &str = "directory::ldap";

/// Modifies per transaction. slapd's cost per transaction is one sync, and
/// per modify a little CPU; 2,000 makes the sync cost negligible while a
/// failed batch (redone one by one) stays short. Measured on 500,000
/// records: see BENCHMARKS.md, "Reassign and adopt".
pub(super) const BATCH: usize = 2_000;
/// Below this many records a rewrite goes one modify at a time.
pub(super) const MIN_FOR_TRANSACTIONS: usize = 100;

/// Transactions in flight, each on its own connection: enough to keep
/// slapd's single mdb writer busy while the others are being sent.
pub(super) const CONNECTIONS: usize = 4;
/// Modifies of one transaction sent before their (immediate) answers are
/// awaited: pipelining without holding a whole batch of requests at once.
const WINDOW: usize = 256;

const START_TRANSACTION: &str = "1.3.6.1.1.21.1";
const TRANSACTION_SPECIFICATION: &str = "1.3.6.1.1.21.2";
const END_TRANSACTION: &str = "1.3.6.1.1.21.3";

/// How a rewrite is cut up: modifies per transaction, transactions in
/// flight.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub batch: usize,
    pub connections: usize,
}

/// One record's rewrite.
#[derive(Clone)]
pub(super) struct Change {
    pub dn: String,
    pub mods: Vec<Mod<String>>,
}

/// Applies `changes`, each only if its entry still matches `assertion`
/// (an LDAP filter), reporting `(done, total)` after each batch. Returns
/// how many records were rewritten; those that no longer match or no
/// longer exist are left alone and not counted.
pub(super) async fn apply(
    connection: &Connection,
    shape: Shape,
    changes: Vec<Change>,
    assertion: &str,
    progress: Progress<'_>,
) -> Result<usize> {
    let total = changes.len();
    progress(0, total);
    if total == 0 {
        return Ok(0);
    }
    // ldap3's control builder panics on a filter it cannot parse; check
    // first (ours are built from escaped values, so this is a safeguard).
    if ldap3::parse_filter(assertion).is_err() {
        return Err(DirectoryError::Backend(format!("invalid assertion filter {assertion:?}")));
    }
    let rules = Rules { assertion: Assertion::new(assertion), timeout: connection.operation_timeout() };
    if shape.batch <= 1 || total < MIN_FOR_TRANSACTIONS {
        return one_by_one(connection, changes.into_iter(), &rules.assertion, 0, 0, total, progress).await;
    }
    let mut batches: VecDeque<Vec<Change>> = VecDeque::new();
    let mut changes = changes.into_iter().peekable();
    while changes.peek().is_some() {
        batches.push_back(changes.by_ref().take(shape.batch.max(1)).collect());
    }

    let mut tasks = JoinSet::new();
    for _ in 0..shape.connections.max(1).min(batches.len()) {
        let Some(batch) = batches.pop_front() else { break };
        let ldap = connection.open_dedicated().await.map_err(|error| connection.failure(error))?;
        tasks.spawn(run_batch(ldap, batch, rules.clone()));
    }
    let (mut done, mut rewritten) = (0, 0);
    let mut failure = None;
    // Batches refused because the server has no transactions: nothing of
    // them was written; they are redone one modify at a time.
    let mut unsupported: Option<(String, Vec<Change>)> = None;
    while let Some(joined) = tasks.join_next().await {
        let finished = match joined {
            Ok(finished) => finished,
            Err(error) => {
                failure.get_or_insert(DirectoryError::Backend(format!("ldap batch task failed: {error}")));
                batches.clear();
                continue;
            }
        };
        // A fresh connection per transaction, closed with an Unbind once
        // it is settled: slapd's per-connection transaction state is never
        // reused (a cheap precaution: one bind per batch).
        let Finished { ldap, batch, size, result } = finished;
        close(ldap).await;
        match result {
            Ok(count) => {
                done += size;
                rewritten += count;
                progress(done, total);
            }
            Err(BatchError::Unsupported(reason)) => {
                let (_, redo) = unsupported.get_or_insert_with(|| (reason, Vec::new()));
                redo.extend(batch);
                continue;
            }
            Err(BatchError::Task(reason)) => {
                failure.get_or_insert(DirectoryError::Backend(format!("ldap batch: {reason}")));
                batches.clear();
                continue;
            }
            Err(BatchError::Ldap(error)) => {
                // The batches in flight go on: each one committed now is
                // one less for the rerun.
                failure.get_or_insert(connection.failure(error));
                batches.clear();
                continue;
            }
        }
        if failure.is_none()
            && unsupported.is_none()
            && let Some(batch) = batches.pop_front()
        {
            let ldap = match connection.open_dedicated().await {
                Ok(ldap) => ldap,
                Err(error) => {
                    failure.get_or_insert(connection.failure(error));
                    batches.clear();
                    continue;
                }
            };
            tasks.spawn(run_batch(ldap, batch, rules.clone()));
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    if let Some((reason, redo)) = unsupported {
        tracing::warn!(target: TARGET, %reason,
            "the LDAP server does not support transactions; rewriting one record at a time (slow)");
        let rest = redo.into_iter().chain(batches.into_iter().flatten());
        return one_by_one(connection, rest, &rules.assertion, done, rewritten, total, progress).await;
    }
    Ok(rewritten)
}

/// Ends a dedicated connection politely (Unbind), so that slapd tears it
/// down on its normal path.
async fn close(mut ldap: Ldap) {
    if let Err(error) = ldap.unbind().await {
        tracing::debug!(target: TARGET, %error, "unbind after a transaction failed");
    }
}

/// The fallback for a server without transactions: one modify at a time
/// on the shared connection.
async fn one_by_one(
    connection: &Connection,
    changes: impl Iterator<Item = Change>,
    assertion: &RawControl,
    mut done: usize,
    mut rewritten: usize,
    total: usize,
    progress: Progress<'_>,
) -> Result<usize> {
    for change in changes {
        let written = connection
            .run(|ldap| modify_one(ldap, change.clone(), assertion.clone(), None))
            .await
            .map_err(|error| connection.failure(error))?;
        rewritten += usize::from(written);
        done += 1;
        progress(done, total);
    }
    Ok(rewritten)
}

/// What every modify of a rewrite carries.
#[derive(Clone)]
struct Rules {
    /// Only records that still match are rewritten.
    assertion: RawControl,
    /// ldap3 times one request at a time; set before each.
    timeout: Duration,
}

enum BatchError {
    /// The server does not do transactions; nothing was written.
    Unsupported(String),
    Ldap(LdapError),
    /// A task of ours panicked or was cancelled.
    Task(String),
}

impl From<LdapError> for BatchError {
    fn from(error: LdapError) -> Self {
        BatchError::Ldap(error)
    }
}

/// What a batch task hands back: its connection for the next batch.
struct Finished {
    ldap: Ldap,
    batch: Vec<Change>,
    size: usize,
    result: Result<usize, BatchError>,
}

async fn run_batch(ldap: Ldap, batch: Vec<Change>, rules: Rules) -> Finished {
    let size = batch.len();
    let result = match in_transaction(ldap.clone(), &batch, &rules).await {
        Ok(()) => Ok(size),
        // A record changed or vanished since it was read: redo this batch
        // one by one, skipping such records.
        Err(BatchError::Ldap(error)) if is_record_conflict(&error) => {
            tracing::debug!(target: TARGET, %error, "transaction refused for one record; redoing its batch one by one");
            redo_one_by_one(ldap.clone(), &batch, &rules).await
        }
        Err(error) => Err(error),
    };
    Finished { ldap, batch, size, result }
}

async fn redo_one_by_one(ldap: Ldap, batch: &[Change], rules: &Rules) -> Result<usize, BatchError> {
    let mut written = 0;
    for change in batch {
        written +=
            usize::from(modify_one(ldap.clone(), change.clone(), rules.assertion.clone(), Some(rules.timeout)).await?);
    }
    Ok(written)
}

/// One modify outside any transaction; `false` when the record no longer
/// matches the assertion or no longer exists.
/// `timeout`: `None` when the handle has its own (the shared connection's).
async fn modify_one(
    mut ldap: Ldap,
    change: Change,
    assertion: RawControl,
    timeout: Option<Duration>,
) -> Result<bool, LdapError> {
    if let Some(timeout) = timeout {
        ldap.with_timeout(timeout);
    }
    let result = ldap.with_controls(vec![assertion]).modify(&change.dn, change.mods).await?;
    match result.rc {
        0 => Ok(true),
        rc::NO_SUCH_OBJECT | rc::ASSERTION_FAILED => Ok(false),
        _ => Err(LdapError::from(result)),
    }
}

/// A failure that concerns one record, not the server or the connection.
fn is_record_conflict(error: &LdapError) -> bool {
    matches!(result_code(error), Some(rc::NO_SUCH_OBJECT | rc::ASSERTION_FAILED))
}

/// Start, queue every modify, End with commit. All or nothing.
async fn in_transaction(mut ldap: Ldap, batch: &[Change], rules: &Rules) -> Result<(), BatchError> {
    let started =
        ldap.with_timeout(rules.timeout).extended(Exop { name: Some(START_TRANSACTION.to_owned()), val: None }).await?;
    if started.1.rc != 0 {
        return Err(refused_start(started.1));
    }
    // OpenLDAP's identifier is empty; another server's is whatever it sent.
    let id = started.0.val.unwrap_or_default();
    let control = RawControl { ctype: TRANSACTION_SPECIFICATION.to_owned(), crit: true, val: Some(id.clone()) };

    let queued = queue_all(&ldap, batch, &control, rules).await;
    let commit = queued.is_ok();
    // The commit is where slapd does the work: the whole batch, one sync.
    let ended = ldap
        .with_timeout(rules.timeout)
        .extended(Exop { name: Some(END_TRANSACTION.to_owned()), val: Some(end_request(&id, commit)) })
        .await;
    queued?;
    let ended = ended?;
    if ended.1.rc != 0 {
        return Err(BatchError::Ldap(LdapError::from(ended.1)));
    }
    Ok(())
}

/// Sends the batch's modifies, [`WINDOW`] at a time; each is answered as
/// soon as it is queued.
async fn queue_all(ldap: &Ldap, batch: &[Change], control: &RawControl, rules: &Rules) -> Result<(), BatchError> {
    for window in batch.chunks(WINDOW) {
        let mut sends = JoinSet::new();
        for change in window {
            let (mut ldap, change) = (ldap.clone(), change.clone());
            let controls = vec![control.clone(), rules.assertion.clone()];
            let timeout = rules.timeout;
            sends.spawn(async move {
                ldap.with_timeout(timeout).with_controls(controls).modify(&change.dn, change.mods).await
            });
        }
        while let Some(sent) = sends.join_next().await {
            let answer = sent.map_err(|error| BatchError::Task(format!("modify task failed: {error}")))??;
            match answer.rc {
                0 => {}
                // The back-end cannot take part in a transaction.
                rc::UNWILLING_TO_PERFORM | rc::UNAVAILABLE_CRITICAL_EXTENSION => {
                    return Err(BatchError::Unsupported(format!("modify in a transaction: {}", answer.text)));
                }
                _ => return Err(BatchError::Ldap(LdapError::from(answer))),
            }
        }
    }
    Ok(())
}

fn refused_start(result: ldap3::LdapResult) -> BatchError {
    match result.rc {
        // protocolError is OpenLDAP's "unsupported extended operation".
        rc::PROTOCOL_ERROR | rc::UNWILLING_TO_PERFORM | rc::UNAVAILABLE_CRITICAL_EXTENSION => {
            BatchError::Unsupported(format!("start transaction: {} ({})", result.text, result.rc))
        }
        _ => BatchError::Ldap(LdapError::from(result)),
    }
}

/// The End Transaction request value (RFC 5805 §2.3):
/// `SEQUENCE { commit BOOLEAN DEFAULT TRUE, identifier OCTET STRING }`,
/// DER: the boolean only when it is FALSE.
fn end_request(id: &[u8], commit: bool) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + 8);
    if !commit {
        content.extend([0x01, 0x01, 0x00]);
    }
    content.push(0x04);
    push_length(&mut content, id.len());
    content.extend_from_slice(id);
    let mut value = vec![0x30];
    push_length(&mut value, content.len());
    value.extend(content);
    value
}

/// A BER definite length.
fn push_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        out.push(length as u8);
        return;
    }
    let bytes = length.to_be_bytes();
    let significant: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    out.push(0x80 | significant.len() as u8);
    out.extend(significant);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_request_encodes_commit_by_omission_and_abort_explicitly() {
        assert_eq!(end_request(b"", true), vec![0x30, 0x02, 0x04, 0x00]);
        assert_eq!(end_request(b"", false), vec![0x30, 0x05, 0x01, 0x01, 0x00, 0x04, 0x00]);
        assert_eq!(end_request(b"7", true), vec![0x30, 0x03, 0x04, 0x01, b'7']);
    }

    #[test]
    fn long_identifiers_get_long_form_lengths() {
        let id = vec![b'x'; 300];
        let encoded = end_request(&id, true);
        assert_eq!(&encoded[..2], &[0x30, 0x82]);
        assert_eq!(&encoded[4..8], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(encoded.len(), 4 + 4 + 300);
    }
}
