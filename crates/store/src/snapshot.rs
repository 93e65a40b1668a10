//! The snapshot: the whole metadata state in one checksummed file, so the
//! journal can start afresh. Written to `snapshot.tmp`, synced, renamed
//! over `snapshot` and the directory synced; its header names the journal
//! generation that continues it.
//!
//! File: `RKS1`, version u32, generation u64, payload length u64, CRC32
//! (of version, generation, length and payload), payload. Version 2 added
//! each mailbox's expunge history after its messages; version 1 files
//! are still read (their mailboxes start with no history). Unlike the journal there is no torn tail to forgive: a
//! snapshot is only ever seen whole, so any damage is reported corrupt.

use crate::StoreError;
use crate::codec::{Dec, Put, corrupt};
use crate::expunged::Expunged;
use crate::flags::FlagSet;
use crate::ids::DeliveryIds;
use crate::layout;
use crate::meta::{Blob, Mailbox, Message, Meta};
use crate::ops::BlobLoc;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

const MAGIC: &[u8; 4] = b"RKS1";
const VERSION: u32 = 2;
const HEADER_LEN: usize = 28;

/// The complete snapshot file for `meta`, continued by journal `generation`.
pub(crate) fn encode(meta: &Meta, generation: u64) -> Vec<u8> {
    let mut payload = Vec::with_capacity(64 + meta.usage.messages as usize * 48);
    payload.put_u32(meta.next_mailbox_id);
    payload.put_u32(meta.last_uid_validity);
    payload.put_u64(meta.next_blob_id);
    payload.put_len(meta.blobs.len());
    for (id, blob) in &meta.blobs {
        payload.put_u64(*id);
        blob.loc.encode(&mut payload);
    }
    payload.put_len(meta.mailboxes.len());
    for mb in meta.mailboxes.values() {
        payload.put_u32(mb.id);
        payload.put_str(&mb.name);
        payload.put_u32(mb.uid_validity);
        payload.put_u32(mb.uid_next);
        payload.put_u64(mb.highest_modseq);
        payload.put_len(mb.messages.len());
        for (uid, m) in &mb.messages {
            payload.put_u32(*uid);
            payload.put_u64(m.blob);
            m.flags.encode(&mut payload);
            payload.put_i64(m.internal_date);
            payload.put_u64(m.modseq);
            payload.put_opt_u128(m.delivery);
        }
        mb.expunged.encode(&mut payload);
    }
    payload.put_len(meta.subscriptions.len());
    for name in &meta.subscriptions {
        payload.put_str(name);
    }
    let (recent, older) = meta.ids.parts();
    payload.put_len(recent.len());
    for (id, uid, live) in recent {
        payload.put_u128(id);
        payload.put_u32(uid);
        payload.put_u8(u8::from(live));
    }
    payload.put_len(older.len());
    for (id, uid) in older {
        payload.put_u128(id);
        payload.put_u32(uid);
    }

    let mut file = Vec::with_capacity(HEADER_LEN + payload.len());
    file.extend_from_slice(MAGIC);
    file.put_u32(VERSION);
    file.put_u64(generation);
    file.put_u64(payload.len() as u64);
    let crc = checksum(&file[4..], &payload);
    file.put_u32(crc);
    file.extend_from_slice(&payload);
    file
}

fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(payload);
    hasher.finalize()
}

fn decode_payload(payload: &[u8], version: u32, recent_bound: usize) -> Result<Meta, StoreError> {
    let mut dec = Dec::new(payload);
    let mut meta = Meta::new(recent_bound);
    meta.next_mailbox_id = dec.u32()?;
    meta.last_uid_validity = dec.u32()?;
    meta.next_blob_id = dec.u64()?;
    for _ in 0..dec.len(32)? {
        let id = dec.u64()?;
        let loc = BlobLoc::decode(&mut dec)?;
        meta.blobs.insert(id, Blob { loc, refs: 0 });
    }
    for _ in 0..dec.len(28)? {
        let (id, name) = (dec.u32()?, dec.str()?);
        let mut mb = Mailbox::new(id, name, dec.u32()?);
        mb.uid_next = dec.u32()?;
        mb.highest_modseq = dec.u64()?;
        for _ in 0..dec.len(34)? {
            let uid = dec.u32()?;
            let message = Message {
                blob: dec.u64()?,
                flags: FlagSet::decode(&mut dec)?,
                internal_date: dec.i64()?,
                size: 0,
                modseq: dec.u64()?,
                delivery: dec.opt_u128()?,
            };
            if uid == 0 || uid >= mb.uid_next {
                return Err(corrupt(format!("uid {uid} not below uid_next in snapshot")));
            }
            mb.messages.insert(uid, message);
        }
        mb.expunged =
            if version >= 2 { Expunged::decode(&mut dec)? } else { Expunged::forgotten_until(mb.highest_modseq) };
        if meta.mailboxes.insert(id, mb).is_some() {
            return Err(corrupt(format!("mailbox {id} twice in snapshot")));
        }
    }
    for _ in 0..dec.len(4)? {
        meta.subscriptions.insert(dec.str()?);
    }
    let recent =
        (0..dec.len(21)?).map(|_| Ok((dec.u128()?, dec.u32()?, dec.bool()?))).collect::<Result<_, StoreError>>()?;
    let older = (0..dec.len(20)?).map(|_| Ok((dec.u128()?, dec.u32()?))).collect::<Result<_, StoreError>>()?;
    meta.ids = DeliveryIds::from_parts(recent_bound, recent, older);
    dec.finish()?;
    meta.rebuild_derived()?;
    Ok(meta)
}

/// A loaded snapshot.
pub(crate) struct Loaded {
    pub meta: Meta,
    pub generation: u64,
    pub file_len: u64,
}

/// Reads `snapshot` if there is one.
pub(crate) fn read(dir: &Path, recent_bound: usize) -> Result<Option<Loaded>, StoreError> {
    let bytes = match fs::read(dir.join(layout::SNAPSHOT)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
        return Err(corrupt("snapshot has a bad header"));
    }
    let mut dec = Dec::new(&bytes[4..HEADER_LEN]);
    let (version, generation, len, crc) = (dec.u32()?, dec.u64()?, dec.u64()?, dec.u32()?);
    let payload = &bytes[HEADER_LEN..];
    if !(1..=VERSION).contains(&version)
        || len != payload.len() as u64
        || checksum(&bytes[4..HEADER_LEN - 4], payload) != crc
    {
        return Err(corrupt("snapshot is damaged"));
    }
    let meta = decode_payload(payload, version, recent_bound)?;
    Ok(Some(Loaded { meta, generation, file_len: bytes.len() as u64 }))
}

/// Writes `snapshot.tmp` and syncs it; [`install`] makes it current.
pub(crate) fn write_temp(dir: &Path, bytes: &[u8], sync: bool) -> Result<(), StoreError> {
    let mut file = File::create(dir.join(layout::SNAPSHOT_TMP))?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
    }
    Ok(())
}

/// Renames `snapshot.tmp` over `snapshot`, durably.
pub(crate) fn install(dir: &Path, sync: bool) -> Result<(), StoreError> {
    fs::rename(dir.join(layout::SNAPSHOT_TMP), dir.join(layout::SNAPSHOT))?;
    if sync {
        layout::sync_dir(dir)?;
    }
    Ok(())
}
