//! One event: what `indexer/transform.py` does for it (the `_id`, the route, the day, the
//! NDJSON lines), or the reason it is left to that reference path.
//!
//! Every rule mirrors a Python function named in its comment; where the mirror would need more
//! than the port carries (merging into the event's own `kubernetes`, `service`, `kafka` or
//! `event`, a missing `@timestamp`, an ISO stamp that is not the `…Z` shape, what
//! `structured.rs` declines of a line) the event is declined.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;

use crate::json::{scan_into, Kind, Member, Reason, Scanned, TOP};
use crate::structured::{self, Bounds, Edit, EditBuffers, Entry, ParseConfig, Text, Value};
use crate::time::{day_of_seconds, minute_start, Day};

pub const EMPTY: Reason = "empty_message";
pub const INVALID_UTF8: Reason = "invalid_utf8";
pub const NEW_PATH: Reason = "new_path";
pub const INGESTED: Reason = "ingested_shape";
pub const ENRICH: Reason = "own_kubernetes_or_service";
pub const OWN_KAFKA: Reason = "own_kafka_or_event";
pub const NO_TIMESTAMP: Reason = "no_timestamp";
pub const TIMESTAMP: Reason = "timestamp_shape";
pub const ESCAPED_PATH: Reason = "escaped_path";

const MAX_ID_BYTES: usize = 512; // docid.MAX_ID_BYTES

/// Settings fixed per process.
pub struct Config {
    pub prefix: String,
    pub max_past: f64,
    pub max_future: f64,
    pub parsing: bool,
    /// The other `parsing` settings (structured.rs).
    pub line: ParseConfig,
}

/// What Python's `Router` resolved for one path (`Route`), registered by `add_route`.
pub struct RouteEntry {
    pub base: String,
    pub fields: Vec<u8>,
    pub parse: bool,
}

/// Registered paths; `None` is a path that matched no layout.
#[derive(Default)]
pub struct Routes(HashMap<String, Option<RouteEntry>, PathHash>);

impl Routes {
    pub fn new() -> Self {
        Routes::default()
    }

    pub fn get(&self, path: &str) -> Option<&Option<RouteEntry>> {
        self.0.get(path)
    }

    pub fn insert(&mut self, path: String, route: Option<RouteEntry>) {
        self.0.insert(path, route);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// The routes' hash: xxh3 with a seed drawn once per table (from std's random keys), as every
/// event looks its path up (SipHash, std's default, costs several times as much on a path).
#[derive(Clone)]
pub struct PathHash(u64);

impl Default for PathHash {
    fn default() -> Self {
        PathHash(RandomState::new().build_hasher().finish())
    }
}

impl BuildHasher for PathHash {
    type Hasher = PathHasher;

    fn build_hasher(&self) -> PathHasher {
        PathHasher(self.0)
    }
}

pub struct PathHasher(u64);

impl Hasher for PathHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What `transform` gives: the event's placement and its two lines in a buffer of their own.
pub struct Accepted {
    pub placed: Placed,
    pub line: Vec<u8>,
}

/// What `transform_into` appended: the index, where its lines are in the buffer, the flags.
pub struct Placed {
    pub index: String,
    /// The action line and the document (each ending in `\n`) in the caller's buffer.
    pub line: Range<usize>,
    pub unmatched: bool,
    pub redated: bool,
    /// The `@timestamp` the day came from (`DayResolver.last_stamp`), when it did.
    pub stamp: Option<String>,
}

#[derive(Debug)]
pub struct Declined {
    pub reason: Reason,
    /// For `NEW_PATH`: the path Python should resolve and register.
    pub path: Option<String>,
}

impl From<Reason> for Declined {
    fn from(reason: Reason) -> Self {
        Declined { reason, path: None }
    }
}

pub struct Message<'a> {
    pub value: &'a [u8],
    pub topic: &'a str,
    pub partition: i64,
    pub offset: i64,
    /// The Kafka time in seconds (`millis / 1000.0`).
    pub seconds: f64,
}

/// The buffers one event's work needs (the scanned event, the edit, the `_id`'s key), kept
/// between the events of a worker so that an event allocates none of them anew. Holds nothing
/// an event's result depends on: any `Workspace` (a new one, or one used for any events
/// before) gives the same results.
#[derive(Default)]
pub struct Workspace {
    doc: Scanned,
    edit: EditBuffers,
    key: Vec<u8>,
}

/// `transform(router, …)` for one message, or why not.
pub fn transform(
    config: &Config,
    routes: &Routes,
    message: &Message<'_>,
    ingested: &[u8],
) -> Result<Accepted, Declined> {
    let mut line = Vec::new();
    let placed = transform_into(
        config,
        routes,
        message,
        ingested,
        &mut line,
        &mut Workspace::default(),
    )?;
    Ok(Accepted { placed, line })
}

/// `transform` appending the event's two lines to `line` (left exactly as it was when
/// declined), with `work`'s buffers: the work of `Core.take` per message.
pub fn transform_into(
    config: &Config,
    routes: &Routes,
    message: &Message<'_>,
    ingested: &[u8],
    line: &mut Vec<u8>,
    work: &mut Workspace,
) -> Result<Placed, Declined> {
    if message.value.is_empty() {
        return Err(EMPTY.into());
    }
    let Ok(text) = std::str::from_utf8(message.value) else {
        return Err(INVALID_UTF8.into());
    };
    let Workspace { doc, edit, key } = work;
    scan_into(text, doc, false)?;
    let doc: &Scanned = doc;
    let top = Top::of(doc);
    if top.own_kafka {
        return Err(OWN_KAFKA.into()); // encode_event merges into them
    }
    if top.enrich {
        return Err(ENRICH.into()); // Router.place merges into them (_enrich)
    }
    let log = LogFile::of(doc, top.log);
    let id = event_id(doc, &top, &log, message.value, key);
    // Router.place: the route of `log.file.path`; a missing or non-string path is unmatched.
    let route = match member_at(doc, log.path, &[]).filter(|(_, m)| m.kind == Kind::Str) {
        Some((_, path)) if path.escaped => return Err(ESCAPED_PATH.into()),
        Some((_, path)) => {
            let path = doc
                .text(&(path.value.start + 1..path.value.end - 1))
                .ok_or(Declined::from(ESCAPED_PATH))?;
            match routes.get(path) {
                Some(route) => route.as_ref(),
                None => {
                    return Err(Declined {
                        reason: NEW_PATH,
                        path: Some(path.to_owned()),
                    })
                }
            }
        }
        None => None,
    };
    let mut edited = Edit::reusing(doc, std::mem::take(edit));
    let start = line.len();
    let placed = place(
        config,
        route,
        message,
        ingested,
        &top,
        &id,
        &mut edited,
        line,
    );
    *edit = edited.into_buffers();
    if placed.is_err() {
        line.truncate(start);
    }
    placed
}

/// The rest of `transform_into` for a routed event: the parse, the day, the lines.
#[allow(clippy::too_many_arguments)]
fn place<'a>(
    config: &'a Config,
    route: Option<&RouteEntry>,
    message: &Message<'_>,
    ingested: &[u8],
    top: &Top,
    id: &[u8],
    edit: &mut Edit<'a>,
    line: &mut Vec<u8>,
) -> Result<Placed, Declined> {
    let doc = edit.doc;
    let mut own = None;
    if config.parsing && route.is_none_or(|r| r.parse) {
        own = structured::parse(&config.line, &bounds_of(config), edit, message.seconds)?;
        if edit.merged {
            // encode_event merges `ingested` into the `event` keep_original added.
            let stamp = ingested
                .strip_prefix(b",\"event\":{\"ingested\":")
                .and_then(|s| s.strip_suffix(b"}"))
                .filter(|s| {
                    s.len() >= 2
                        && s[0] == b'"'
                        && s[s.len() - 1] == b'"'
                        && s[1..s.len() - 1]
                            .iter()
                            .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
                })
                .ok_or(Declined::from(INGESTED))?;
            let stamp = edit.text(|out| out.extend_from_slice(stamp));
            if let Some(Entry {
                value: Value::Obj(entries),
                ..
            }) = edit
                .top
                .iter_mut()
                .find(|e| matches!(e.key, Text::Slice(b"event")))
            {
                entries.push(Entry {
                    key: Text::Slice(b"ingested"),
                    value: Value::Text(stamp),
                });
            }
        }
    }
    // Router.place: the line's own time when within the bounds, else `@timestamp`'s day.
    let own_day = match &own {
        Some(stamp) => structured::own_day(stamp, message.seconds, &bounds_of(config))?,
        None => None,
    };
    let (day, redated, stamp) = match (own, own_day) {
        (Some(own), Some(day)) => {
            let text = edit.text(|out| {
                out.push(b'"');
                out.extend_from_slice(own.as_bytes());
                out.push(b'"');
            });
            edit.set_top(b"@timestamp", Value::Text(text));
            (day, false, Some(own))
        }
        _ => day(config, doc, top.timestamp, message.seconds)?,
    };
    let index = match route {
        Some(route) => {
            let mut index = String::with_capacity(route.base.len() + 10);
            index.push_str(&route.base);
            day.push_to(&mut index);
            index
        }
        None => {
            let mut index = String::with_capacity(config.prefix.len() + 21);
            index.push_str(&config.prefix);
            index.push_str("-unmatched-");
            day.push_to(&mut index);
            index
        }
    };
    let fields = route.map_or(&b""[..], |r| &r.fields[..]);
    let start = line.len();
    encode_event(&index, id, edit, fields, message, ingested, line);
    Ok(Placed {
        index,
        line: start..line.len(),
        unmatched: route.is_none(),
        redated,
        stamp,
    })
}

fn bounds_of(config: &Config) -> Bounds {
    Bounds {
        max_past: config.max_past,
        max_future: config.max_future,
    }
}

/// The event's own members that the transform reads, found in one pass over its keys.
struct Top {
    /// It has `kafka` or `event` (encode_event merges into them).
    own_kafka: bool,
    /// It has `kubernetes` or `service` (Router.place merges into them).
    enrich: bool,
    metadata: Option<u32>,
    log: Option<u32>,
    message: Option<u32>,
    host: Option<u32>,
    timestamp: Option<u32>,
}

impl Top {
    fn of(doc: &Scanned) -> Top {
        let mut top = Top {
            own_kafka: false,
            enrich: false,
            metadata: None,
            log: None,
            message: None,
            host: None,
            timestamp: None,
        };
        // The scanner declines a key twice: each is found once.
        for (slot, member) in doc.children(TOP) {
            match doc.bytes(&member.key) {
                b"kafka" | b"event" => top.own_kafka = true,
                b"kubernetes" | b"service" => top.enrich = true,
                b"@metadata" => top.metadata = Some(slot),
                b"log" => top.log = Some(slot),
                b"message" => top.message = Some(slot),
                b"host" => top.host = Some(slot),
                b"@timestamp" => top.timestamp = Some(slot),
                _ => {}
            }
        }
        top
    }
}

/// `log.offset`, `log.file`, and `log.file`'s `fingerprint`, `inode`, `device_id` and `path`
/// (each only where every step is an object), found in one pass over each object's keys.
#[derive(Default)]
struct LogFile {
    offset: Option<u32>,
    file: Option<u32>,
    fingerprint: Option<u32>,
    inode: Option<u32>,
    device_id: Option<u32>,
    path: Option<u32>,
}

impl LogFile {
    fn of(doc: &Scanned, log: Option<u32>) -> LogFile {
        let mut found = LogFile::default();
        let Some(log) = log else {
            return found;
        };
        // A member that is not an object has no members recorded: nothing is found in it.
        for (slot, member) in doc.children(log) {
            match doc.bytes(&member.key) {
                b"offset" => found.offset = Some(slot),
                b"file" => found.file = Some(slot),
                _ => {}
            }
        }
        if let Some(file) = found.file {
            for (slot, member) in doc.children(file) {
                match doc.bytes(&member.key) {
                    b"fingerprint" => found.fingerprint = Some(slot),
                    b"inode" => found.inode = Some(slot),
                    b"device_id" => found.device_id = Some(slot),
                    b"path" => found.path = Some(slot),
                    _ => {}
                }
            }
        }
        found
    }
}

/// The member at `path` from the event's own member `slot` (itself when `path` is empty),
/// when every step is an object's member.
fn member_at<'a>(doc: &'a Scanned, slot: Option<u32>, path: &[&[u8]]) -> Option<(u32, &'a Member)> {
    let slot = slot?;
    let mut found = (slot, doc.members.get(slot as usize)?);
    for key in path {
        if found.1.kind != Kind::Object {
            return None;
        }
        found = doc.find(found.0, key)?;
    }
    Some(found)
}

fn string_at<'a>(doc: &'a Scanned, slot: Option<u32>, path: &[&[u8]]) -> Option<&'a Member> {
    member_at(doc, slot, path)
        .map(|(_, m)| m)
        .filter(|m| m.kind == Kind::Str)
}

/// The member's string between its quotes, canonically escaped.
fn inner<'a>(doc: &'a Scanned, member: &Member) -> &'a [u8] {
    doc.bytes(&(member.value.start + 1..member.value.end - 1))
}

/// An `_id`: the shipper's own (canonical text in the scanned event) or 32 hex digits.
enum Id<'a> {
    Given(&'a [u8]),
    Hashed([u8; 32]),
}

impl std::ops::Deref for Id<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Id::Given(bytes) => bytes,
            Id::Hashed(hex) => hex,
        }
    }
}

/// docid.event_id: the shipper's `@metadata._id`, else the line's identity, else the bytes.
/// `key` is a buffer for the identity's JSON (its contents on return are of no use).
fn event_id<'a>(
    doc: &'a Scanned,
    top: &Top,
    log: &LogFile,
    value: &[u8],
    key: &mut Vec<u8>,
) -> Id<'a> {
    if let Some(given) = string_at(doc, top.metadata, &[b"_id"]) {
        if given.bytes > 0 && given.bytes <= MAX_ID_BYTES {
            return Id::Given(inner(doc, given));
        }
    }
    // `event["log"]["offset"]`, `["message"]`, `log["file"]`, `event["host"]["name"]`: each
    // must exist (a non-object on the way is a TypeError, so the message's bytes name it).
    let offset = member_at(doc, log.offset, &[]);
    let file = member_at(doc, log.file, &[]);
    let message = member_at(doc, top.message, &[]);
    let host = member_at(doc, top.host, &[b"name"]);
    let (Some((_, offset)), Some((_, file)), Some((_, message)), Some((_, host))) =
        (offset, file, message, host)
    else {
        return Id::Hashed(hex_id(value));
    };
    if offset.kind != Kind::Int || message.kind != Kind::Str || host.kind != Kind::Str {
        return Id::Hashed(hex_id(value));
    }
    // orjson.dumps((host, identity, offset, message)): a JSON array of the four.
    key.clear();
    key.push(b'[');
    key.extend_from_slice(doc.bytes(&host.value));
    key.push(b',');
    file_identity(doc, log, file, key);
    key.push(b',');
    push_int(key, offset.int);
    key.push(b',');
    key.extend_from_slice(doc.bytes(&message.value));
    key.push(b']');
    Id::Hashed(hex_id(key))
}

/// `str(value)` of an integer, appended.
pub(crate) fn push_int(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// docid._file_of, written as JSON: the fingerprint, else `device:inode` or `:inode`, else the
/// path, else null. Only strings and integers count (a boolean is not an int there).
fn file_identity(doc: &Scanned, log: &LogFile, file: &Member, key: &mut Vec<u8>) {
    if file.kind != Kind::Object {
        key.extend_from_slice(b"null");
        return;
    }
    if let Some((_, fingerprint)) = member_at(doc, log.fingerprint, &[]) {
        if fingerprint.kind == Kind::Str && fingerprint.bytes > 0 {
            key.extend_from_slice(doc.bytes(&fingerprint.value));
            return;
        }
    }
    if let Some((_, inode)) = member_at(doc, log.inode, &[]) {
        let truthy = match inode.kind {
            Kind::Str => inode.bytes > 0,
            Kind::Int => inode.int != 0,
            _ => false,
        };
        if truthy {
            key.push(b'"');
            if let Some((_, device)) = member_at(doc, log.device_id, &[]) {
                write_scalar(doc, device, key);
            }
            key.push(b':');
            write_scalar(doc, inode, key);
            key.push(b'"');
            return;
        }
    }
    match member_at(doc, log.path, &[]) {
        Some((_, path)) if path.kind == Kind::Str => key.extend_from_slice(doc.bytes(&path.value)),
        _ => key.extend_from_slice(b"null"),
    }
}

/// A string's escaped contents or an integer's digits, as an f-string puts them in a string
/// (nothing for any other kind).
fn write_scalar(doc: &Scanned, member: &Member, key: &mut Vec<u8>) {
    match member.kind {
        Kind::Str => key.extend_from_slice(inner(doc, member)),
        Kind::Int => key.extend_from_slice(doc.bytes(&member.value)),
        _ => {}
    }
}

/// docid.message_id: the message's bytes, hashed.
pub fn message_id(value: &[u8]) -> Vec<u8> {
    hex_id(value).to_vec()
}

/// `xxh3_128_hexdigest`: 32 lower-case hex digits, most significant first.
fn hex_id(bytes: &[u8]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = xxhash_rust::xxh3::xxh3_128(bytes).to_be_bytes();
    let mut out = [0u8; 32];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 15)];
    }
    out
}

/// DayResolver.day for the stamps phase 0 takes: `(day, redated, stamp used)`.
fn day(
    config: &Config,
    doc: &Scanned,
    timestamp: Option<u32>,
    seconds: f64,
) -> Result<(Day, bool, Option<String>), Declined> {
    let Some((_, stamp)) = member_at(doc, timestamp, &[]) else {
        return Err(NO_TIMESTAMP.into()); // Router.place appends one
    };
    match stamp.kind {
        Kind::Null => Err(NO_TIMESTAMP.into()),
        Kind::Str => {
            let text = inner(doc, stamp);
            let chars = text.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
            if stamp.escaped || chars < 20 || text.last() != Some(&b'Z') {
                return Err(TIMESTAMP.into()); // stamp_seconds (fromisoformat)
            }
            // `_parse_minute` by strptime("%Y-%m-%dT%H:%M"), strictly; anything looser declines.
            let (start, day) = minute_start(&text[..16]).ok_or(Declined::from(TIMESTAMP))?;
            // DayResolver's rule for the rest: `:SS[.F]Z`, SS 00-59, F 1-9 digits. Anything else
            // is not a date (the reference sets it aside): declined.
            if !seconds_tail(&text[16..]) {
                return Err(TIMESTAMP.into());
            }
            if start - config.max_future <= seconds && seconds <= start + config.max_past {
                // ASCII: `minute_start` and `seconds_tail` read every byte of it.
                let stamp = std::str::from_utf8(text).map_err(|_| Declined::from(TIMESTAMP))?;
                Ok((day, false, Some(stamp.to_owned())))
            } else {
                Ok((day_of_seconds(seconds), true, None))
            }
        }
        // Not a string: not a date; the reference sets it aside (`indexer_timestamp`).
        _ => Err(TIMESTAMP.into()),
    }
}

/// Whether `tail` (what follows `YYYY-MM-DDTHH:MM`) is `:SS[.F]Z` with SS 00-59 and F 1-9
/// digits (route.py `_TAIL`).
pub(crate) fn seconds_tail(tail: &[u8]) -> bool {
    let [b':', tens, ones, rest @ ..] = tail else {
        return false;
    };
    if !(b'0'..=b'5').contains(tens) || !ones.is_ascii_digit() {
        return false;
    }
    match rest {
        [b'Z'] => true,
        [b'.', fraction @ .., b'Z'] => {
            (1..=9).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// encode.encode_event for an event without `kafka` or `event` keys of its own: the action line,
/// then the (edited) document with `fields`, `ingested` and the Kafka coordinates spliced where
/// its `}` was; or, when parsing added `event` (`keep_original`), `kafka` merged in as a new
/// last key and `fields` after it, as the reference's merging branch writes them.
fn encode_event(
    index: &str,
    id: &[u8],
    edit: &Edit<'_>,
    fields: &[u8],
    message: &Message<'_>,
    ingested: &[u8],
    line: &mut Vec<u8>,
) {
    let doc = edit.doc;
    line.reserve(doc.out.len() + edit.scratch.len() + fields.len() + ingested.len() + 160);
    line.extend_from_slice(b"{\"create\":{\"_index\":\"");
    line.extend_from_slice(index.as_bytes());
    line.extend_from_slice(b"\",\"_id\":\"");
    line.extend_from_slice(id);
    line.extend_from_slice(b"\"}}\n{");
    edit.write_entries(&edit.top, line);
    let empty = edit.top.is_empty();
    let kafka = |line: &mut Vec<u8>| {
        line.extend_from_slice(b",\"kafka\":{\"topic\":\"");
        line.extend_from_slice(message.topic.as_bytes());
        line.extend_from_slice(b"\",\"partition\":");
        push_int(line, message.partition);
        line.extend_from_slice(b",\"offset\":");
        push_int(line, message.offset);
        line.push(b'}');
    };
    if edit.merged {
        kafka(line);
        line.extend_from_slice(fields);
        line.extend_from_slice(b"}\n");
        return;
    }
    let tail_start = line.len();
    line.extend_from_slice(fields);
    line.extend_from_slice(ingested);
    kafka(line);
    line.extend_from_slice(b"}\n");
    if empty && line.len() > tail_start {
        line.remove(tail_start); // `{}`: what follows takes no leading comma
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(parsing: bool) -> Config {
        Config {
            prefix: "k8s-logs".into(),
            max_past: 6.0 * 86400.0,
            max_future: 86400.0,
            parsing,
            line: ParseConfig::default(),
        }
    }

    fn run(value: &[u8], routes: &Routes) -> Result<Accepted, Declined> {
        let message = Message {
            value,
            topic: "logs",
            partition: 0,
            offset: 5,
            seconds: 1_764_158_400.0, // 2025-11-26T12:00:00Z
        };
        transform(
            &config(false),
            routes,
            &message,
            b",\"event\":{\"ingested\":\"x\"}",
        )
    }

    #[test]
    fn ids_are_xxh3_128_in_hex() {
        assert_eq!(
            message_id(b"abc"),
            format!("{:032x}", xxhash_rust::xxh3::xxh3_128(b"abc")).into_bytes()
        );
        assert_eq!(message_id(b"").len(), 32);
        for n in 0..2_000u32 {
            let bytes = n.to_le_bytes().repeat(1 + n as usize % 70);
            let digest = xxhash_rust::xxh3::xxh3_128(&bytes);
            assert_eq!(message_id(&bytes), format!("{digest:032x}").into_bytes());
        }
    }

    #[test]
    fn unmatched_event() {
        let out = run(
            br#"{"@timestamp":"2025-11-26T11:00:00.000Z","message":"hi"}"#,
            &Routes::new(),
        );
        let out = out.ok().unwrap();
        assert_eq!(out.placed.index, "k8s-logs-unmatched-2025.11.26");
        assert!(out.placed.unmatched && !out.placed.redated);
        let text = String::from_utf8(out.line).unwrap();
        assert!(text.ends_with(
            "{\"@timestamp\":\"2025-11-26T11:00:00.000Z\",\"message\":\"hi\",\"event\":{\"ingested\":\"x\"},\"kafka\":{\"topic\":\"logs\",\"partition\":0,\"offset\":5}}\n"
        ));
    }

    #[test]
    fn new_path_and_registered_path() {
        let event = br#"{"@timestamp":"2020-01-01T00:00:00.000Z","log":{"file":{"path":"/p"},"offset":1},"message":"m","host":{"name":"h"}}"#;
        let declined = run(event, &Routes::new()).err().unwrap();
        assert_eq!(
            (declined.reason, declined.path.as_deref()),
            (NEW_PATH, Some("/p"))
        );
        let mut routes = Routes::new();
        routes.insert(
            "/p".into(),
            Some(RouteEntry {
                base: "k8s-logs-ns_app-".into(),
                fields: b",\"service\":{\"name\":\"app\"}".to_vec(),
                parse: true,
            }),
        );
        let out = run(event, &routes).ok().unwrap();
        assert_eq!(out.placed.index, "k8s-logs-ns_app-2025.11.26");
        assert!(out.placed.redated);
    }

    #[test]
    fn declines_what_phase_0_does_not_carry() {
        let routes = Routes::new();
        for (event, reason) in [
            (&b""[..], EMPTY),
            (b"\xff", INVALID_UTF8),
            (br#"{"kafka":1}"#, OWN_KAFKA),
            (br#"{"service":1}"#, ENRICH),
            (br#"{"a":1}"#, NO_TIMESTAMP),
            (br#"{"@timestamp":null}"#, NO_TIMESTAMP),
            (br#"{"@timestamp":"2025-11-26T11:00:00+01:00"}"#, TIMESTAMP),
            (br#"{"@timestamp":"2025-13-26T11:00:00.000Z"}"#, TIMESTAMP),
            // Not dates (route.py DayResolver): the reference sets them aside.
            (br#"{"@timestamp":"2025-11-26T10:00garbage!!Z"}"#, TIMESTAMP),
            (br#"{"@timestamp":"2025-11-26T10:00:61.000Z"}"#, TIMESTAMP),
            (
                br#"{"@timestamp":"2025-11-26T10:00:00.0000000000Z"}"#,
                TIMESTAMP,
            ),
            (br#"{"@timestamp":5}"#, TIMESTAMP),
        ] {
            assert_eq!(run(event, &routes).err().unwrap().reason, reason);
        }
    }
}
