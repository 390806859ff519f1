//! A validating JSON scanner that writes the canonical form orjson would write for the same
//! document (`orjson.dumps(orjson.loads(x))`), and records the members of the top three levels
//! of objects so the event logic can find its fields without a tree.
//!
//! The accepted set is a strict subset of orjson's: whatever this scanner is unsure of (a
//! float, an integer of more than 18 digits, a duplicate key, nesting deeper than `MAX_DEPTH`,
//! an object of more than `MAX_KEYS` keys) it declines, and the event goes through the Python
//! reference path. The input must already be valid UTF-8 (the caller checks it once).

use std::ops::Range;

/// Why the scanner would not take a document. Anything the reference dead-letters is `INVALID`.
pub type Reason = &'static str;

pub const INVALID: Reason = "invalid_json";
pub const NOT_OBJECT: Reason = "not_an_object";
pub const FLOAT: Reason = "float";
pub const BIG_INT: Reason = "big_integer";
pub const DEEP: Reason = "deep";
pub const WIDE: Reason = "wide_object";
pub const DUPLICATE: Reason = "duplicate_key";

/// Nesting beyond this is declined (orjson reads 1024 levels and writes 254).
pub const MAX_DEPTH: usize = 64;
/// An object with more keys is declined (duplicate detection compares keys pairwise).
pub const MAX_KEYS: usize = 256;
/// Members are recorded for objects up to this depth (the event, `log`, `log.file`).
const RECORD_DEPTH: usize = 3;
pub const TOP: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    Str,
    Int,
    /// Only from `scan_line`.
    Float,
    True,
    False,
    Null,
}

/// One member of a recorded object. Ranges index the canonical output.
#[derive(Clone, Debug)]
pub struct Member {
    /// The member whose value holds this one's object, or `TOP` for the event's own keys.
    pub parent: u32,
    /// The key as written between its quotes (canonical escaping).
    pub key: Range<usize>,
    /// The value as written (a string with its quotes).
    pub value: Range<usize>,
    pub kind: Kind,
    /// The value of an `Int`.
    pub int: i64,
    /// The value of a `Float`.
    pub float: f64,
    /// For a `Str`: its canonical form holds a `\` (it needed escaping).
    pub escaped: bool,
    /// For a `Str`: its length in UTF-8 bytes, decoded.
    pub bytes: usize,
    /// Past the members recorded inside its value (its children and theirs, which follow it):
    /// the next member is its next sibling's or an ancestor's.
    pub end: u32,
}

/// A scanned document. `scan_into` refills one in place, reusing its buffers (one per worker,
/// not one per event: `event::Workspace`).
#[derive(Default)]
pub struct Scanned {
    /// The canonical form (valid UTF-8: made of the input's text and escapes).
    pub out: String,
    pub members: Vec<Member>,
    /// The deepest nesting of objects and arrays (the document itself is 1), as
    /// `structured._deeper` counts it.
    pub depth: usize,
    /// Some object has a key twice (only with `scan_line`; `scan` declines that).
    pub duplicates: bool,
    /// How many floats the document holds, at any depth (only with `scan_line`).
    pub floats: usize,
    /// The scanner's stack of keys (kept only for its capacity).
    keys: Vec<Key>,
}

impl Member {
    /// From the key's opening quote to the value's end: the member as it is written
    /// (`"key":value`, nothing between them in the canonical form).
    pub fn whole(&self) -> Range<usize> {
        self.key.start.saturating_sub(1)..self.value.end
    }
}

impl Scanned {
    /// The member `key` of the object `parent` holds (`TOP` for the event itself).
    pub fn find(&self, parent: u32, key: &[u8]) -> Option<(u32, &Member)> {
        let out = self.out.as_bytes();
        self.children(parent)
            .find(|(_, m)| m.key.len() == key.len() && out.get(m.key.clone()) == Some(key))
    }

    /// The recorded members of the object `parent` holds (`TOP`: the document's own), in
    /// their order, with their slots.
    pub fn children(&self, parent: u32) -> Children<'_> {
        let (at, end) = if parent == TOP {
            (0, self.members.len())
        } else {
            let end = self
                .members
                .get(parent as usize)
                .map_or(0, |m| m.end as usize);
            (parent as usize + 1, end)
        };
        Children {
            members: &self.members,
            at,
            end,
        }
    }

    pub fn bytes(&self, range: &Range<usize>) -> &[u8] {
        &self.out.as_bytes()[range.clone()]
    }

    /// The canonical text of `range` (None if it does not fall on characters, which the ranges
    /// the scanner records never do).
    pub fn text(&self, range: &Range<usize>) -> Option<&str> {
        self.out.get(range.clone())
    }
}

/// `Scanned::children`: each member from the first child on, then past its own members.
pub struct Children<'a> {
    members: &'a [Member],
    at: usize,
    end: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = (u32, &'a Member);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let slot = self.at;
        let member = self.members.get(slot)?;
        self.at = (member.end as usize).max(slot + 1);
        Some((slot as u32, member))
    }
}

/// Scan one event: a JSON object, surrounded by nothing but JSON whitespace.
pub fn scan(input: &[u8]) -> Result<Scanned, Reason> {
    let mut doc = Scanned::default();
    let input = std::str::from_utf8(input).map_err(|_| INVALID)?;
    scan_into(input, &mut doc, false)?;
    Ok(doc)
}

/// Scan a structured line's JSON body (`structured.py` `_json`): as `scan`, except that a key
/// twice is recorded (`Scanned::duplicates`, every pair kept in `members` and `out`) instead
/// of declined, since the reference reads such a line differently rather than refusing it; and
/// that numbers with a fraction or exponent are read (`Kind::Float`, `Member::float`, counted
/// in `Scanned::floats`; their text in `out` is the input's, NOT orjson's: the caller must never
/// write one) as are integers of 19 digits within i64.
pub fn scan_line(input: &[u8]) -> Result<Scanned, Reason> {
    let mut doc = Scanned::default();
    let input = std::str::from_utf8(input).map_err(|_| INVALID)?;
    scan_into(input, &mut doc, true)?;
    Ok(doc)
}

/// `scan` (`line` false) or `scan_line` (`line` true) into `doc`, whose buffers are reused:
/// on success it holds the document; on an error, nothing to read.
pub fn scan_into(input: &str, doc: &mut Scanned, line: bool) -> Result<(), Reason> {
    let mut out = std::mem::take(&mut doc.out);
    out.clear();
    out.reserve(input.len());
    let mut members = std::mem::take(&mut doc.members);
    members.clear();
    let mut keys = std::mem::take(&mut doc.keys);
    keys.clear();
    let mut scanner = Scanner {
        input: input.as_bytes(),
        text: input,
        pos: 0,
        copied: 0,
        out,
        members,
        keys,
        depth: 0,
        line,
        duplicates: false,
        floats: 0,
    };
    let result = scanner.document();
    doc.out = scanner.out;
    doc.members = scanner.members;
    doc.keys = scanner.keys;
    doc.depth = scanner.depth;
    doc.duplicates = scanner.duplicates;
    doc.floats = scanner.floats;
    result
}

/// The canonical form (with its quotes) of `input` when it is exactly one JSON string, as
/// `orjson.loads` reads one (`structured._unquote`), or None when orjson would refuse it.
pub fn string_literal(input: &[u8]) -> Option<Vec<u8>> {
    if input.first() != Some(&b'"') {
        return None;
    }
    let text = std::str::from_utf8(input).ok()?;
    let mut scanner = Scanner {
        input,
        text,
        pos: 0,
        copied: 0,
        out: String::with_capacity(input.len()),
        members: Vec::new(),
        keys: Vec::new(),
        depth: 0,
        line: false,
        duplicates: false,
        floats: 0,
    };
    scanner.string().ok()?;
    scanner.flush(scanner.pos).ok()?;
    (scanner.pos == input.len()).then(|| scanner.out.into_bytes())
}

/// A key of an object being read: where its canonical text is, and a cheap summary of it so
/// that most pairs of keys are told apart without comparing their bytes.
#[derive(Clone)]
struct Key {
    fingerprint: u64,
    /// In `out` (it was rewritten) or else in the input (it is canonical as written).
    in_out: bool,
    range: Range<usize>,
}

/// Equal keys have equal fingerprints: their length and last byte.
fn fingerprint(key: &[u8]) -> u64 {
    (key.len() as u64) | u64::from(key.last().copied().unwrap_or(0)) << 32
}

/// Reads the input once; the canonical form is the input's text except where it differs
/// (white space between tokens, `\/` and `\u` escapes, `-0`), so the text is copied to `out`
/// in runs: up to `copied` it is in `out` (or dropped), from `copied` to `pos` it is canonical
/// as written and not copied yet. A position in the canonical form is `out_pos()`.
struct Scanner<'a> {
    input: &'a [u8],
    /// The same bytes, as text (so the runs copied need no second UTF-8 check).
    text: &'a str,
    pos: usize,
    copied: usize,
    out: String,
    members: Vec<Member>,
    /// The keys of the objects being read, innermost last (one stack: no allocation per object).
    keys: Vec<Key>,
    depth: usize,
    line: bool,
    duplicates: bool,
    floats: usize,
}

struct Value {
    kind: Kind,
    int: i64,
    float: f64,
    escaped: bool,
    bytes: usize,
    /// For a `Str`: its canonical form is in `out` entirely (something in it was rewritten).
    rewritten: bool,
}

impl Value {
    fn plain(kind: Kind) -> Self {
        Value {
            kind,
            int: 0,
            float: 0.0,
            escaped: false,
            bytes: 0,
            rewritten: false,
        }
    }
}

impl Scanner<'_> {
    /// One JSON object, surrounded by nothing but JSON whitespace.
    fn document(&mut self) -> Result<(), Reason> {
        self.skip_ws()?;
        if self.peek() != Some(b'{') {
            return Err(if self.pos < self.input.len() {
                NOT_OBJECT
            } else {
                INVALID
            });
        }
        self.object(1, TOP)?;
        self.flush(self.pos)?;
        self.skip_ws()?;
        if self.pos != self.input.len() {
            return Err(INVALID);
        }
        Ok(())
    }

    /// Where the canonical form is at `pos`.
    fn out_pos(&self) -> usize {
        self.out.len() + (self.pos - self.copied)
    }

    /// Copies the text from `copied` to `to` into `out` (`copied` is then `to`).
    fn flush(&mut self, to: usize) -> Result<(), Reason> {
        let run = self.text.get(self.copied..to).ok_or(INVALID)?;
        self.out.push_str(run);
        self.copied = to;
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    #[inline(always)]
    fn skip_ws(&mut self) -> Result<(), Reason> {
        if let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.drop_ws()?;
        }
        Ok(())
    }

    /// White space, dropped from the canonical form.
    #[cold]
    #[inline(never)]
    fn drop_ws(&mut self) -> Result<(), Reason> {
        self.flush(self.pos)?;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
        self.copied = self.pos;
        Ok(())
    }

    fn expect(&mut self, byte: u8) -> Result<(), Reason> {
        self.skip_ws()?;
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(INVALID)
        }
    }

    /// `depth` counts this object; `owner` is the recorded member whose value it is (or `TOP`).
    fn object(&mut self, depth: usize, owner: u32) -> Result<(), Reason> {
        if depth > MAX_DEPTH {
            return Err(DEEP);
        }
        self.depth = self.depth.max(depth);
        self.pos += 1; // `{`
        self.skip_ws()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        let record = depth <= RECORD_DEPTH && (owner != TOP || depth == 1);
        let first_key = self.keys.len();
        loop {
            self.skip_ws()?;
            if self.peek() != Some(b'"') {
                return Err(INVALID);
            }
            let start = self.out_pos();
            let opening = self.pos;
            let read = self.string()?;
            let key = start + 1..self.out_pos() - 1;
            let written = if read.rewritten {
                Key {
                    fingerprint: 0,
                    in_out: true,
                    range: key.clone(),
                }
            } else {
                Key {
                    fingerprint: 0,
                    in_out: false,
                    range: opening + 1..self.pos - 1,
                }
            };
            let name = self.key_bytes(&written);
            let fingerprint = fingerprint(name);
            let keys = &self.keys[first_key..];
            if keys.len() >= MAX_KEYS {
                return Err(WIDE);
            }
            if keys
                .iter()
                .any(|k| k.fingerprint == fingerprint && self.key_bytes(k) == name)
            {
                if !self.line {
                    return Err(DUPLICATE);
                }
                self.duplicates = true;
            }
            self.keys.push(Key {
                fingerprint,
                ..written
            });
            self.expect(b':')?;
            self.skip_ws()?;
            let value_start = self.out_pos();
            if !record {
                self.value(depth, TOP)?;
            } else if self.peek() == Some(b'{') {
                // Its slot first: the members of its object name it as their parent.
                let slot = self.members.len() as u32;
                self.members.push(Member {
                    parent: owner,
                    key: key.clone(),
                    value: start..start,
                    kind: Kind::Object,
                    int: 0,
                    float: 0.0,
                    escaped: false,
                    bytes: 0,
                    end: 0,
                });
                self.object(depth + 1, slot)?;
                let end = self.out_pos();
                let members_end = self.members.len() as u32;
                if let Some(member) = self.members.get_mut(slot as usize) {
                    member.value = value_start..end;
                    member.end = members_end;
                }
            } else {
                // No member is recorded inside any other value (an array's objects are not).
                let value = self.value(depth, TOP)?;
                let end = self.out_pos();
                self.members.push(Member {
                    parent: owner,
                    key: key.clone(),
                    value: value_start..end,
                    kind: value.kind,
                    int: value.int,
                    float: value.float,
                    escaped: value.escaped,
                    bytes: value.bytes,
                    end: self.members.len() as u32 + 1,
                });
            }
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.keys.truncate(first_key);
                    return Ok(());
                }
                _ => return Err(INVALID),
            }
        }
    }

    /// A key's canonical bytes.
    fn key_bytes(&self, key: &Key) -> &[u8] {
        let source = if key.in_out {
            self.out.as_bytes()
        } else {
            self.input
        };
        source.get(key.range.clone()).unwrap_or_default()
    }

    fn array(&mut self, depth: usize) -> Result<(), Reason> {
        if depth > MAX_DEPTH {
            return Err(DEEP);
        }
        self.depth = self.depth.max(depth);
        self.pos += 1; // `[`
        self.skip_ws()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws()?;
            self.value(depth, TOP)?;
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(INVALID),
            }
        }
    }

    /// A value inside a container at `depth`; `slot` is its recorded member, if any.
    fn value(&mut self, depth: usize, slot: u32) -> Result<Value, Reason> {
        match self.peek() {
            Some(b'{') => {
                self.object(depth + 1, slot)?;
                Ok(Value::plain(Kind::Object))
            }
            Some(b'[') => {
                self.array(depth + 1)?;
                Ok(Value::plain(Kind::Array))
            }
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Kind::True),
            Some(b'f') => self.literal(b"false", Kind::False),
            Some(b'n') => self.literal(b"null", Kind::Null),
            _ => Err(INVALID),
        }
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> Result<Value, Reason> {
        if self.input[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(Value::plain(kind))
        } else {
            Err(INVALID)
        }
    }

    /// An integer in i64 range (18 digits at most; 19 in a line); a fraction or exponent is
    /// declined (read as a float in a line).
    fn number(&mut self) -> Result<Value, Reason> {
        let number_start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            _ => return Err(INVALID),
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            if !self.line {
                return Err(FLOAT);
            }
            return self.float(number_start);
        }
        let digits = &self.input[start..self.pos];
        if digits.len() > if self.line { 19 } else { 18 } {
            return Err(BIG_INT);
        }
        let mut value: i128 = 0;
        for digit in digits {
            value = value * 10 + i128::from(digit - b'0');
        }
        if negative {
            value = -value;
        }
        let value = i64::try_from(value).map_err(|_| BIG_INT)?;
        // The digits as written are `str(value)` (no leading zeros: `0` then a digit is
        // refused by the caller), but for `-0`, written `0`.
        if negative && value == 0 {
            self.flush(number_start)?;
            self.out.push('0');
            self.copied = self.pos;
        }
        Ok(Value {
            int: value,
            ..Value::plain(Kind::Int)
        })
    }

    /// The fraction and exponent of a number that began at `start`, read as orjson reads it
    /// (correctly rounded, as Rust's parser; infinity refused), its text kept as written.
    fn float(&mut self, start: usize) -> Result<Value, Reason> {
        let digits = |scanner: &mut Self| {
            let from = scanner.pos;
            while let Some(b'0'..=b'9') = scanner.peek() {
                scanner.pos += 1;
            }
            scanner.pos > from
        };
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(INVALID);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(INVALID);
            }
        }
        let value: f64 = self
            .text
            .get(start..self.pos)
            .and_then(|t| t.parse().ok())
            .ok_or(INVALID)?;
        if value.is_infinite() {
            return Err(INVALID); // orjson: "number is infinity when parsed as double"
        }
        self.floats += 1;
        Ok(Value {
            float: value,
            ..Value::plain(Kind::Float)
        })
    }

    fn hex4(&mut self) -> Result<u32, Reason> {
        let digits = self.input.get(self.pos..self.pos + 4).ok_or(INVALID)?;
        let mut code = 0u32;
        for digit in digits {
            let nibble = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return Err(INVALID),
            };
            code = code * 16 + u32::from(nibble);
        }
        self.pos += 4;
        Ok(code)
    }

    /// A string, written with orjson's escaping: `"`, `\` and the C0 controls escaped, all else
    /// raw. The escapes orjson writes as they are (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`)
    /// stay as written; `\/` and `\u` escapes are rewritten, and then the whole string is
    /// copied to `out` (`Value::rewritten`).
    #[inline(always)]
    fn string(&mut self) -> Result<Value, Reason> {
        self.pos += 1; // `"`
        let mut value = Value::plain(Kind::Str);
        loop {
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let run = find_special(rest).ok_or(INVALID)?;
            value.bytes += run;
            self.pos += run;
            match rest[run] {
                b'"' => {
                    self.pos += 1;
                    if value.rewritten {
                        self.flush(self.pos)?;
                    }
                    return Ok(value);
                }
                b'\\' => {
                    let escape = self.input.get(self.pos + 1).copied().ok_or(INVALID)?;
                    if let b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' = escape {
                        // Written by orjson exactly so.
                        self.pos += 2;
                        value.bytes += 1;
                        value.escaped = true;
                        continue;
                    }
                    self.flush(self.pos)?;
                    self.pos += 2;
                    let code = match escape {
                        b'/' => 0x2F,
                        b'u' => {
                            let high = self.hex4()?;
                            if (0xDC00..0xE000).contains(&high) {
                                return Err(INVALID);
                            }
                            if (0xD800..0xDC00).contains(&high) {
                                if self.input.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(INVALID);
                                }
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(INVALID);
                                }
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                high
                            }
                        }
                        _ => return Err(INVALID),
                    };
                    let c = char::from_u32(code).ok_or(INVALID)?;
                    value.bytes += c.len_utf8();
                    value.escaped |= push_char(&mut self.out, c);
                    value.rewritten = true;
                    self.copied = self.pos;
                }
                _ => return Err(INVALID), // a raw control character
            }
        }
    }
}

/// The position of the first byte a string cannot hold raw (`"`, `\\`, a C0 control), eight
/// bytes at a time: in each word, the lowest flagged byte of these zero-byte tests is exact
/// (a false flag can only sit above a true one).
#[inline(always)]
fn find_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(array) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(array);
        let mask = zero(word ^ (ONES * u64::from(b'"')))
            | zero(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGH);
        if mask != 0 {
            return Some(i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| i + p)
}

/// orjson's escape of a character (its bytes and length), if it writes one.
fn escape_of(c: char) -> Option<([u8; 6], usize)> {
    let short = |b: u8| Some(([b'\\', b, 0, 0, 0, 0], 2));
    match c {
        '"' => short(b'"'),
        '\\' => short(b'\\'),
        '\u{08}' => short(b'b'),
        '\t' => short(b't'),
        '\n' => short(b'n'),
        '\u{0C}' => short(b'f'),
        '\r' => short(b'r'),
        c if (c as u32) < 0x20 => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let code = c as usize;
            Some(([b'\\', b'u', b'0', b'0', HEX[code >> 4], HEX[code & 15]], 6))
        }
        _ => None,
    }
}

/// Write one decoded character as orjson does; true when it needed an escape.
pub fn write_char(out: &mut Vec<u8>, c: char) -> bool {
    match escape_of(c) {
        Some((escape, len)) => {
            out.extend_from_slice(&escape[..len]);
            true
        }
        None => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            false
        }
    }
}

/// `write_char` to text.
pub fn push_char(out: &mut String, c: char) -> bool {
    match escape_of(c) {
        Some((escape, len)) => {
            // ASCII: a backslash, a letter, hex digits.
            out.extend(escape[..len].iter().map(|&b| char::from(b)));
            true
        }
        None => {
            out.push(c);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(input: &str) -> Result<String, Reason> {
        scan(input.as_bytes()).map(|s| s.out)
    }

    #[test]
    fn canonical_form() {
        assert_eq!(
            canon(" { \"a\" : [1, -0, true,null] } \n").unwrap(),
            r#"{"a":[1,0,true,null]}"#
        );
        assert_eq!(
            canon(r#"{"\u00e9\/":"\u001B\n\ud83d\ude00"}"#).unwrap(),
            "{\"é/\":\"\\u001b\\n😀\"}"
        );
        assert_eq!(canon("{}").unwrap(), "{}");
    }

    #[test]
    fn declines() {
        assert_eq!(canon("[1]").err(), Some(NOT_OBJECT));
        assert_eq!(canon("").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":1.5}").err(), Some(FLOAT));
        assert_eq!(canon("{\"a\":1e5}").err(), Some(FLOAT));
        assert_eq!(canon("{\"a\":1234567890123456789}").err(), Some(BIG_INT));
        assert_eq!(canon("{\"a\":1,\"a\":2}").err(), Some(DUPLICATE));
        assert_eq!(canon("{\"a\":1,\"\\u0061\":2}").err(), Some(DUPLICATE));
        assert_eq!(canon("{\"a\":\"\\ud800\"}").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":\"\\udc00\"}").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":\"\t\"}").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":01}").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":1} x").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":tru}").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":\"x").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":\"\\u12\"}").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":-}").err(), Some(INVALID));
        assert_eq!(canon("{\"a\" 1}").err(), Some(INVALID));
        assert_eq!(canon("{\"a\":1,}").err(), Some(INVALID));
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(canon(&format!("{{\"a\":{deep}}}")).err(), Some(DEEP));
    }

    #[test]
    fn members() {
        let s = scan(br#"{"log":{"file":{"path":"/a"},"offset":7},"m":"x"}"#).unwrap();
        let (log, _) = s.find(TOP, b"log").unwrap();
        let (file, _) = s.find(log, b"file").unwrap();
        let (_, path) = s.find(file, b"path").unwrap();
        assert_eq!(s.bytes(&path.value), b"\"/a\"");
        assert_eq!(s.find(log, b"offset").unwrap().1.int, 7);
        assert!(s.find(TOP, b"offset").is_none());
        assert!(s.find(file, b"offset").is_none());
        let keys = |parent| {
            s.children(parent)
                .map(|(_, m)| s.bytes(&m.key).to_vec())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(TOP), [b"log".to_vec(), b"m".to_vec()]);
        assert_eq!(keys(log), [b"file".to_vec(), b"offset".to_vec()]);
        assert_eq!(keys(file), [b"path".to_vec()]);
        // The same members, in the same order, as their parents say.
        for parent in [TOP, log, file, 1_000] {
            let by_parent: Vec<u32> = (0..s.members.len() as u32)
                .filter(|&i| s.members[i as usize].parent == parent)
                .collect();
            let children: Vec<u32> = s.children(parent).map(|(i, _)| i).collect();
            assert_eq!(children, by_parent);
        }
    }

    #[test]
    fn special_bytes_are_found_where_they_are() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', 0, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(find_special(&bytes), Some(at));
                }
                let mut bytes = vec![0xC3u8; len];
                bytes[at] = 0x7f;
                assert_eq!(find_special(&bytes), None);
            }
        }
    }

    /// A bounded fuzz run without an oracle: byte mutations of seed documents never panic, and
    /// whatever is accepted comes out in a canonical form that is its own canonical form.
    #[test]
    fn mutations_never_panic_and_canonical_form_is_a_fixed_point() {
        let seeds: [&[u8]; 4] = [
            br#"{"@timestamp":"2026-11-26T11:00:00.000Z","log":{"offset":12,"file":{"path":"/a/b"}}}"#,
            br#" { "a" : [ 1 , -0 , "\u00e9\ud83d\ude00\/\n" , { "b" : null } ] , "c" : true } "#,
            "{\"é\":\"\u{2028}\u{7f}\",\"k\":{\"x\":[[],{}]}}".as_bytes(),
            br#"{"m":"a\"b\\c\u001b","n":123456789012345678}"#,
        ];
        let alphabet = b"{}[]\",:\\/ -+.eE0123456789abcdefnrtu\x00\x1f\x7f\xc3\xa9\xed\xff";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for round in 0..20_000 {
            let mut doc = seeds[round % seeds.len()].to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % (doc.len() + 1);
                let byte = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 if at < doc.len() => doc[at] = byte,
                    1 if at < doc.len() => {
                        doc.remove(at);
                    }
                    _ => doc.insert(at, byte),
                }
            }
            if std::str::from_utf8(&doc).is_err() {
                continue; // the caller checks UTF-8 first
            }
            if let Ok(scanned) = scan(&doc) {
                accepted += 1;
                let again = scan(scanned.out.as_bytes()).map(|s| s.out);
                assert_eq!(again.as_deref(), Ok(&scanned.out[..]), "{doc:?}");
            }
        }
        assert!(accepted > 1000, "only {accepted} mutations accepted");
    }

    #[test]
    fn truncated_inputs_never_panic() {
        let doc = br#"{"a":[1,{"b":"\u00e9\ud83d\ude00"},true,false,null,-12],"c":{}}"#;
        for end in 0..doc.len() {
            let _ = scan(&doc[..end]);
        }
    }
}
