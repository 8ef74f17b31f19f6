//! The room in storage, one key per part: `meta` (playback, settings,
//! counters, bans, the queue's order), `m:<id>` per member, `q:<id>` per
//! queued item, `c:<id>` per chat line. An input writes only the parts it
//! changed ([`Store::changes`]), so a play command in a room of 5,000 writes
//! a few hundred bytes, not every member, the queue and the chat.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use super::{PersistedRoom, StoredMember};
use crate::protocol::{ChatLine, MemberId, QueueItem};

/// The key the room was stored under, whole, before it was stored in parts.
pub const LEGACY_KEY: &str = "room";
pub const META_KEY: &str = "meta";
pub const MEMBER_PREFIX: &str = "m:";
pub const ITEM_PREFIX: &str = "q:";
pub const LINE_PREFIX: &str = "c:";

/// One stored value (read back by its key's prefix).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Part {
    Meta(Box<PersistedRoom>),
    Member(StoredMember),
    Item(QueueItem),
    Line(ChatLine),
}

/// The writes of one input: put these, delete those, in one batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreChanges {
    pub put: Vec<(String, Part)>,
    pub delete: Vec<String>,
}

impl StoreChanges {
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.delete.is_empty()
    }
}

/// What storage holds now, as far as the room wrote it.
#[derive(Clone, Debug, Default)]
pub struct Store {
    meta: Option<PersistedRoom>,
    members: BTreeMap<MemberId, StoredMember>,
    items: BTreeMap<u64, QueueItem>,
    lines: BTreeSet<u64>,
    /// The whole-room key is still there (a room stored before parts).
    legacy: bool,
}

/// The room without its members, queue items and chat lines (which have
/// keys of their own); the queue's order instead of its items.
fn meta_of(s: &PersistedRoom) -> PersistedRoom {
    PersistedRoom {
        name: s.name.clone(),
        source: s.source.clone(),
        source_duration: s.source_duration,
        playback: s.playback,
        seq: s.seq,
        next_member: s.next_member,
        next_conn: s.next_conn,
        next_item: s.next_item,
        next_chat: s.next_chat,
        mode: s.mode,
        password: s.password.clone(),
        host_token_hash: s.host_token_hash.clone(),
        members: Vec::new(),
        queue: Vec::new(),
        queue_order: s.queue.iter().map(|q| q.id).collect(),
        chat: VecDeque::new(),
        hold: s.hold.clone(),
        empty_since: s.empty_since,
        source_seq: s.source_seq,
        bans: s.bans.clone(),
        next_ban: s.next_ban,
        addr_salt: s.addr_salt.clone(),
        subtitles: s.subtitles.clone(),
        subtitle_delay_ms: s.subtitle_delay_ms,
        next_subtitle: s.next_subtitle,
        subtitle_language: s.subtitle_language.clone(),
    }
}

impl Store {
    /// Storage as it holds `state` (just loaded).
    pub fn holding(state: &PersistedRoom) -> Self {
        Store {
            meta: Some(meta_of(state)),
            members: state.members.iter().map(|m| (m.id, m.clone())).collect(),
            items: state.queue.iter().map(|q| (q.id, q.clone())).collect(),
            lines: state.chat.iter().map(|l| l.id).collect(),
            legacy: false,
        }
    }

    /// Storage that holds the room whole under [`LEGACY_KEY`]: the next
    /// write stores every part and deletes it.
    pub fn legacy() -> Self {
        Store { legacy: true, ..Store::default() }
    }

    /// The writes that make storage hold `state`, and what it holds after them.
    pub fn changes(&mut self, state: &PersistedRoom) -> StoreChanges {
        let mut c = StoreChanges::default();
        let meta = meta_of(state);
        if self.meta.as_ref() != Some(&meta) {
            c.put.push((META_KEY.to_string(), Part::Meta(Box::new(meta.clone()))));
            self.meta = Some(meta);
        }
        sync(&mut self.members, state.members.iter().map(|m| (m.id, m)), MEMBER_PREFIX, Part::Member, &mut c);
        sync(&mut self.items, state.queue.iter().map(|q| (q.id, q)), ITEM_PREFIX, Part::Item, &mut c);
        // Chat lines never change once said: only new ones and dropped ones.
        let present: BTreeSet<u64> = state.chat.iter().map(|l| l.id).collect();
        for l in &state.chat {
            if self.lines.insert(l.id) {
                c.put.push((format!("{LINE_PREFIX}{}", l.id), Part::Line(l.clone())));
            }
        }
        let gone: Vec<u64> = self.lines.difference(&present).copied().collect();
        for id in gone {
            self.lines.remove(&id);
            c.delete.push(format!("{LINE_PREFIX}{id}"));
        }
        if std::mem::take(&mut self.legacy) {
            c.delete.push(LEGACY_KEY.to_string());
        }
        c
    }
}

/// Make `written` (what storage holds under `prefix`) match `current`:
/// put what is new or changed, delete what is gone.
fn sync<'a, T: Clone + PartialEq + 'a>(
    written: &mut BTreeMap<u64, T>,
    current: impl Iterator<Item = (u64, &'a T)>,
    prefix: &str,
    part: fn(T) -> Part,
    c: &mut StoreChanges,
) {
    let mut present = BTreeSet::new();
    for (id, value) in current {
        present.insert(id);
        if written.get(&id) != Some(value) {
            c.put.push((format!("{prefix}{id}"), part(value.clone())));
            written.insert(id, value.clone());
        }
    }
    let gone: Vec<u64> = written.keys().filter(|id| !present.contains(id)).copied().collect();
    for id in gone {
        written.remove(&id);
        c.delete.push(format!("{prefix}{id}"));
    }
}

/// The room from its stored parts: `meta` and every value under the
/// member, item and line prefixes (any order). Items the queue's order does
/// not name are dropped; named items that are missing are skipped.
pub fn assemble(meta: PersistedRoom, parts: impl IntoIterator<Item = Part>) -> PersistedRoom {
    let mut room = meta;
    let mut items = BTreeMap::new();
    for part in parts {
        match part {
            Part::Member(m) => room.members.push(m),
            Part::Item(q) => {
                items.insert(q.id, q);
            }
            Part::Line(l) => room.chat.push_back(l),
            Part::Meta(_) => {}
        }
    }
    room.members.sort_by_key(|m| m.id);
    room.chat.make_contiguous().sort_by_key(|l| l.id);
    room.queue = std::mem::take(&mut room.queue_order).into_iter().filter_map(|id| items.remove(&id)).collect();
    room
}
