//! Structured lines: `indexer/structured.py` `LineParser.parse` for one event, as edits of the
//! scanned event (`Edit`) that `event.rs` then writes.
//!
//! Ported here: the dispatch of `parse` (`max_line_chars`, `keep_original`, the digit-first
//! branch through `plain::digit_start`), `_other` (the s6-log prefix, JSON lines, logfmt lines,
//! the plain fallback through `plain::plain_level_and_time`), the repeated-key rules
//! (`_repeats`, `_unique`, `_single_level`), `_keys`/`_deeper` (as the scanner's depth),
//! `_pairs`/`_closing_end`/`_closed`/`_unquote`, `_apply` with every field rule (`_put`,
//! `_put_origin`, `_epoch`, the `within` bounds of route.py), and `_set_level`. The plain
//! layouts and `normalize` are `plain.rs`'s.
//!
//! Whatever could come out differently is declined (docs/native-core.md, the decline table):
//! settings beyond the port, a non-ASCII character where Python's Unicode-aware `isdigit`,
//! `isalpha`, `lower` or `\d` would decide, numbers the event scanner does not write, an
//! object of the event's own that a rule would merge into, an epoch before 1970.
//!
//! Every edit is bounded by the line: the scratch buffer holds the line's canonical JSON and
//! escaped copies of its pieces, and the entries one per key of it.

use std::borrow::Cow;
use std::ops::Range;

use crate::event::Declined;
use crate::json::{self, Kind, Member, Reason, Scanned, TOP};
use crate::plain::{self, DigitStart};
use crate::time::{civil_from_days, minute_start, Day};

pub const PLAIN_LAYOUT: Reason = "plain_layout";
pub const SETTINGS: Reason = "parsing_settings";
pub const NON_ASCII: Reason = "non_ascii_line";
pub const LINE_FLOAT: Reason = "line_float";
pub const LINE_BIG_INT: Reason = "line_big_integer";
pub const LINE_DEEP: Reason = "line_deep";
pub const LINE_WIDE: Reason = "line_wide";
pub const OWN_FIELD: Reason = "own_parsed_field";
pub const EPOCH: Reason = "epoch_time";
pub const S6_PLAIN: Reason = "s6_plain";
pub const OLD_YEAR: Reason = "line_time_year";

/// Top-level names a parsed line's rules write (or route.py and encode.py merge into): a
/// `parsing.field` among them would meet them, which the port does not follow.
const RESERVED_FIELDS: [&str; 12] = [
    "message",
    "log",
    "error",
    "trace",
    "span",
    "transaction",
    "process",
    "event",
    "kafka",
    "kubernetes",
    "service",
    "host",
];

/// The `parsing` settings (`ParsingSettings`), fixed per process.
pub struct ParseConfig {
    pub field: Vec<u8>,
    pub keep_original: bool,
    pub max_line_chars: usize,
    pub max_keys: usize,
    pub max_depth: usize,
    /// Set when the settings are beyond the port: every parsed event is declined with it.
    pub unsupported: Option<Reason>,
}

impl ParseConfig {
    pub fn new(
        field: &str,
        keep_original: bool,
        max_line_chars: usize,
        max_keys: usize,
        max_depth: usize,
        naive_time_zone: &str,
    ) -> Self {
        // Another zone makes naive times local (zoneinfo); a reserved field meets our fields.
        let unsupported =
            (naive_time_zone != "UTC" || RESERVED_FIELDS.contains(&field)).then_some(SETTINGS);
        ParseConfig {
            field: field.as_bytes().to_vec(),
            keep_original,
            max_line_chars,
            max_keys,
            max_depth,
            unsupported,
        }
    }
}

impl Default for ParseConfig {
    fn default() -> Self {
        ParseConfig::new("json", false, 65_536, 200, 16, "UTC")
    }
}

// Targets, as `structured.py` numbers them (bits, so the ones met are one integer).
const LEVEL: u32 = 1;
const MESSAGE: u32 = 1 << 1;
const TIME: u32 = 1 << 2;
const LOGGER: u32 = 1 << 3;
const STACK: u32 = 1 << 4;
const ERROR: u32 = 1 << 5;
const ERROR_TYPE: u32 = 1 << 6;
const TRACE: u32 = 1 << 7;
const SPAN: u32 = 1 << 8;
const TXN: u32 = 1 << 9;
const THREAD: u32 = 1 << 10;
const CALLER: u32 = 1 << 11;

/// `_TARGETS`: where a JSON or logfmt key goes.
fn target_of(key: &[u8]) -> Option<u32> {
    Some(match key {
        b"level" | b"lvl" | b"severity" | b"levelname" | b"log.level" | b"loglevel" | b"@l" => {
            LEVEL
        }
        b"msg" | b"message" | b"@m" => MESSAGE,
        b"ts" | b"time" | b"timestamp" | b"@timestamp" | b"@t" | b"t" | b"datetime" => TIME,
        b"logger" | b"logger_name" | b"log.logger" => LOGGER,
        b"stacktrace" | b"stack_trace" | b"stack" | b"error.stack_trace" | b"exception" | b"@x" => {
            STACK
        }
        b"error" | b"err" | b"error.message" => ERROR,
        b"error.type" | b"error_type" | b"exception_class" => ERROR_TYPE,
        b"trace_id" | b"traceId" | b"trace.id" | b"traceid" => TRACE,
        b"span_id" | b"spanId" | b"span.id" | b"spanid" => SPAN,
        b"transaction.id" | b"transaction_id" => TXN,
        b"thread" | b"thread_name" | b"process.thread.name" => THREAD,
        b"caller" => CALLER,
        _ => return None,
    })
}

/// `_FIELDS`: the ECS field each other target fills (its parents, its name).
fn field_of(target: u32) -> (&'static [&'static [u8]], &'static [u8]) {
    match target {
        LOGGER => (&[b"log"], b"logger"),
        STACK => (&[b"error"], b"stack_trace"),
        ERROR => (&[b"error"], b"message"),
        ERROR_TYPE => (&[b"error"], b"type"),
        TRACE => (&[b"trace"], b"id"),
        SPAN => (&[b"span"], b"id"),
        TXN => (&[b"transaction"], b"id"),
        _ => (&[b"process", b"thread"], b"name"),
    }
}

/// `_NUMERIC`: pino's and bunyan's numeric levels.
fn numeric_level(value: i64) -> Option<&'static str> {
    Some(match value {
        10 => "trace",
        20 => "debug",
        30 => "info",
        40 => "warn",
        50 => "error",
        60 => "fatal",
        _ => return None,
    })
}

// The edited event -----------------------------------------------------------------------------

/// Bytes of the edit: borrowed (the event's canonical text, a static name) or in the scratch.
#[derive(Clone)]
pub enum Text<'a> {
    Slice(&'a [u8]),
    Scratch(Range<usize>),
}

/// A value of the edited event: one of the event's own (its member slot, written as scanned),
/// canonical JSON text, or an object (new, or one of the event's opened to add keys).
pub enum Value<'a> {
    Orig(u32),
    Text(Text<'a>),
    Obj(Vec<Entry<'a>>),
}

pub struct Entry<'a> {
    /// The key as written between its quotes (canonical escaping).
    pub key: Text<'a>,
    pub value: Value<'a>,
}

/// The event as the reference's dict would be after `parse` (without `@metadata`, which
/// `docid.event_id` removed before).
pub struct Edit<'a> {
    pub doc: &'a Scanned,
    pub top: Vec<Entry<'a>>,
    pub scratch: Vec<u8>,
    /// `keep_original` added `event` (encode.py then merges `kafka` and `ingested` into it).
    pub merged: bool,
    /// A JSON line's body, scanned (its buffers reused).
    line: Scanned,
    /// The message decoded, when it holds escapes (its buffer reused).
    message: Vec<u8>,
}

/// The buffers of an `Edit`, kept between events (`event::Workspace`): emptied, their capacity
/// kept, so an event edits without allocating them anew.
#[derive(Default)]
pub struct EditBuffers {
    top: Vec<Entry<'static>>,
    scratch: Vec<u8>,
    line: Scanned,
    message: Vec<u8>,
}

/// An emptied vector of entries, its allocation kept, for entries of another lifetime (the
/// in-place collect of an empty `IntoIter` keeps the buffer: same layout).
#[allow(clippy::unnecessary_filter_map)] // `filter_map` to change the lifetime, never called
fn recycle<'b>(mut entries: Vec<Entry<'_>>) -> Vec<Entry<'b>> {
    entries.clear();
    entries.into_iter().filter_map(|_| None).collect()
}

impl<'a> Edit<'a> {
    pub fn new(doc: &'a Scanned) -> Self {
        Edit::reusing(doc, EditBuffers::default())
    }

    /// The unedited event, in `buffers` (`into_buffers` gives them back).
    pub fn reusing(doc: &'a Scanned, buffers: EditBuffers) -> Self {
        let mut top = recycle(buffers.top);
        top.extend(
            doc.children(TOP)
                .filter(|(_, m)| doc.bytes(&m.key) != b"@metadata")
                .map(|(i, m)| Entry {
                    key: Text::Slice(doc.bytes(&m.key)),
                    value: Value::Orig(i),
                }),
        );
        let mut scratch = buffers.scratch;
        scratch.clear();
        Edit {
            doc,
            top,
            scratch,
            merged: false,
            line: buffers.line,
            message: buffers.message,
        }
    }

    /// The buffers, for the next event.
    pub fn into_buffers(self) -> EditBuffers {
        EditBuffers {
            top: recycle(self.top),
            scratch: self.scratch,
            line: self.line,
            message: self.message,
        }
    }

    /// Canonical JSON text appended to the scratch.
    pub fn text(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Text<'a> {
        let start = self.scratch.len();
        write(&mut self.scratch);
        Text::Scratch(start..self.scratch.len())
    }

    /// A JSON string of `text`, escaped as orjson writes it.
    pub fn string(&mut self, text: &str) -> Text<'a> {
        self.text(|out| {
            out.push(b'"');
            escape(text, out);
            out.push(b'"');
        })
    }

    pub fn write(&self, value: &Value<'_>, out: &mut Vec<u8>) {
        match value {
            Value::Orig(slot) => {
                out.extend_from_slice(self.doc.bytes(&self.doc.members[*slot as usize].value))
            }
            Value::Text(text) => out.extend_from_slice(resolve(text, &self.scratch)),
            Value::Obj(entries) => {
                out.push(b'{');
                self.write_entries(entries, out);
                out.push(b'}');
            }
        }
    }

    /// `"key":value` pairs, comma-separated. Consecutive entries that are members of the event
    /// as scanned, under their own keys, and next to each other there, are copied as one run
    /// (the canonical text between two neighbouring members is exactly one comma).
    pub fn write_entries(&self, entries: &[Entry<'_>], out: &mut Vec<u8>) {
        let mut run: Option<Range<usize>> = None;
        for (i, entry) in entries.iter().enumerate() {
            if let Some(whole) = self.own_member(entry) {
                match &mut run {
                    Some(run) if run.end + 1 == whole.start => run.end = whole.end,
                    _ => {
                        if let Some(run) = run.replace(whole) {
                            out.extend_from_slice(self.doc.bytes(&run));
                        }
                        if i > 0 {
                            out.push(b',');
                        }
                    }
                }
                continue;
            }
            if let Some(run) = run.take() {
                out.extend_from_slice(self.doc.bytes(&run));
            }
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(resolve(&entry.key, &self.scratch));
            out.extend_from_slice(b"\":");
            self.write(&entry.value, out);
        }
        if let Some(run) = run {
            out.extend_from_slice(self.doc.bytes(&run));
        }
    }

    /// Where the entry is written in the scanned event (`"key":value`), when it is one of its
    /// members unedited under its own key (the very bytes the scanner recorded for it).
    fn own_member(&self, entry: &Entry<'_>) -> Option<Range<usize>> {
        let (Text::Slice(key), Value::Orig(slot)) = (&entry.key, &entry.value) else {
            return None;
        };
        let member = self.doc.members.get(*slot as usize)?;
        let own = self.doc.bytes(&member.key);
        (std::ptr::eq(key.as_ptr(), own.as_ptr()) && key.len() == own.len()).then(|| member.whole())
    }

    /// `event[key] = value`: replaced where the key is, else added last.
    pub fn set_top(&mut self, key: &'a [u8], value: Value<'a>) {
        match find(&self.top, key, &self.scratch) {
            Some(i) => self.top[i].value = value,
            None => self.top.push(Entry {
                key: Text::Slice(key),
                value,
            }),
        }
    }
}

fn resolve<'b>(text: &'b Text<'_>, scratch: &'b [u8]) -> &'b [u8] {
    match text {
        Text::Slice(bytes) => bytes,
        Text::Scratch(range) => scratch.get(range.clone()).unwrap_or_default(),
    }
}

fn find(entries: &[Entry<'_>], key: &[u8], scratch: &[u8]) -> Option<usize> {
    entries.iter().position(|e| resolve(&e.key, scratch) == key)
}

/// `value is None` for a value that is there (JSON null).
fn is_null(value: &Value<'_>, doc: &Scanned) -> bool {
    matches!(value, Value::Orig(slot) if doc.members[*slot as usize].kind == Kind::Null)
}

/// `value.__class__ is dict`.
fn is_dict(value: &Value<'_>, doc: &Scanned) -> bool {
    match value {
        Value::Obj(_) => true,
        Value::Orig(slot) => doc.members[*slot as usize].kind == Kind::Object,
        Value::Text(_) => false,
    }
}

/// The entries of an object value, opening one of the event's own (its recorded members) so
/// keys can be added. Declined when its members were not recorded (deeper than the scanner
/// records), which the fields written here never reach.
fn open<'v, 'a>(
    value: &'v mut Value<'a>,
    doc: &'a Scanned,
) -> Result<&'v mut Vec<Entry<'a>>, Declined> {
    if let Value::Orig(slot) = *value {
        let mut depth = 2; // the object's own depth: its member's chain, plus one
        let mut parent = doc.members[slot as usize].parent;
        while parent != TOP {
            depth += 1;
            parent = doc.members[parent as usize].parent;
        }
        if doc.members[slot as usize].kind != Kind::Object || depth > 3 {
            return Err(OWN_FIELD.into());
        }
        let entries = doc
            .children(slot)
            .map(|(i, m)| Entry {
                key: Text::Slice(doc.bytes(&m.key)),
                value: Value::Orig(i),
            })
            .collect();
        *value = Value::Obj(entries);
    }
    match value {
        Value::Obj(entries) => Ok(entries),
        _ => Err(OWN_FIELD.into()),
    }
}

/// `_put`: `name` under the `parents` path unless something is already there or a non-object
/// sits on the way. True when set.
fn put<'a>(
    entries: &mut Vec<Entry<'a>>,
    doc: &'a Scanned,
    scratch: &[u8],
    parents: &[&'static [u8]],
    name: &'static [u8],
    value: Value<'a>,
) -> Result<bool, Declined> {
    let Some((first, rest)) = parents.split_first() else {
        if find(entries, name, scratch).is_some() {
            return Ok(false);
        }
        entries.push(Entry {
            key: Text::Slice(name),
            value,
        });
        return Ok(true);
    };
    let at = match find(entries, first, scratch) {
        Some(at) => at,
        None => {
            entries.push(Entry {
                key: Text::Slice(first),
                value: Value::Obj(Vec::new()),
            });
            entries.len() - 1
        }
    };
    let child = &mut entries[at].value;
    if is_null(child, doc) {
        *child = Value::Obj(Vec::new());
    } else if !is_dict(child, doc) {
        return Ok(false);
    }
    put(open(child, doc)?, doc, scratch, rest, name, value)
}

// Parsing ----------------------------------------------------------------------------------------

/// One key of a JSON or logfmt line: its key and value as canonical JSON in the scratch.
struct Field {
    key: Range<usize>,
    value: Range<usize>,
    kind: Kind,
    int: i64,
    float: f64,
    /// `_apply` put it into its ECS field (or used it as the time): not left under the field.
    moved: bool,
}

/// What `parse` needs of route.py: the routing bounds (`DayResolver.own_day`).
pub struct Bounds {
    pub max_past: f64,
    pub max_future: f64,
}

/// `LineParser.parse(event, ingest_seconds)`: edits `edit` as the reference edits the event,
/// and returns the time the caller uses as `@timestamp` when within the bounds.
pub fn parse<'a>(
    config: &'a ParseConfig,
    bounds: &Bounds,
    edit: &mut Edit<'a>,
    seconds: f64,
) -> Result<Option<String>, Declined> {
    if let Some(reason) = config.unsupported {
        return Err(reason.into());
    }
    let doc = edit.doc;
    let Some(at) = find(&edit.top, b"message", &edit.scratch) else {
        return Ok(None);
    };
    let Value::Orig(slot) = edit.top[at].value else {
        return Ok(None);
    };
    let member = &doc.members[slot as usize];
    if member.kind != Kind::Str || member.bytes == 0 {
        return Ok(None);
    }
    let range = member.value.start + 1..member.value.end - 1;
    let mut decoded = std::mem::take(&mut edit.message);
    let outcome = match doc.text(&range) {
        Some(canonical) => {
            let message = unescape_text(canonical, &mut decoded);
            parse_message(config, bounds, edit, slot, message, seconds)
        }
        None => {
            let message = unescape(doc.bytes(&range)); // never: ranges fall on characters
            parse_message(config, bounds, edit, slot, &message, seconds)
        }
    };
    edit.message = decoded;
    outcome
}

/// The rest of `parse` for the event's non-empty string `message` (at `slot`), decoded.
fn parse_message<'a>(
    config: &'a ParseConfig,
    bounds: &Bounds,
    edit: &mut Edit<'a>,
    slot: u32,
    message: &str,
    seconds: f64,
) -> Result<Option<String>, Declined> {
    if message.len() > config.max_line_chars && message.chars().count() > config.max_line_chars {
        return Ok(None);
    }
    if config.keep_original {
        // `_child(event, "event").setdefault("original", message)`: the event has no `event`
        // (event.rs declines one), so a new object, last.
        edit.top.push(Entry {
            key: Text::Slice(b"event"),
            value: Value::Obj(vec![Entry {
                key: Text::Slice(b"original"),
                value: Value::Orig(slot),
            }]),
        });
        edit.merged = true;
    }
    let first = message.as_bytes().first().copied().unwrap_or(b' ');
    if !first.is_ascii() {
        return Err(NON_ASCII.into()); // `isdigit`, `isalpha` of any script
    }
    if first.is_ascii_digit() {
        match plain::digit_start(message) {
            None => return Err(PLAIN_LAYOUT.into()),
            Some(DigitStart::NoLayout) => return Ok(None),
            Some(DigitStart::Iso { level, time }) => {
                if let Some(level) = level {
                    set_level(edit, level);
                }
                return Ok(time);
            }
            Some(DigitStart::Other) => {}
        }
    }
    other(config, bounds, edit, message, seconds)
}

/// `_other`: the s6-log prefix, then a JSON line, a logfmt line, or a plain one.
fn other<'a>(
    config: &'a ParseConfig,
    bounds: &Bounds,
    edit: &mut Edit<'a>,
    message: &str,
    seconds: f64,
) -> Result<Option<String>, Declined> {
    let mut body = message;
    let mut line_time = None;
    if let Some(end) = s6_end(message)? {
        line_time = Some(&message[..29]);
        body = &message[end..];
    }
    let first = body.as_bytes().first().copied();
    if first.is_some_and(|b| !b.is_ascii()) {
        return Err(NON_ASCII.into());
    }
    if first == Some(b'{') {
        let mut scanned = std::mem::take(&mut edit.line);
        let read = json::scan_into(body, &mut scanned, true);
        let outcome = json_line(config, bounds, edit, &scanned, read, line_time, seconds);
        edit.line = scanned;
        if let Some(outcome) = outcome {
            return outcome;
        }
    } else if first.is_some_and(|b| b.is_ascii_alphabetic()) && body.contains('=') {
        if let Some(fields) = logfmt(edit, body, config.max_keys)? {
            return apply(config, bounds, edit, fields, 0, line_time, seconds);
        }
    }
    let (level, own) = plain::plain_level_and_time(body, seconds).ok_or(PLAIN_LAYOUT)?;
    if line_time.is_some() && own.is_none() {
        // The line's own time refused by `normalize` and no time of its own read the same at
        // this boundary; only the first leaves the s6 time unused.
        return Err(S6_PLAIN.into());
    }
    if let Some(level) = level {
        set_level(edit, level);
    }
    Ok(own)
}

/// A JSON line (`_json`, or `_repeats` for a key twice) scanned into `scanned` (`read`: the
/// scan's outcome): its outcome, or None when the reference reads it as a plain line.
fn json_line<'a>(
    config: &'a ParseConfig,
    bounds: &Bounds,
    edit: &mut Edit<'a>,
    scanned: &Scanned,
    read: Result<(), Reason>,
    line_time: Option<&str>,
    seconds: f64,
) -> Option<Result<Option<String>, Declined>> {
    match read {
        Ok(()) => {
            let top = scanned.members.iter().filter(|m| m.parent == TOP);
            if !scanned.duplicates {
                // `_json`: within max_keys and max_depth, else a plain line.
                if top.count() <= config.max_keys && scanned.depth <= config.max_depth {
                    let floats = scanned.floats;
                    let fields = json_fields(edit, scanned);
                    return Some(apply(
                        config, bounds, edit, fields, floats, line_time, seconds,
                    ));
                }
            } else {
                // A key twice (`_repeats`, exact: the cheap count in `_other` can never
                // match then). `len(obj)` counts distinct keys; `_deeper` sees the object
                // orjson kept, which the scanner's depth bounds from above only.
                let keys: Vec<&[u8]> = top.map(|m| scanned.bytes(&m.key)).collect();
                let distinct = keys
                    .iter()
                    .enumerate()
                    .filter(|(i, k)| !keys[..*i].contains(k))
                    .count();
                if distinct <= config.max_keys {
                    if scanned.depth > config.max_depth {
                        return Some(Err(LINE_DEEP.into()));
                    }
                    let level = match single_level(scanned) {
                        Ok(level) => level,
                        Err(declined) => return Some(Err(declined)),
                    };
                    if let Some(level) = level {
                        set_level(edit, &level);
                    }
                    return Some(match line_time {
                        None => Ok(None),
                        Some(time) => plain::normalize(time).ok_or(PLAIN_LAYOUT.into()),
                    });
                }
            }
            None
        }
        Err(json::INVALID | json::NOT_OBJECT) => None, // orjson refuses it: a plain line
        Err(json::FLOAT) => Some(Err(LINE_FLOAT.into())),
        Err(json::BIG_INT) => Some(Err(LINE_BIG_INT.into())),
        Err(json::DEEP) => Some(Err(LINE_DEEP.into())),
        Err(json::WIDE) => Some(Err(LINE_WIDE.into())),
        Err(reason) => Some(Err(reason.into())),
    }
}

/// Where the body begins after s6-log's `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` and one or two spaces,
/// when `_S6` matches (`len(message) > 30 and message[19] == "." and message[10] == " "` first).
fn s6_end(message: &str) -> Result<Option<usize>, Declined> {
    let b = message.as_bytes();
    if b.len() < 31 {
        return Ok(None); // fewer than 31 characters
    }
    if !b[..31].is_ascii() {
        // `\d` takes any script's digits: decline only what the cheap test lets through.
        let head: Vec<char> = message.chars().take(31).collect();
        if head.len() == 31 && head[19] == '.' && head[10] == ' ' {
            return Err(NON_ASCII.into());
        }
        return Ok(None);
    }
    if b[19] != b'.' || b[10] != b' ' {
        return Ok(None);
    }
    let shape = b"dddd-dd-dd dd:dd:dd.ddddddddd ";
    let matches = shape.iter().zip(b).all(|(want, got)| match want {
        b'd' => got.is_ascii_digit(),
        _ => want == got,
    });
    if !matches {
        return Ok(None);
    }
    Ok(Some(if b[30] == b' ' { 31 } else { 30 }))
}

/// The top-level members of a JSON line, moved into the scratch.
fn json_fields(edit: &mut Edit<'_>, scanned: &Scanned) -> Vec<Field> {
    let offset = edit.scratch.len();
    let shift = |r: &Range<usize>| r.start + offset..r.end + offset;
    let fields = scanned
        .members
        .iter()
        .filter(|m| m.parent == TOP)
        .map(|m| Field {
            key: shift(&m.key),
            value: shift(&m.value),
            kind: m.kind,
            int: m.int,
            float: m.float,
            moved: false,
        })
        .collect();
    edit.scratch.extend_from_slice(scanned.out.as_bytes());
    fields
}

/// `_single_level`: the level of a JSON line with a repeated key when its top-level level keys
/// all say the same. `repr` equality is canonical equality for scalars; an object or array
/// among them never gives a level.
fn single_level(scanned: &Scanned) -> Result<Option<String>, Declined> {
    let levels: Vec<&Member> = scanned
        .members
        .iter()
        .filter(|m| m.parent == TOP && target_of(scanned.bytes(&m.key)) == Some(LEVEL))
        .collect();
    let Some(first) = levels.first() else {
        return Ok(None);
    };
    if levels
        .iter()
        .any(|m| matches!(m.kind, Kind::Object | Kind::Array))
        || levels
            .iter()
            .any(|m| m.kind != first.kind || scanned.bytes(&m.value) != scanned.bytes(&first.value))
    {
        return Ok(None);
    }
    match first.kind {
        Kind::Int => Ok(numeric_level(first.int).map(str::to_owned)),
        Kind::Str => {
            let text = scanned.bytes(&(first.value.start + 1..first.value.end - 1));
            let text = unescape(text);
            let chars = text.chars().count();
            if chars == 0 || chars > 32 {
                return Ok(None);
            }
            if !text.is_ascii() {
                return Err(NON_ASCII.into()); // `lower()` of any script
            }
            Ok(Some(text.to_ascii_lowercase()))
        }
        _ => Ok(None),
    }
}

/// `_set_level`.
fn set_level(edit: &mut Edit<'_>, level: &str) {
    let doc = edit.doc;
    let value = edit.text(|out| {
        out.push(b'"');
        escape(level, out);
        out.push(b'"');
    });
    let entry = Entry {
        key: Text::Slice(b"level"),
        value: Value::Text(value),
    };
    match find(&edit.top, b"log", &edit.scratch) {
        None => edit.top.push(Entry {
            key: Text::Slice(b"log"),
            value: Value::Obj(vec![entry]),
        }),
        Some(at) => {
            let log = &mut edit.top[at].value;
            if is_null(log, doc) {
                *log = Value::Obj(vec![entry]);
            } else if is_dict(log, doc) {
                if let Ok(entries) = open(log, doc) {
                    if find(entries, b"level", &edit.scratch).is_none() {
                        entries.push(entry);
                    }
                }
            }
        }
    }
}

/// `_logfmt` (`_pairs` of the line without its trailing white space, within `max_keys`): the
/// pairs in the scratch, or None for a line that is not logfmt.
fn logfmt(
    edit: &mut Edit<'_>,
    body: &str,
    max_keys: usize,
) -> Result<Option<Vec<Field>>, Declined> {
    let line = body.trim_end_matches(is_python_space).as_bytes();
    let mut fields: Vec<Field> = Vec::with_capacity(8);
    let mut pos = 0;
    loop {
        if fields.len() > max_keys {
            return Ok(None); // `_logfmt` refuses it whatever follows
        }
        let token_end = line[pos..]
            .iter()
            .position(|&b| b == b' ')
            .map_or(line.len(), |p| pos + p);
        let token = &line[pos..token_end];
        let Some(eq) = token.iter().position(|&b| b == b'=') else {
            return Ok(None);
        };
        let key = &token[..eq];
        let value = &token[eq + 1..];
        match key.first() {
            Some(b) if !b.is_ascii() => return Err(NON_ASCII.into()),
            Some(b) if b.is_ascii_alphabetic() || *b == b'_' || *b == b'@' => {}
            _ => return Ok(None),
        }
        if key.contains(&b'"') {
            return Ok(None);
        }
        // The key, then the value's canonical JSON string, into the scratch (what a refused
        // line leaves there is never read).
        let scratch = &mut edit.scratch;
        let key_start = scratch.len();
        push_escaped(key, scratch);
        let value_start = scratch.len();
        let mut next = token_end + 1;
        if value.first() == Some(&b'"') {
            if value.len() > 1 && value.last() == Some(&b'"') && !value.contains(&b'\\') {
                push_quoted(&value[1..value.len() - 1], scratch);
            } else if closed(value) {
                push_unquoted(value, scratch);
            } else {
                let opening = pos + eq + 1;
                let Some(end) = closing_end(line, opening + 1) else {
                    return Ok(None);
                };
                push_unquoted(&line[opening..end], scratch);
                next = end + 1;
            }
        } else if value.contains(&b'"') || value.contains(&b'=') {
            return Ok(None);
        } else {
            push_quoted(value, scratch);
        }
        // A key twice (escaping is one-to-one: equal escaped keys are equal keys).
        let escaped_key = &scratch[key_start..value_start];
        if fields
            .iter()
            .any(|f| scratch.get(f.key.clone()) == Some(escaped_key))
        {
            return Ok(None);
        }
        fields.push(Field {
            key: key_start..value_start,
            value: value_start..scratch.len(),
            kind: Kind::Str,
            int: 0,
            float: 0.0,
            moved: false,
        });
        if next > line.len() {
            break;
        }
        pos = next;
    }
    Ok((fields.len() <= max_keys).then_some(fields))
}

/// Raw bytes (valid UTF-8 pieces of the line) escaped as orjson writes them, appended.
fn push_escaped(raw: &[u8], out: &mut Vec<u8>) {
    match std::str::from_utf8(raw) {
        Ok(text) => escape(text, out),
        Err(_) => escape(&String::from_utf8_lossy(raw), out),
    }
}

/// `push_escaped` between quotes.
fn push_quoted(raw: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    push_escaped(raw, out);
    out.push(b'"');
}

/// `_closed(token, 2)`: at least 2 characters, ending with an unescaped `"`.
fn closed(token: &[u8]) -> bool {
    if token.len() < 2 || token.last() != Some(&b'"') {
        return false;
    }
    let inner = &token[..token.len() - 1];
    let backslashes = inner.iter().rev().take_while(|&&b| b == b'\\').count();
    backslashes % 2 == 0
}

/// `_closing_end`: just after the closing `"` of a quoted value whose text starts at `start`.
fn closing_end(line: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    loop {
        let found = at
            + line
                .get(at..)?
                .iter()
                .position(|&b| b == b'\\' || b == b'"')?;
        if line[found] == b'\\' {
            at = found + 2;
            continue;
        }
        let after = line.get(found + 1..(found + 3).min(line.len()))?;
        if after.is_empty() || after[0] == b' ' || after == b"\n" {
            return Some(found + 1);
        }
        at = found + 1;
    }
}

/// `_unquote` of a quoted value (with its quotes): orjson's reading when it is one JSON
/// string, else the text between the quotes as it is.
fn push_unquoted(value: &[u8], out: &mut Vec<u8>) {
    if value.contains(&b'\\') {
        if let Some(text) = json::string_literal(value) {
            out.extend_from_slice(&text);
            return;
        }
    }
    push_quoted(
        value
            .get(1..value.len().saturating_sub(1))
            .unwrap_or_default(),
        out,
    );
}

/// Python's `str.isspace` (what `str.rstrip()` strips).
fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\x1c'..='\x1f'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// What the event's own `parsing.field` is, read before the keys are applied (`rest`).
enum Rest {
    Absent,
    Null,
    Empty,
    Full,
}

/// `_apply`: the mapped keys into their ECS fields in the line's order, the rest under
/// `parsing.field`, and the line's time when within the bounds. `floats`: how many floats the
/// line holds; one that would be written (anywhere but a time key used) is declined.
fn apply<'a>(
    config: &'a ParseConfig,
    bounds: &Bounds,
    edit: &mut Edit<'a>,
    mut fields: Vec<Field>,
    floats: usize,
    line_time: Option<&str>,
    seconds: f64,
) -> Result<Option<String>, Declined> {
    let doc = edit.doc;
    let name: &'a [u8] = &config.field;
    let rest = match find(&edit.top, name, &edit.scratch).map(|at| &edit.top[at].value) {
        None => Rest::Absent,
        Some(value) if is_null(value, doc) => Rest::Null,
        Some(Value::Orig(slot)) if doc.members[*slot as usize].kind == Kind::Object => {
            if doc.bytes(&doc.members[*slot as usize].value) == b"{}" {
                Rest::Empty
            } else {
                Rest::Full
            }
        }
        Some(_) => return Ok(None), // the shipper's own value: the line stays as it is
    };
    let mut stamp: Option<String> = None;
    let mut floats_used = 0;
    let mut met = 0u32;
    for field in fields.iter_mut() {
        let key = &edit.scratch[field.key.clone()];
        let Some(target) = target_of(key) else {
            continue;
        };
        if met & target != 0 {
            continue;
        }
        met |= target;
        let inner = field.value.start + 1..field.value.end.saturating_sub(1);
        if target == TIME {
            stamp = match field.kind {
                Kind::Str => {
                    let canonical = &edit.scratch[inner];
                    let text = match std::str::from_utf8(canonical) {
                        Ok(text) if !text.contains('\\') => Cow::Borrowed(text),
                        _ => Cow::Owned(unescape(canonical)), // as `unescape` reads it
                    };
                    plain::normalize(&text).ok_or(PLAIN_LAYOUT)?
                }
                Kind::Int => epoch(field.int as f64)?,
                Kind::Float => epoch(field.float)?,
                _ => None,
            };
            match &stamp {
                Some(s) if own_day(s, seconds, bounds)?.is_some() => {
                    field.moved = true;
                    floats_used += usize::from(field.kind == Kind::Float);
                }
                _ => stamp = None,
            }
            continue;
        }
        // A non-empty string, or (for a level) one of pino's numbers.
        let level_word = if field.kind == Kind::Str && field.value.len() > 2 {
            None
        } else if target == LEVEL && field.kind == Kind::Int {
            match numeric_level(field.int) {
                Some(word) => Some(word),
                None => continue,
            }
        } else {
            continue;
        };
        let done = match target {
            MESSAGE => {
                let value = Value::Text(Text::Scratch(field.value.clone()));
                edit.set_top(b"message", value);
                true
            }
            LEVEL => match level_word {
                Some(word) => apply_level(edit, word)?,
                None => {
                    let text = unescape(&edit.scratch[inner]);
                    apply_level(edit, &text)?
                }
            },
            CALLER => put_caller(edit, inner)?,
            _ => {
                let (parents, leaf) = field_of(target);
                let value = Value::Text(Text::Scratch(field.value.clone()));
                put(&mut edit.top, doc, &edit.scratch, parents, leaf, value)?
            }
        };
        field.moved = done;
    }
    if stamp.is_none() {
        if let Some(time) = line_time {
            stamp = plain::normalize(time).ok_or(PLAIN_LAYOUT)?;
            if let Some(s) = &stamp {
                if own_day(s, seconds, bounds)?.is_none() {
                    stamp = None;
                }
            }
        }
    }
    if floats > floats_used {
        return Err(LINE_FLOAT.into()); // orjson's float text is not written here
    }
    let left: Vec<Entry<'a>> = fields
        .iter()
        .filter(|field| !field.moved)
        .map(|field| Entry {
            key: Text::Scratch(field.key.clone()),
            value: Value::Text(Text::Scratch(field.value.clone())),
        })
        .collect();
    if !left.is_empty() {
        match rest {
            Rest::Full => return Err(OWN_FIELD.into()), // merged with setdefault: not ported
            Rest::Absent | Rest::Null | Rest::Empty => edit.set_top(name, Value::Obj(left)),
        }
    }
    Ok(stamp)
}

/// The level target of `_apply`: set when the event's `log` takes it. True when set.
fn apply_level(edit: &mut Edit<'_>, value: &str) -> Result<bool, Declined> {
    let doc = edit.doc;
    let long = value.chars().count() > 32;
    let at = find(&edit.top, b"log", &edit.scratch);
    let none = at.is_none_or(|at| is_null(&edit.top[at].value, doc));
    if none && !long {
        edit.set_top(b"log", Value::Obj(Vec::new()));
    }
    if long {
        return Ok(false);
    }
    let Some(at) = find(&edit.top, b"log", &edit.scratch) else {
        return Ok(false);
    };
    if !is_dict(&edit.top[at].value, doc) {
        return Ok(false);
    }
    let entries = open(&mut edit.top[at].value, doc)?;
    if find(entries, b"level", &edit.scratch).is_some() {
        return Ok(false);
    }
    if !value.is_ascii() {
        return Err(NON_ASCII.into()); // `lower()` of any script
    }
    // `edit.string(&value.to_ascii_lowercase())` without the copy: lower-casing ASCII letters
    // neither makes nor unmakes a character that needs escaping.
    let lower = if value.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        edit.string(&value.to_ascii_lowercase())
    } else {
        edit.text(|out| {
            out.push(b'"');
            out.extend(value.bytes().map(|b| b.to_ascii_lowercase()));
            out.push(b'"');
        })
    };
    let Value::Obj(entries) = &mut edit.top[at].value else {
        return Ok(false);
    };
    entries.push(Entry {
        key: Text::Slice(b"level"),
        value: Value::Text(lower),
    });
    Ok(true)
}

/// The caller target: `file:line` into `log.origin.file` (`_put_origin`). `inner` is the
/// value's canonical text without its quotes (`:` is never escaped, nor are digits).
fn put_caller(edit: &mut Edit<'_>, inner: Range<usize>) -> Result<bool, Declined> {
    let doc = edit.doc;
    let Some(text) = edit.scratch.get(inner.clone()) else {
        return Ok(false);
    };
    let Some(colon) = text.iter().rposition(|&b| b == b':') else {
        return Ok(false);
    };
    let (file, line) = (&text[..colon], &text[colon + 1..]);
    if file.is_empty() || line.is_empty() || line.len() > 9 || !line.iter().all(u8::is_ascii_digit)
    {
        return Ok(false);
    }
    let number: u32 = line.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0'));
    let file = inner.start..inner.start + colon; // in the scratch
    let name = edit.text(|out| {
        out.push(b'"');
        out.extend_from_within(file);
        out.push(b'"');
    });
    let number = edit.text(|out| crate::event::push_int(out, i64::from(number)));
    let origin = Value::Obj(vec![Entry {
        key: Text::Slice(b"file"),
        value: Value::Obj(vec![
            Entry {
                key: Text::Slice(b"name"),
                value: Value::Text(name),
            },
            Entry {
                key: Text::Slice(b"line"),
                value: Value::Text(number),
            },
        ]),
    }]);
    let origin = Entry {
        key: Text::Slice(b"origin"),
        value: origin,
    };
    match find(&edit.top, b"log", &edit.scratch) {
        None => {
            edit.top.push(Entry {
                key: Text::Slice(b"log"),
                value: Value::Obj(vec![origin]),
            });
            Ok(true)
        }
        Some(at) => {
            let log = &mut edit.top[at].value;
            if is_null(log, doc) {
                *log = Value::Obj(vec![origin]);
                return Ok(true);
            }
            if !is_dict(log, doc) {
                return Ok(false);
            }
            let entries = open(log, doc)?;
            if find(entries, b"origin", &edit.scratch).is_some() {
                return Err(OWN_FIELD.into()); // the shipper's own log.origin: not ported
            }
            entries.push(origin);
            Ok(true)
        }
    }
}

/// `DayResolver.own_day` (route.py): the day of a `YYYY-MM-DDTHH:MM:SS.mmmZ` stamp that is a
/// real time within the bounds of the Kafka time `seconds`, or None.
pub fn own_day(stamp: &str, seconds: f64, bounds: &Bounds) -> Result<Option<Day>, Declined> {
    let b = stamp.as_bytes();
    if b.len() < 16 {
        return Ok(None);
    }
    let Some((start, day)) = minute_start(&b[..16]) else {
        // `strptime` also takes years 1 to 999, which `minute_start` leaves out.
        let shape = b"dddd-dd-ddTdd:dd";
        let year_like = shape.iter().zip(b).all(|(want, got)| match want {
            b'd' => got.is_ascii_digit(),
            _ => want == got,
        });
        if year_like && &b[..4] < b"1000".as_slice() && &b[..4] != b"0000" {
            return Err(OLD_YEAR.into());
        }
        return Ok(None);
    };
    let within = start - bounds.max_future <= seconds && seconds <= start + bounds.max_past;
    Ok((within && crate::event::seconds_tail(&b[16..])).then_some(day))
}

/// `_epoch` of a number (`float(value)`: an integer's nearest double, as Python rounds it):
/// seconds, or milli-, micro-, nanoseconds since the epoch, through
/// `datetime.fromtimestamp(seconds, UTC)` (CPython rounds the fraction to microseconds, half to
/// even). Times before 1970 are declined.
fn epoch(value: f64) -> Result<Option<String>, Declined> {
    let mut seconds = value;
    if !(-1e20 < seconds && seconds < 1e20) {
        return Ok(None);
    }
    while seconds > 1e11 {
        seconds /= 1000.0;
    }
    if seconds < 0.0 {
        return Err(EPOCH.into());
    }
    let whole = seconds.trunc();
    let mut micros = ((seconds - whole) * 1e6).round_ties_even();
    let mut whole = whole as i64;
    if micros >= 1e6 {
        micros -= 1e6;
        whole += 1;
    }
    let (year, month, day) = civil_from_days(whole.div_euclid(86_400));
    let rest = whole.rem_euclid(86_400);
    let millis = micros as i64 / 1000;
    Ok(Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )))
}

/// `unescape` of canonical text: the text itself when it holds no escape, else decoded into
/// `out` (the escapes the scanner writes; any other text is decoded by `unescape`).
pub fn unescape_text<'t>(canonical: &'t str, out: &'t mut Vec<u8>) -> &'t str {
    let Some(first) = canonical.find('\\') else {
        return canonical;
    };
    let bytes = canonical.as_bytes();
    if !decode(bytes, first, out) {
        // An escape the scanner never writes.
        *out = unescape(bytes).into_bytes();
    }
    // Text between backslashes and ASCII for each escape (or `unescape`'s text): UTF-8.
    std::str::from_utf8(out).unwrap_or_default()
}

/// The bytes of canonical text whose first backslash is at `first`, its escapes decoded into
/// `out`; false (`out` then of no use) at an escape other than those the scanner writes, each
/// of which stands for one ASCII character.
fn decode(canonical: &[u8], first: usize, out: &mut Vec<u8>) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    out.clear();
    out.extend_from_slice(&canonical[..first]);
    let mut at = first;
    loop {
        // At a backslash.
        let (byte, len) = match canonical.get(at + 1) {
            Some(b'"') => (b'"', 2),
            Some(b'\\') => (b'\\', 2),
            Some(b'/') => (b'/', 2),
            Some(b'b') => (0x08, 2),
            Some(b'f') => (0x0C, 2),
            Some(b'n') => (b'\n', 2),
            Some(b'r') => (b'\r', 2),
            Some(b't') => (b'\t', 2),
            Some(b'u') => match canonical.get(at + 2..at + 6) {
                Some(&[b'0', b'0', high @ b'0'..=b'7', low]) if low.is_ascii_hexdigit() => {
                    let nibble = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8;
                    (nibble(high) << 4 | nibble(low), 6)
                }
                _ => return false,
            },
            _ => return false,
        };
        out.push(byte);
        at += len;
        // The text up to the next backslash, eight bytes at a time (each word copied whole,
        // then cut back to the backslash: a copy of a fixed size).
        loop {
            let Some(chunk) = canonical.get(at..at + 8) else {
                let rest = canonical.get(at..).unwrap_or_default();
                match rest.iter().position(|&b| b == b'\\') {
                    Some(k) => {
                        out.extend_from_slice(&rest[..k]);
                        at += k;
                        break;
                    }
                    None => {
                        out.extend_from_slice(rest);
                        return true;
                    }
                }
            };
            let Ok(word) = <[u8; 8]>::try_from(chunk) else {
                return false;
            };
            let word = u64::from_le_bytes(word);
            let v = word ^ (ONES * u64::from(b'\\'));
            let mask = v.wrapping_sub(ONES) & !v & HIGH;
            out.extend_from_slice(chunk);
            if mask == 0 {
                at += 8;
                continue;
            }
            let k = (mask.trailing_zeros() / 8) as usize;
            out.truncate(out.len() - 8 + k);
            at += k;
            break;
        }
    }
}

/// The text of a canonical JSON string's contents (as the scanner writes them).
pub fn unescape(canonical: &[u8]) -> String {
    if !canonical.contains(&b'\\') {
        return match std::str::from_utf8(canonical) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(canonical).into_owned(),
        };
    }
    let mut out = Vec::with_capacity(canonical.len());
    let mut i = 0;
    while i < canonical.len() {
        let b = canonical[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let code = match canonical.get(i + 1) {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0C,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                // The scanner escapes only C0 controls this way: `\u00XX`.
                let hex = canonical.get(i + 2..i + 6).unwrap_or_default();
                let value = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .unwrap_or(b'?');
                out.push(value);
                i += 6;
                continue;
            }
            _ => b'\\',
        };
        out.push(code);
        i += 2;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `text` as orjson writes a string's contents.
pub fn escape(text: &str, out: &mut Vec<u8>) {
    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for c in text.chars() {
        json::write_char(out, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_as_cpython_rounds_them() {
        assert_eq!(
            epoch(1_764_158_400_123.0).unwrap().as_deref(),
            Some("2025-11-26T12:00:00.123Z")
        );
        assert_eq!(
            epoch(1_764_158_400.0).unwrap().as_deref(),
            Some("2025-11-26T12:00:00.000Z")
        );
        assert_eq!(
            epoch(0.0).unwrap().as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        // CPython: modf, times 1e6, rounded half to even (…0.0005 s is 500 µs: .000).
        assert_eq!(
            epoch(1_764_158_400.000_5).unwrap().as_deref(),
            Some("2025-11-26T12:00:00.000Z")
        );
        assert!(epoch(-1.0).is_err());
        assert_eq!(epoch(1e21).unwrap(), None);
    }

    #[test]
    fn recycled_entries_keep_their_allocation() {
        let bytes = b"key".to_vec();
        let mut entries = Vec::with_capacity(16);
        entries.push(Entry {
            key: Text::Slice(&bytes),
            value: Value::Obj(vec![]),
        });
        let at = entries.as_ptr() as usize;
        let recycled: Vec<Entry<'static>> = recycle(entries);
        assert!(recycled.is_empty() && recycled.capacity() >= 16);
        assert_eq!(recycled.as_ptr() as usize, at);
    }

    #[test]
    fn logfmt_quotes() {
        assert!(closed(br#""a\\""#));
        assert!(!closed(br#""a\""#));
        assert_eq!(closing_end(br#"a="x y" b=1"#, 3), Some(7));
        assert_eq!(closing_end(br#"a="x\" y"#, 3), None);
        let unquote = |value: &[u8]| {
            let mut out = b"x".to_vec();
            push_unquoted(value, &mut out);
            out[1..].to_vec()
        };
        assert_eq!(unquote(br#""a\"b""#), br#""a\"b""#.to_vec());
        assert_eq!(unquote(br#""a\qb""#), br#""a\\qb""#.to_vec());
    }

    #[test]
    fn unescape_round_trips_canonical_text() {
        let text = "a\"b\\c\u{1b}\n\t\u{8}\u{c}\ré😀\u{7f}";
        let mut out = Vec::new();
        escape(text, &mut out);
        assert_eq!(unescape(&out), text);
        let mut decoded = Vec::new();
        let canonical = std::str::from_utf8(&out).unwrap();
        assert_eq!(unescape_text(canonical, &mut decoded), text);
        // Any text reads as `unescape` reads it, escapes the scanner never writes too.
        for canonical in [
            "plain é",
            "\\",
            "x\\u00e9\\/y",
            "\\u00ff\\u0041\\q\\u12",
            "\\u00",
            "end\\",
            "\\u001F\\u0000\\u007f",
            "0123456789abcdef\\\"0123456789abcdefé\\n0123456",
            "\\\"\\\"\\\"x",
        ] {
            let mut decoded = b"junk".to_vec();
            assert_eq!(
                unescape_text(canonical, &mut decoded),
                unescape(canonical.as_bytes()),
                "{canonical:?}"
            );
        }
    }

    #[test]
    fn unescape_text_reads_generated_text_back() {
        let alphabet = [
            'a', 'b', ' ', '"', '\\', '/', '\n', '\t', '\u{1}', '\u{1f}', 'é', '😀',
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut decoded = Vec::new();
        for _ in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let text: String = (0..len)
                .map(|i| alphabet[((state >> (i % 60)) as usize + i * 7) % alphabet.len()])
                .collect();
            let mut canonical = Vec::new();
            escape(&text, &mut canonical);
            let canonical = std::str::from_utf8(&canonical).unwrap();
            assert_eq!(
                unescape_text(canonical, &mut decoded),
                text,
                "{canonical:?}"
            );
        }
    }

    #[test]
    fn s6_prefix() {
        assert_eq!(
            s6_end("2026-12-01 10:00:00.123456789  {\"a\":1}").unwrap(),
            Some(31)
        );
        assert_eq!(s6_end("2026-12-01 10:00:00.123456789 x").unwrap(), Some(30));
        assert_eq!(s6_end("2026-12-01 10:00:00.12345678x x").unwrap(), None);
    }

    /// A bounded fuzz run without an oracle (the oracle is tests/core): byte mutations of seed
    /// lines, inside well-formed events, through the whole transform with parsing on, never
    /// panic, and whatever is taken is a document the event scanner reads back.
    #[test]
    fn mutated_lines_never_panic() {
        use crate::event::{transform, Config, Message, Routes};
        let seeds: [&str; 6] = [
            r#"{"level":"warn","ts":"2025-11-26T11:59:00.123Z","caller":"a.go:7","msg":"m","n":[1,{"x":2.5}]}"#,
            r#"time="2025-11-26T11:59:00.000Z" level=info msg="a \"b\" c" k=v"#,
            "2026-12-01 10:00:00.123456789  {\"a\":1,\"a\":2,\"level\":30}",
            r#"{"ts":1764158340.1234567,"thread":"t","error":"e","trace_id":"x"}"#,
            "level=debug a=\"x y\" b=\"\\u00e9 \\q\"",
            "plain line",
        ];
        let alphabet = b"{}[]\",:=\\ -+.eE0123456789tlvsmgT\x00\x1f\xc3\xa9";
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut taken = 0;
        for round in 0..6_000 {
            let mut line = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..next() % 4 {
                let at = (next() as usize) % (line.len() + 1);
                let byte = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 if at < line.len() => line[at] = byte,
                    1 if at < line.len() => {
                        line.remove(at);
                    }
                    _ => line.insert(at, byte),
                }
            }
            let Ok(line) = String::from_utf8(line) else {
                continue;
            };
            let mut message = Vec::new();
            escape(&line, &mut message);
            let mut event =
                br#"{"@timestamp":"2025-11-26T11:59:59.000Z","log":{"offset":1},"message":""#
                    .to_vec();
            event.extend_from_slice(&message);
            event.extend_from_slice(br#"","host":{"name":"h"}}"#);
            let config = Config {
                prefix: "k".into(),
                max_past: 6.0 * 86400.0,
                max_future: 86400.0,
                parsing: true,
                line: ParseConfig::new("json", round % 2 == 0, 65_536, 200, 16, "UTC"),
            };
            let kafka = Message {
                value: &event,
                topic: "t",
                partition: 0,
                offset: 1,
                seconds: 1_764_158_400.0,
            };
            let ingested = br#","event":{"ingested":"2025-11-26T12:00:00.000Z"}"#;
            if let Ok(accepted) = transform(&config, &Routes::new(), &kafka, ingested) {
                taken += 1;
                let document = accepted
                    .line
                    .split(|&b| b == b'\n')
                    .nth(1)
                    .unwrap_or_default();
                assert!(json::scan(document).is_ok(), "{line:?}");
            }
        }
        assert!(taken > 500, "only {taken} taken");
    }
}
