//! The level and the leading time of a plain line: `indexer/structured.py`'s first branch of
//! `LineParser.parse` (`digit_start`), `_plain` with `_level_key` after it
//! (`plain_level_and_time`) and `LineParser.normalize` (`normalize`), with `naive_time_zone`
//! UTC (the caller declines any other zone before calling).
//!
//! Every expression of the reference is a hand-written scanner here (no regular expression
//! engine: Rust's `regex` has no look-ahead, and a scanner costs a few instructions per byte
//! read). Each scanner follows its Python expression's backtracking order; where the comments
//! say a repetition is "forced", giving back a character could only put a character of the
//! repeated class where the next element needs another one, so the greedy choice is the only
//! one that can match.
//!
//! Python's `re` reads characters, these scanners read bytes: they agree while every byte read
//! is ASCII, and a scanner declines (`Err(Decline)`, `None` at the boundary) when the answer
//! could depend on a non-ASCII character: where Python's `\d`, `\s`, `\w`, `str.isdigit` or
//! `str.islower` would classify it, or where a repetition counts characters it may contain
//! (`[^\]]{1,80}`). An ASCII-only class (`[0-9]`, `[A-Za-z]`, a literal) simply fails on such a
//! byte, as it fails on the character, so it needs no decline.
//!
//! Two declines keep the boundary's signatures (docs/native-core.md):
//! - `_level_key` returns any word of 1 to 12 ASCII letters; a level is `&'static str`, so a
//!   word outside [`KNOWN_WORDS`] (the level words of every table here and a few common others)
//!   is declined;
//! - `plain_level_and_time` declines a line whose own time is present but does not normalize:
//!   the reference then drops s6-log's time too (`line_time = own`), which a caller seeing
//!   `None` could not tell from a line without a time of its own.

/// The reference's answer cannot be given for sure: the caller runs the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline;

type R<T> = Result<T, Decline>;

/// Result of `LineParser.parse`'s first branch for a message whose first char is an ASCII digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigitStart {
    /// `_ISO_LEVEL` matched (its time not 29 chars long): the level to set (None: none), and the
    /// line's time as `_iso` returns it (normalized `YYYY-MM-DDTHH:MM:SS.mmmZ`, or None); parse returns it.
    Iso {
        level: Option<&'static str>,
        time: Option<String>,
    },
    /// `message[2:3] not in _DIGIT_THIRD`: no layout; parse returns None and changes nothing.
    NoLayout,
    /// go on to `_other`.
    Other,
}

// ---------------------------------------------------------------------------------------------
// Character classes. `at` is None past the end; the `R` ones decline on a non-ASCII byte.

#[inline]
fn at(b: &[u8], i: usize) -> Option<u8> {
    b.get(i).copied()
}

#[inline]
fn is_byte(b: &[u8], i: usize, c: u8) -> bool {
    at(b, i) == Some(c)
}

/// Python's `\s` (str pattern) on an ASCII byte: `\t\n\v\f\r`, `\x1c`–`\x1f` and space.
#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b'\t'..=b'\r' | 0x1c..=b' ')
}

/// `\d` at `i` (Unicode digits in Python: a non-ASCII byte declines).
#[inline]
fn digit(b: &[u8], i: usize) -> R<bool> {
    match at(b, i) {
        Some(c) if c.is_ascii_digit() => Ok(true),
        Some(c) if c >= 0x80 => Err(Decline),
        _ => Ok(false),
    }
}

/// `\d` at each of `i..i + n`.
#[inline]
fn digits(b: &[u8], i: usize, n: usize) -> R<bool> {
    for k in i..i + n {
        if !digit(b, k)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// How many of `\d` from `i`, at most `max` (a greedy `\d{0,max}`).
#[inline]
fn count_digits(b: &[u8], i: usize, max: usize) -> R<usize> {
    let mut n = 0;
    while n < max && digit(b, i + n)? {
        n += 1;
    }
    Ok(n)
}

/// How many bytes from `i` satisfy an ASCII-only class, at most `max`.
#[inline]
fn count(b: &[u8], i: usize, max: usize, class: fn(u8) -> bool) -> usize {
    let mut n = 0;
    while n < max && at(b, i + n).is_some_and(class) {
        n += 1;
    }
    n
}

/// How many characters from `i` are in a class that takes non-ASCII characters too (a negated
/// class), at most `max`; a non-ASCII byte among them declines. `stop`: the ASCII bytes that
/// end the run.
#[inline]
fn count_negated(b: &[u8], i: usize, max: usize, stop: fn(u8) -> bool) -> R<usize> {
    let mut n = 0;
    while n < max {
        match at(b, i + n) {
            None => break,
            Some(c) if c >= 0x80 => return Err(Decline),
            Some(c) if stop(c) => break,
            Some(_) => n += 1,
        }
    }
    Ok(n)
}

/// Whether the character that begins at byte `i` may be a digit to Python (`str.isdigit`,
/// `\d`): Rust's `char::is_numeric` (categories Nd, Nl, No, of a Unicode version at least
/// Python's) takes every such character, and more.
fn numeric_at(b: &[u8], i: usize) -> bool {
    let end = b.len().min(i + 4);
    let text = match std::str::from_utf8(&b[i.min(end)..end]) {
        Ok(text) => text,
        Err(error) => std::str::from_utf8(&b[i.min(end)..i + error.valid_up_to()]).unwrap_or(""),
    };
    text.chars().next().is_none_or(char::is_numeric)
}

/// `(?=[\s<extra>]|$)` at `i`.
#[inline]
fn ahead(b: &[u8], i: usize, extra: &[u8]) -> R<bool> {
    match at(b, i) {
        None => Ok(true),
        Some(c) if c >= 0x80 => Err(Decline),
        Some(c) => Ok(is_space(c) || extra.contains(&c)),
    }
}

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic()
}
fn is_upper(c: u8) -> bool {
    c.is_ascii_uppercase()
}
fn is_lower(c: u8) -> bool {
    c.is_ascii_lowercase()
}
fn is_space_byte(c: u8) -> bool {
    c == b' '
}

// ---------------------------------------------------------------------------------------------
// Tables.

/// `word.lower()` when it is in `_LEVELS`, as the table's own `&'static str`.
pub fn level_word(word: &[u8]) -> Option<&'static str> {
    let mut low = [0u8; 11];
    if word.is_empty() || word.len() > low.len() {
        return None;
    }
    for (to, from) in low.iter_mut().zip(word) {
        *to = from.to_ascii_lowercase();
    }
    Some(match &low[..word.len()] {
        b"trace" => "trace",
        b"debug" => "debug",
        b"info" => "info",
        b"notice" => "notice",
        b"warn" => "warn",
        b"warning" => "warning",
        b"error" => "error",
        b"err" => "err",
        b"crit" => "crit",
        b"critical" => "critical",
        b"alert" => "alert",
        b"emerg" => "emerg",
        b"emergency" => "emergency",
        b"fatal" => "fatal",
        b"panic" => "panic",
        b"severe" => "severe",
        b"fine" => "fine",
        b"finer" => "finer",
        b"finest" => "finest",
        b"dbg" => "dbg",
        b"inf" => "inf",
        b"wrn" => "wrn",
        b"ftl" => "ftl",
        b"trc" => "trc",
        b"vrb" => "vrb",
        b"verbose" => "verbose",
        b"information" => "information",
        b"trace1" => "trace1",
        b"trace2" => "trace2",
        b"trace3" => "trace3",
        b"trace4" => "trace4",
        b"trace5" => "trace5",
        b"trace6" => "trace6",
        b"trace7" => "trace7",
        b"trace8" => "trace8",
        _ => return None,
    })
}

/// Words `_level_key` may return that are not in `_LEVELS` but common enough to take: the
/// other tables' words and a few level names of other loggers. Any other word is declined.
pub const KNOWN_WORDS: &[&str] = &[
    "silly", "trce", "dbug", "fail", "assert", "any", "dpanic", "unknown", "success", "off", "all",
    "default", "none", "log", "config", "warnings", "errors",
];

/// `_level_key`'s word (ASCII letters), lower-cased, as a `&'static str`, or a decline.
fn known_word(word: &[u8]) -> R<&'static str> {
    if let Some(level) = level_word(word) {
        return Ok(level);
    }
    KNOWN_WORDS
        .iter()
        .find(|known| known.as_bytes().eq_ignore_ascii_case(word))
        .copied()
        .ok_or(Decline)
}

/// `_LOGCAT`.
fn logcat(c: u8) -> Option<&'static str> {
    Some(match c {
        b'V' => "verbose",
        b'D' => "debug",
        b'I' => "info",
        b'W' => "warn",
        b'E' => "error",
        b'F' => "fatal",
        b'A' => "assert",
        _ => return None,
    })
}

/// `_KLOG`.
fn klog(c: u8) -> Option<&'static str> {
    Some(match c {
        b'I' => "info",
        b'W' => "warning",
        b'E' => "error",
        b'F' => "fatal",
        _ => return None,
    })
}

/// `ruby.lower() if ruby in _RUBY`.
fn ruby(word: &[u8]) -> Option<&'static str> {
    Some(match word {
        b"DEBUG" => "debug",
        b"INFO" => "info",
        b"WARN" => "warn",
        b"ERROR" => "error",
        b"FATAL" => "fatal",
        b"ANY" => "any",
        _ => return None,
    })
}

/// `_DOTNET.get(w, w) if w in _LOWER_LEVELS`.
fn lower_level(word: &[u8]) -> Option<&'static str> {
    Some(match word {
        b"error" => "error",
        b"warn" => "warn",
        b"info" => "info",
        b"debug" => "debug",
        b"verbose" => "verbose",
        b"silly" => "silly",
        b"notice" => "notice",
        b"warning" => "warning",
        b"crit" => "crit",
        b"alert" => "alert",
        b"emerg" => "emerg",
        b"trce" => "trace",
        b"dbug" => "debug",
        b"fail" => "error",
        _ => return None,
    })
}

/// `_SYSLOG`.
const SYSLOG: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// `_MONTHS`: the month's two digits of `Jan` … `Dec` at `i`.
fn month(b: &[u8], i: usize) -> Option<&'static [u8; 2]> {
    let name = b.get(i..i + 3)?;
    Some(match name {
        b"Jan" => b"01",
        b"Feb" => b"02",
        b"Mar" => b"03",
        b"Apr" => b"04",
        b"May" => b"05",
        b"Jun" => b"06",
        b"Jul" => b"07",
        b"Aug" => b"08",
        b"Sep" => b"09",
        b"Oct" => b"10",
        b"Nov" => b"11",
        b"Dec" => b"12",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// A time built from pieces (`_digit_time`, `_yearless`, Apache's), on the stack.

struct Stamp {
    bytes: [u8; 48],
    len: usize,
}

impl Stamp {
    fn new() -> Self {
        Stamp {
            bytes: [0; 48],
            len: 0,
        }
    }
    /// Appends what fits (every stamp built here is at most 31 bytes).
    fn push(&mut self, part: &[u8]) -> &mut Self {
        let room = self.bytes.len() - self.len;
        let n = part.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&part[..n]);
        self.len += n;
        self
    }
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A line's own time, for `normalize`: a slice of the line or a built one.
enum Own<'a> {
    Slice(&'a [u8]),
    Built(Stamp),
}

impl Own<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Own::Slice(s) => s,
            Own::Built(s) => s.as_bytes(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// normalize

/// `LineParser.normalize(text)` with naive_time_zone UTC; outer None: declined (any non-ASCII
/// character, or a result Python would not write: an overflow past year 1 or 9999 that raises,
/// a year before 1000 that `strftime` would not pad).
pub fn normalize(text: &str) -> Option<Option<String>> {
    if !text.is_ascii() {
        return None;
    }
    normalize_ascii(text.as_bytes()).ok()
}

fn two(b: &[u8], i: usize) -> i64 {
    i64::from(b[i] - b'0') * 10 + i64::from(b[i + 1] - b'0')
}

fn to_string(bytes: Vec<u8>) -> String {
    // Only ASCII bytes are ever written here.
    String::from_utf8(bytes).unwrap_or_default()
}

/// `normalize` of an ASCII text.
fn normalize_ascii(b: &[u8]) -> R<Option<String>> {
    let n = b.len();
    if n == 24 && b[10] == b'T' && b[23] == b'Z' && b[19] == b'.' {
        // `text[17:19] < "60"`
        let below = b[17] < b'6' || (b[17] == b'6' && b[18] < b'0');
        return Ok(below.then(|| to_string(b.to_vec())));
    }
    // _STAMP.fullmatch: `(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?
    // \s?(Z|z|UTC|[+-]\d\d(?::?\d\d)?)?` (ASCII text: `\d` is [0-9]).
    let dig = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let all = |from: usize, to: usize| (from..to).all(dig);
    if n < 19
        || !all(0, 4)
        || !matches!(b[4], b'-' | b'/')
        || !all(5, 7)
        || !matches!(b[7], b'-' | b'/')
        || !all(8, 10)
        || !matches!(b[10], b'T' | b' ')
        || !all(11, 13)
        || b[13] != b':'
        || !all(14, 16)
        || b[16] != b':'
        || !all(17, 19)
    {
        return Ok(None);
    }
    let mut i = 19;
    let mut fraction: &[u8] = b"";
    if i < n && matches!(b[i], b'.' | b',') {
        let k = (i + 1..n).take_while(|&j| dig(j)).count();
        if k == 0 || k > 9 {
            return Ok(None); // a `.` nothing else takes, or a tenth digit
        }
        fraction = &b[i + 1..i + 1 + k];
        i += 1 + k;
    }
    if i < n && is_space(b[i]) {
        i += 1;
    }
    let zone = &b[i..];
    let offset_minutes = match zone {
        b"" | b"Z" | b"z" | b"UTC" => None,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let minutes = match rest {
                [h1, h2] if h1.is_ascii_digit() && h2.is_ascii_digit() => two(rest, 0) * 60,
                [h1, h2, m1, m2] | [h1, h2, b':', m1, m2]
                    if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
                {
                    two(rest, 0) * 60 + two(&[*m1, *m2], 0)
                }
                _ => return Ok(None),
            };
            Some(if *sign == b'-' { -minutes } else { minutes })
        }
        _ => return Ok(None),
    };
    if b[17] >= b'6' {
        return Ok(None); // `second >= "60"`
    }
    let mut millis = [b'0'; 3];
    for (to, from) in millis.iter_mut().zip(fraction) {
        *to = *from;
    }
    let Some(offset) = offset_minutes else {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&b[0..4]);
        out.push(b'-');
        out.extend_from_slice(&b[5..7]);
        out.push(b'-');
        out.extend_from_slice(&b[8..10]);
        out.push(b'T');
        out.extend_from_slice(&b[11..19]);
        out.push(b'.');
        out.extend_from_slice(&millis);
        out.push(b'Z');
        return Ok(Some(to_string(out)));
    };
    // `timezone(timedelta(minutes=…))`: strictly within a day, else ValueError (None).
    if offset.abs() >= 24 * 60 {
        return Ok(None);
    }
    let year = two(b, 0) * 100 + two(b, 2);
    let (month, day) = (two(b, 5), two(b, 8));
    let (hour, minute, second) = (two(b, 11), two(b, 14), two(b, 17));
    // `datetime(...)`: ValueError (None) for a day that does not exist.
    let Some(month_days) = crate::time::days_in_month(year, month) else {
        return Ok(None);
    };
    if year < 1 || day < 1 || day > month_days || hour > 23 || minute > 59 {
        return Ok(None);
    }
    let local = crate::time::days_from_civil(year, month, day) * 86_400
        + hour * 3600
        + minute * 60
        + second;
    let utc = local - offset * 60;
    let days = utc.div_euclid(86_400);
    let rest = utc.rem_euclid(86_400);
    let (y, m, d) = crate::time::civil_from_days(days);
    if !(1000..=9999).contains(&y) {
        // Past year 1 or 9999 `astimezone` raises (parse's own `except` then answers None),
        // and `strftime("%Y")` writes a year before 1000 unpadded on glibc: leave both to Python.
        return Err(Decline);
    }
    let mut out = Vec::with_capacity(24);
    push_number(&mut out, y, 4);
    out.push(b'-');
    push_number(&mut out, m, 2);
    out.push(b'-');
    push_number(&mut out, d, 2);
    out.push(b'T');
    push_number(&mut out, rest / 3600, 2);
    out.push(b':');
    push_number(&mut out, rest % 3600 / 60, 2);
    out.push(b':');
    push_number(&mut out, rest % 60, 2);
    out.push(b'.');
    out.extend_from_slice(&millis);
    out.push(b'Z');
    Ok(Some(to_string(out)))
}

/// The last `N` decimal digits of `value`, zero-padded.
fn decimal<const N: usize>(value: i64) -> [u8; N] {
    let mut out = [b'0'; N];
    let mut rest = value.unsigned_abs();
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out
}

fn push_number(out: &mut Vec<u8>, value: i64, width: usize) {
    match width {
        4 => out.extend_from_slice(&decimal::<4>(value)),
        _ => out.extend_from_slice(&decimal::<2>(value)),
    }
}

/// `LineParser._iso(stamp)` for a time `_ISO_LEVEL` matched (ASCII).
fn iso(stamp: &[u8]) -> R<Option<String>> {
    let n = stamp.len();
    if n == 24 && stamp[10] == b'T' && stamp[23] == b'Z' && stamp[19] == b'.' {
        return Ok(Some(to_string(stamp.to_vec())));
    }
    if n == 23 && matches!(stamp[19], b'.' | b',') && stamp[22] != b'Z' {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&stamp[..10]);
        out.push(b'T');
        out.extend_from_slice(&stamp[11..19]);
        out.push(b'.');
        out.extend_from_slice(&stamp[20..]);
        out.push(b'Z');
        return Ok(Some(to_string(out)));
    }
    normalize_ascii(stamp)
}

// ---------------------------------------------------------------------------------------------
// The first branch of `parse`: `_ISO_LEVEL`.

/// `_ISO_LEVEL.match(b)`: the end of group 1 and group 2's range. ASCII classes only, so exact
/// on bytes. After the fixed 19 characters every part is optional and nothing follows the
/// expression, so each greedy first choice stands.
fn iso_level(b: &[u8]) -> Option<(usize, Option<(usize, usize)>)> {
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let shape = d(0)
        && d(1)
        && d(2)
        && d(3)
        && is_byte(b, 4, b'-')
        && d(5)
        && d(6)
        && is_byte(b, 7, b'-')
        && d(8)
        && d(9)
        && matches!(at(b, 10), Some(b'T' | b' '))
        && d(11)
        && d(12)
        && is_byte(b, 13, b':')
        && d(14)
        && d(15)
        && is_byte(b, 16, b':')
        && matches!(at(b, 17), Some(b'0'..=b'5'))
        && d(18);
    if !shape {
        return None;
    }
    let mut i = 19;
    if matches!(at(b, i), Some(b'.' | b',')) && d(i + 1) {
        i += 1 + count(b, i + 1, 9, |c| c.is_ascii_digit());
    }
    // `(?:Z| ?[+-][0-9][0-9]:?[0-9][0-9])?`
    if is_byte(b, i, b'Z') {
        i += 1;
    } else {
        let s = i + usize::from(is_byte(b, i, b' '));
        if matches!(at(b, s), Some(b'+' | b'-')) && d(s + 1) && d(s + 2) {
            if is_byte(b, s + 3, b':') && d(s + 4) && d(s + 5) {
                i = s + 6;
            } else if d(s + 3) && d(s + 4) {
                i = s + 5;
            }
        }
    }
    let end = i;
    // `(?: {1,40}([A-Za-z]{3,9})[ :])?`: the spaces and the letters are forced.
    let spaces = count(b, end, 40, is_space_byte);
    let word = if spaces >= 1 {
        let start = end + spaces;
        let n = count(b, start, 9, is_alpha);
        (n >= 3 && matches!(at(b, start + n), Some(b' ' | b':'))).then_some((start, start + n))
    } else {
        None
    };
    Some((end, word))
}

/// `_level_key(body)` and the `"level=" in body` test before it: Ok(None) when there is no
/// such key.
fn level_key(b: &[u8]) -> R<Option<&'static str>> {
    // `"level=" in body` then `body.find("level=", 0, 256)`: only a first one within 256
    // characters counts, and 256 characters take at most 1,024 bytes (one that begins later
    // has more than 255 characters before it), so a long line is not read to its end.
    let Some(first) = find_level_equals(b, 1024) else {
        return Ok(None);
    };
    // `body.find("level=", 0, 256)`: the first one that ends within 256 characters. Bytes are
    // characters while they are ASCII.
    // The first one in the line is the first one in the window, when it lies in it; its index
    // in characters counts the bytes that begin a character.
    let chars = b[..first]
        .iter()
        .filter(|&&c| !(0x80..0xc0).contains(&c))
        .count();
    if chars + 6 > 256 {
        return Ok(None);
    }
    let at_ = first;
    // The character before: a non-ASCII one ends with a byte that is neither space nor tab.
    if at_ > 0 && !matches!(b[at_ - 1], b' ' | b'\t') {
        return Ok(None);
    }
    // `"?([A-Za-z]{1,12})\b`: the letters are forced (a boundary never falls between two
    // letters), then `\b` needs a character that is not `\w` (Unicode) or the end.
    let start = at_ + 6 + usize::from(is_byte(b, at_ + 6, b'"'));
    let n = count(b, start, 13, is_alpha);
    if n == 0 || n > 12 {
        return Ok(None);
    }
    match at(b, start + n) {
        Some(c) if c >= 0x80 => Err(Decline),
        Some(c) if c.is_ascii_alphanumeric() || c == b'_' => Ok(None),
        _ => known_word(&b[start..start + n]).map(Some),
    }
}

/// The first `level=` that ends by `limit`.
fn find_level_equals(b: &[u8], limit: usize) -> Option<usize> {
    let hay = &b[..limit.min(b.len())];
    let mut from = 5;
    while from < hay.len() {
        let eq = from + hay[from..].iter().position(|&c| c == b'=')?;
        if &hay[eq - 5..eq] == b"level" {
            return Some(eq - 5);
        }
        from = eq + 1;
    }
    None
}

/// `digit_start`, declining by `Err`.
fn digit_start_inner(b: &[u8]) -> R<DigitStart> {
    let Some(&first) = b.first() else {
        return Err(Decline);
    };
    if first >= 0x80 {
        // `str.isdigit` takes other scripts' digits: decline what may be one.
        return if numeric_at(b, 0) {
            Err(Decline)
        } else {
            Ok(DigitStart::Other)
        };
    }
    if !first.is_ascii_digit() {
        return Ok(DigitStart::Other);
    }
    // `message[4:5]` and `message[2:3]` are bytes 4 and 2 while bytes 0..5 are ASCII.
    if !b[..b.len().min(5)].is_ascii() {
        return Err(Decline);
    }
    if is_byte(b, 4, b'-') {
        let Some((end, word)) = iso_level(b) else {
            return Ok(DigitStart::Other);
        };
        if end == 29 {
            return Ok(DigitStart::Other); // perhaps s6-log's prefix: `_other` sees to it
        }
        let mut level = word.and_then(|(s, e)| level_word(&b[s..e]));
        if level.is_none() {
            level = tail_level(b, tail(b, end)?, false);
            if level.is_none() {
                level = level_key(b)?;
            }
        }
        let time = iso(&b[..end])?;
        return Ok(DigitStart::Iso { level, time });
    }
    // `_DIGIT_THIRD`: ":/-[ 0123456789"
    if matches!(
        at(b, 2),
        Some(b':' | b'/' | b'-' | b'[' | b' ' | b'0'..=b'9')
    ) {
        Ok(DigitStart::Other)
    } else {
        Ok(DigitStart::NoLayout)
    }
}

/// The first branch of `LineParser.parse` for `message` (see [`DigitStart`]); None: declined.
pub fn digit_start(message: &str) -> Option<DigitStart> {
    digit_start_inner(message.as_bytes()).ok()
}

// ---------------------------------------------------------------------------------------------
// `_TAIL` and `_tail_level`.

/// What `_TAIL.match` found: the word, the thread (`[…]`) and whether a pid or a separator that
/// makes only upper-case words count (` - …` or `|`) came before.
struct Tail {
    word: (usize, usize),
    thread: Option<(usize, usize)>,
    pid: bool,
    strict_sep: bool,
}

/// `\[?(?P<word>[A-Za-z]{1,13}[1-8]?)\]?(?=[\s:|,/(\]]|$)` at `i`: the word's range. The `[`
/// and the letters are forced; the digit is tried first (without it a digit would face the
/// look-ahead); a `]` after the word always passes (taken or, failing the look-ahead after
/// it, left to the look-ahead, which takes `]`).
fn tail_word(b: &[u8], i: usize) -> R<Option<(usize, usize)>> {
    let start = i + usize::from(is_byte(b, i, b'['));
    let n = count(b, start, 13, is_alpha);
    if n == 0 {
        return Ok(None);
    }
    let mut end = start + n;
    if matches!(at(b, end), Some(b'1'..=b'8')) {
        end += 1;
    }
    Ok(ahead(b, end, b":|,/(]")?.then_some((start, end)))
}

/// The pid part `\d{1,10}(?: {1,10}\d{1,10})? {1,10}` at `i`: where the word would start, for
/// the one choice that can be followed by a word (every other one leaves a digit or a space
/// where the word begins).
fn tail_pid(b: &[u8], i: usize) -> R<Option<usize>> {
    // At most 10 digits: an 11th would face the spaces.
    let n1 = count_digits(b, i, 10)?;
    if n1 == 0 {
        return Ok(None);
    }
    let s1 = count(b, i + n1, 11, is_space_byte);
    if s1 == 0 || s1 > 10 {
        return Ok(None);
    }
    let j = i + n1 + s1;
    if digit(b, j)? {
        // With the second number; without it the word would begin at a digit.
        let n2 = count_digits(b, j, 10)?;
        let s2 = count(b, j + n2, 11, is_space_byte);
        return Ok((1..=10).contains(&s2).then_some(j + n2 + s2));
    }
    Ok(Some(j))
}

/// The thread part `\[(?P<thread>[^\]]{1,80})\] {1,10}` at `i` (at a `[`): the thread's range
/// and where the word would start.
fn tail_thread(b: &[u8], i: usize) -> R<Option<((usize, usize), usize)>> {
    let n = count_negated(b, i + 1, 80, |c| c == b']')?;
    if n == 0 || !is_byte(b, i + 1 + n, b']') {
        return Ok(None);
    }
    let after = i + 2 + n;
    let s = count(b, after, 11, is_space_byte);
    Ok((1..=10)
        .contains(&s)
        .then_some(((i + 1, i + 1 + n), after + s)))
}

/// After the separator, at `q`: the optional pid or thread, then the word.
fn tail_after(b: &[u8], q: usize, strict_sep: bool) -> R<Option<Tail>> {
    if digit(b, q)? {
        if let Some(w) = tail_pid(b, q)? {
            if let Some(word) = tail_word(b, w)? {
                return Ok(Some(Tail {
                    word,
                    thread: None,
                    pid: true,
                    strict_sep,
                }));
            }
        }
    } else if is_byte(b, q, b'[') {
        if let Some((thread, w)) = tail_thread(b, q)? {
            if let Some(word) = tail_word(b, w)? {
                return Ok(Some(Tail {
                    word,
                    thread: Some(thread),
                    pid: false,
                    strict_sep,
                }));
            }
        }
    }
    Ok(tail_word(b, q)?.map(|word| Tail {
        word,
        thread: None,
        pid: false,
        strict_sep,
    }))
}

/// `_TAIL.match(b, p)`.
fn tail(b: &[u8], p: usize) -> R<Option<Tail>> {
    match at(b, p) {
        Some(b',' | b' ') => {
            // `,? {1,40}`: fewer spaces than the run leave a space where the next part needs
            // a digit, a `[` or a letter, so only the whole run (at most 40) can match.
            let comma = usize::from(is_byte(b, p, b','));
            let s = count(b, p + comma, 41, is_space_byte);
            if (1..=40).contains(&s) {
                if let Some(t) = tail_after(b, p + comma + s, false)? {
                    return Ok(Some(t));
                }
            }
            if comma == 1 || !(is_byte(b, p + 1, b'-') && is_byte(b, p + 2, b' ')) {
                return Ok(None);
            }
            // ` - (?P<name>[^\s\]\[]{1,200} - )?`: the name run is forced.
            let q = p + 3;
            let n = count_negated(b, q, 200, |c| is_space(c) || c == b']' || c == b'[')?;
            if n >= 1
                && is_byte(b, q + n, b' ')
                && is_byte(b, q + n + 1, b'-')
                && is_byte(b, q + n + 2, b' ')
            {
                if let Some(t) = tail_after(b, q + n + 3, true)? {
                    return Ok(Some(t));
                }
            }
            tail_after(b, q, true)
        }
        Some(b'\t') => tail_after(b, p + 1, false),
        Some(b'|') => tail_after(b, p + 1, true),
        _ => Ok(None),
    }
}

/// `_tail_level(tail, logcat)`.
fn tail_level(b: &[u8], tail: Option<Tail>, is_logcat: bool) -> Option<&'static str> {
    let tail = tail?;
    if let Some((s, e)) = tail.thread {
        if let Some(level) = level_word(&b[s..e]) {
            return Some(level); // `<time> [ERROR] …`
        }
    }
    let word = &b[tail.word.0..tail.word.1];
    if word.len() == 1 {
        return if is_logcat { logcat(word[0]) } else { None };
    }
    let level = level_word(word)?;
    // `word.isupper()`: letters (and a digit), at least one letter: no lower-case letter.
    if (tail.pid || tail.strict_sep) && word.iter().any(u8::is_ascii_lowercase) {
        return None;
    }
    Some(level)
}

// ---------------------------------------------------------------------------------------------
// `_plain` and its layouts.

/// `_CLOCK` (`\d\d:\d\d:\d\d(?:[.,]\d{1,9})?`) at `i`: its end, the fraction greedy.
fn clock(b: &[u8], i: usize, separators: &[u8], max_fraction: usize) -> R<Option<usize>> {
    if !(digits(b, i, 2)?
        && is_byte(b, i + 2, b':')
        && digits(b, i + 3, 2)?
        && is_byte(b, i + 5, b':')
        && digits(b, i + 6, 2)?)
    {
        return Ok(None);
    }
    let mut end = i + 8;
    if at(b, end).is_some_and(|c| separators.contains(&c)) && digit(b, end + 1)? {
        end += 1 + count_digits(b, end + 1, max_fraction)?;
    }
    Ok(Some(end))
}

/// `_ZONE` (`(?:Z|[+-]\d\d:?\d\d| [+-]\d\d:?\d\d)?`) at `i`: its end.
fn zone(b: &[u8], i: usize) -> R<usize> {
    if is_byte(b, i, b'Z') {
        return Ok(i + 1);
    }
    let s = i + usize::from(is_byte(b, i, b' '));
    if matches!(at(b, s), Some(b'+' | b'-')) && digits(b, s + 1, 2)? {
        if is_byte(b, s + 3, b':') && digits(b, s + 4, 2)? {
            return Ok(s + 6);
        }
        if digits(b, s + 3, 2)? {
            return Ok(s + 5);
        }
    }
    Ok(i)
}

/// `\d{4}-\d\d-\d\d` at `i` with the given separator test.
fn date(b: &[u8], i: usize, sep: fn(u8) -> bool) -> R<bool> {
    Ok(digits(b, i, 4)?
        && at(b, i + 4).is_some_and(sep)
        && digits(b, i + 5, 2)?
        && at(b, i + 7).is_some_and(sep)
        && digits(b, i + 8, 2)?)
}

/// `_yearless(month, day, clock, ingest)` with naive_time_zone UTC.
fn yearless(month: &[u8], day: &[u8], clock: &[u8], ingest: f64) -> R<Stamp> {
    // `time.gmtime(ingest)`: the Kafka times the core is given lie in 0..=253402300799.999.
    if !(0.0..253_402_300_800.0).contains(&ingest) {
        return Err(Decline);
    }
    let days = (ingest.floor() as i64).div_euclid(86_400);
    let (mut year, now_month, _) = crate::time::civil_from_days(days);
    let distance = two(month, 0) - now_month;
    if distance > 6 {
        year -= 1;
    } else if distance < -6 {
        year += 1;
    }
    let mut stamp = Stamp::new();
    if year > 9999 {
        stamp.push(b"1"); // `f"{year:04d}"` of 10000, the one year past 9999 reached here
    }
    stamp
        .push(&decimal::<4>(year))
        .push(b"-")
        .push(month)
        .push(b"-")
        .push(day)
        .push(b" ")
        .push(clock);
    Ok(stamp)
}

type Plain<'a> = (Option<&'static str>, Option<Own<'a>>);

/// `_digit_led(body, ingest)`.
fn digit_led(b: &[u8], ingest: f64) -> R<Plain<'_>> {
    // 1. iso: `\d{4}[-/]\d\d[-/]\d\d[T ]{_CLOCK}{_ZONE}`
    if date(b, 0, |c| c == b'-' || c == b'/')? && matches!(at(b, 10), Some(b'T' | b' ')) {
        if let Some(end) = clock(b, 11, b".,", 9)? {
            let end = zone(b, end)?;
            let level = tail_level(b, tail(b, end)?, false);
            return Ok((level, Some(Own::Slice(&b[..end]))));
        }
    }
    // 2. yy: `\d\d/\d\d/\d\d {_CLOCK}`
    if digits(b, 0, 2)?
        && is_byte(b, 2, b'/')
        && digits(b, 3, 2)?
        && is_byte(b, 5, b'/')
        && digits(b, 6, 2)?
        && is_byte(b, 8, b' ')
    {
        if let Some(end) = clock(b, 9, b".,", 9)? {
            let mut stamp = Stamp::new();
            stamp
                .push(b"20")
                .push(&b[0..2])
                .push(b"-")
                .push(&b[3..5])
                .push(b"-")
                .push(&b[6..8])
                .push(b" ")
                .push(&b[9..end]);
            let level = tail_level(b, tail(b, end)?, false);
            return Ok((level, Some(Own::Built(stamp))));
        }
    }
    // 3. ymd: `\d{6} \d{6}(?= )`
    if digits(b, 0, 6)? && is_byte(b, 6, b' ') && digits(b, 7, 6)? && is_byte(b, 13, b' ') {
        let mut stamp = Stamp::new();
        stamp
            .push(b"20")
            .push(&b[0..2])
            .push(b"-")
            .push(&b[2..4])
            .push(b"-")
            .push(&b[4..6])
            .push(b" ")
            .push(&b[7..9])
            .push(b":")
            .push(&b[9..11])
            .push(b":")
            .push(&b[11..13]);
        let level = tail_level(b, tail(b, 13)?, false);
        return Ok((level, Some(Own::Built(stamp))));
    }
    // 4. md: `\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}(?= )` (Android logcat)
    if digits(b, 0, 2)?
        && is_byte(b, 2, b'-')
        && digits(b, 3, 2)?
        && is_byte(b, 5, b' ')
        && digits(b, 6, 2)?
        && is_byte(b, 8, b':')
        && digits(b, 9, 2)?
        && is_byte(b, 11, b':')
        && digits(b, 12, 2)?
        && is_byte(b, 14, b'.')
        && digits(b, 15, 3)?
        && is_byte(b, 18, b' ')
    {
        let stamp = yearless(&b[0..2], &b[3..5], &b[6..18], ingest)?;
        let level = tail_level(b, tail(b, 18)?, true);
        return Ok((level, Some(Own::Built(stamp))));
    }
    // 5. dd-Mon-yyyy: `\d\d-{_MONTH}-\d{4} {_CLOCK}` (Tomcat)
    if digits(b, 0, 2)? && is_byte(b, 2, b'-') {
        if let Some(mon) = month(b, 3) {
            if is_byte(b, 6, b'-') && digits(b, 7, 4)? && is_byte(b, 11, b' ') {
                if let Some(end) = clock(b, 12, b".,", 9)? {
                    let mut stamp = Stamp::new();
                    stamp
                        .push(&b[7..11])
                        .push(b"-")
                        .push(mon)
                        .push(b"-")
                        .push(&b[0..2])
                        .push(b" ")
                        .push(&b[12..end]);
                    let level = tail_level(b, tail(b, end)?, false);
                    return Ok((level, Some(Own::Built(stamp))));
                }
            }
        }
    }
    // 6. a time of day alone: not placed
    if let Some(end) = clock(b, 0, b".,", 9)? {
        return Ok((tail_level(b, tail(b, end)?, false), None));
    }
    // 7. `\d{1,12}(?= \[)` (log4j 1.x TTCC)
    let n = count_digits(b, 0, 12)?;
    if n >= 1 && is_byte(b, n, b' ') && is_byte(b, n + 1, b'[') {
        return Ok((tail_level(b, tail(b, n)?, false), None));
    }
    Ok((None, None))
}

/// `_bracket_led(body)`: `_BRACKET_HEAD`'s alternatives in order.
fn bracket_led(b: &[u8]) -> R<Plain<'_>> {
    // bare: `\[([A-Za-z]{3,13})\](?=[\s:|]|$)`
    let n = count(b, 1, 13, is_alpha);
    if n >= 3 && is_byte(b, 1 + n, b']') && ahead(b, 2 + n, b":|")? {
        return Ok((level_word(&b[1..1 + n]), None));
    }
    // Apache httpd: `[Tue Dec 01 10:00:00.902022 2026] [core:error]`
    if let Some(found) = apache(b)? {
        return Ok(found);
    }
    // Serilog: `\[{_CLOCK} ([A-Z]{3})\]`
    if let Some(end) = clock(b, 1, b".,", 9)? {
        if is_byte(b, end, b' ') && count(b, end + 1, 3, is_upper) == 3 && is_byte(b, end + 4, b']')
        {
            return Ok((level_word(&b[end + 1..end + 4]), None));
        }
    }
    // `\[(?P<time>(?:\d{4}-\d\d-\d\d[T ])?{_CLOCK}{_ZONE})\](?: \[\d{1,10}\])? \[?
    // (?P<word>[A-Za-z]{3,9})\]?(?=[\s:(]|$)`
    let dated = date(b, 1, |c| c == b'-')? && matches!(at(b, 11), Some(b'T' | b' '));
    let Some(end) = clock(b, if dated { 12 } else { 1 }, b".,", 9)? else {
        return Ok((None, None));
    };
    let end = zone(b, end)?;
    if !is_byte(b, end, b']') {
        return Ok((None, None));
    }
    let i = end + 1;
    if is_byte(b, i, b' ') && is_byte(b, i + 1, b'[') {
        let n = count_digits(b, i + 2, 10)?;
        if n >= 1 && is_byte(b, i + 2 + n, b']') {
            if let Some(word) = bracket_word(b, i + 3 + n)? {
                return Ok(bracket_time(b, end, word));
            }
        }
    }
    let Some(word) = bracket_word(b, i)? else {
        return Ok((None, None));
    };
    Ok(bracket_time(b, end, word))
}

/// ` \[?([A-Za-z]{3,9})\]?(?=[\s:(]|$)` at `i` (from the space).
fn bracket_word(b: &[u8], i: usize) -> R<Option<(usize, usize)>> {
    if !is_byte(b, i, b' ') {
        return Ok(None);
    }
    let start = i + 1 + usize::from(is_byte(b, i + 1, b'['));
    let n = count(b, start, 9, is_alpha);
    if n < 3 {
        return Ok(None);
    }
    let end = start + n;
    // A `]` taken needs the look-ahead after it; left, it faces the look-ahead, which refuses it.
    let pass = if is_byte(b, end, b']') {
        ahead(b, end + 1, b":(")?
    } else {
        ahead(b, end, b":(")?
    };
    Ok(pass.then_some((start, end)))
}

/// The level and time of `_BRACKET_HEAD`'s last alternative.
fn bracket_time(b: &[u8], end: usize, word: (usize, usize)) -> Plain<'_> {
    let level = level_word(&b[word.0..word.1]);
    let stamp = &b[1..end];
    // A time of day alone is not placed.
    let own = (stamp.get(2) != Some(&b':')).then_some(Own::Slice(stamp));
    (level, own)
}

/// `_BRACKET_HEAD`'s Apache httpd alternative.
fn apache(b: &[u8]) -> R<Option<Plain<'_>>> {
    let Some(mon) = month(b, 5) else {
        return Ok(None);
    };
    if !(at(b, 1).is_some_and(is_upper)
        && at(b, 2).is_some_and(is_lower)
        && at(b, 3).is_some_and(is_lower)
        && is_byte(b, 4, b' ')
        && is_byte(b, 8, b' ')
        && digits(b, 9, 2)?
        && is_byte(b, 11, b' ')
        && digits(b, 12, 2)?
        && is_byte(b, 14, b':')
        && digits(b, 15, 2)?
        && is_byte(b, 17, b':')
        && digits(b, 18, 2)?)
    {
        return Ok(None);
    }
    let mut clock_end = 20;
    if is_byte(b, 20, b'.') && digit(b, 21)? {
        clock_end = 21 + count_digits(b, 21, 6)?;
    }
    let y = clock_end + 1;
    if !(is_byte(b, clock_end, b' ')
        && digits(b, y, 4)?
        && is_byte(b, y + 4, b']')
        && is_byte(b, y + 5, b' ')
        && is_byte(b, y + 6, b'['))
    {
        return Ok(None);
    }
    let k = y + 7;
    // `(?:[a-z_0-9]{1,40}:)?` tried first, then without.
    let p = count(b, k, 40, |c| {
        c.is_ascii_lowercase() || c == b'_' || c.is_ascii_digit()
    });
    let mut word = None;
    if p >= 1 && is_byte(b, k + p, b':') {
        word = apache_word(b, k + p + 1);
    }
    if word.is_none() {
        word = apache_word(b, k);
    }
    let Some((s, e)) = word else {
        return Ok(None);
    };
    let mut stamp = Stamp::new();
    stamp
        .push(&b[y..y + 4])
        .push(b"-")
        .push(mon)
        .push(b"-")
        .push(&b[9..11])
        .push(b" ")
        .push(&b[12..clock_end]);
    Ok(Some((level_word(&b[s..e]), Some(Own::Built(stamp)))))
}

/// `(?P<apache>[a-z]{4,6}[1-8]?)\]` at `i`.
fn apache_word(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let n = count(b, i, 6, is_lower);
    if n < 4 {
        return None;
    }
    let mut end = i + n;
    if matches!(at(b, end), Some(b'1'..=b'8')) && is_byte(b, end + 1, b']') {
        end += 1;
    }
    is_byte(b, end, b']').then_some((i, end))
}

/// `_upper_led(body, ingest)`.
fn upper_led(b: &[u8], ingest: f64) -> R<Plain<'_>> {
    // A sentence (`Connection reset…`) is no layout but a month's.
    let second_lower = match at(b, 1) {
        // Lower-case or not (`str.islower`), a second character that is not ASCII leaves no
        // alternative of `_UPPER_HEAD` but klog's, whose `\d` may take it if it is a digit.
        Some(c) if c >= 0x80 && numeric_at(b, 1) => return Err(Decline),
        Some(c) if c >= 0x80 => return Ok((None, None)),
        Some(c) => c.is_ascii_lowercase(),
        None => false,
    };
    if second_lower && month(b, 0).is_none() {
        return Ok((None, None));
    }
    let first = b[0];
    // klog: `[IWEF]\d\d\d\d \d\d:\d\d:\d\d\.\d{6} `
    if let Some(level) = klog(first) {
        if digits(b, 1, 4)?
            && is_byte(b, 5, b' ')
            && digits(b, 6, 2)?
            && is_byte(b, 8, b':')
            && digits(b, 9, 2)?
            && is_byte(b, 11, b':')
            && digits(b, 12, 2)?
            && is_byte(b, 14, b'.')
            && digits(b, 15, 6)?
            && is_byte(b, 21, b' ')
        {
            let stamp = yearless(&b[1..3], &b[3..5], &b[6..21], ingest)?;
            return Ok((Some(level), Some(Own::Built(stamp))));
        }
    }
    // Ruby: `[DIWEFA], \[(?P<rtime>\d{4}-\d\d-\d\dT{_CLOCK}{_ZONE})(?: #\d{1,10})?\] {1,6}
    // (?P<ruby>[A-Z]{3,5}) -- `
    if matches!(first, b'D' | b'I' | b'W' | b'E' | b'F' | b'A')
        && is_byte(b, 1, b',')
        && is_byte(b, 2, b' ')
        && is_byte(b, 3, b'[')
        && date(b, 4, |c| c == b'-')?
        && is_byte(b, 14, b'T')
    {
        if let Some(found) = ruby_led(b)? {
            return Ok(found);
        }
    }
    // logcat brief: `[VDIWEFA]/[^\s(]{0,100}\( {0,9}\d{1,10}\): `
    if let Some(level) = logcat(first) {
        if is_byte(b, 1, b'/') {
            let n = count_negated(b, 2, 100, |c| is_space(c) || c == b'(')?;
            let open = 2 + n;
            if is_byte(b, open, b'(') {
                let s = count(b, open + 1, 9, is_space_byte);
                let d = count_digits(b, open + 1 + s, 10)?;
                let close = open + 1 + s + d;
                if d >= 1
                    && is_byte(b, close, b')')
                    && is_byte(b, close + 1, b':')
                    && is_byte(b, close + 2, b' ')
                {
                    return Ok((Some(level), None));
                }
            }
        }
    }
    // syslog: `{_MONTH} [ \d]\d \d\d:\d\d:\d\d` and perhaps the level after host and program
    if let Some(mon) = month(b, 0) {
        let day_ok = match at(b, 4) {
            Some(b' ') => true,
            _ => digit(b, 4)?,
        };
        if is_byte(b, 3, b' ')
            && day_ok
            && digit(b, 5)?
            && is_byte(b, 6, b' ')
            && digits(b, 7, 2)?
            && is_byte(b, 9, b':')
            && digits(b, 10, 2)?
            && is_byte(b, 12, b':')
            && digits(b, 13, 2)?
        {
            let day = [if b[4] == b' ' { b'0' } else { b[4] }, b[5]];
            let stamp = yearless(mon, &day, &b[7..15], ingest)?;
            let level = syslog_level(b, 15)?;
            return Ok((level, Some(Own::Built(stamp))));
        }
    }
    // word: `[A-Za-z]{3,13}(?=[\s:|]|$)`, upper-case only at the start of a line
    let n = count(b, 0, 13, is_alpha);
    if n >= 3 && ahead(b, n, b":|")? {
        let word = &b[..n];
        if word.iter().any(u8::is_ascii_lowercase) {
            return Ok((None, None));
        }
        return Ok((level_word(word), None));
    }
    Ok((None, None))
}

/// The rest of Ruby's Logger line from its time (at 4).
fn ruby_led(b: &[u8]) -> R<Option<Plain<'_>>> {
    let Some(end) = clock(b, 15, b".,", 9)? else {
        return Ok(None);
    };
    let end = zone(b, end)?;
    let mut i = end;
    if is_byte(b, i, b' ') && is_byte(b, i + 1, b'#') {
        let d = count_digits(b, i + 2, 10)?;
        if d == 0 {
            return Ok(None);
        }
        i += 2 + d;
    }
    if !is_byte(b, i, b']') {
        return Ok(None);
    }
    let s = count(b, i + 1, 6, is_space_byte);
    let w = i + 1 + s;
    let n = count(b, w, 5, is_upper);
    if s == 0 || n < 3 || &b[w + n..(w + n + 4).min(b.len())] != b" -- " {
        return Ok(None);
    }
    Ok(Some((ruby(&b[w..w + n]), Some(Own::Slice(&b[4..end])))))
}

/// The optional group after a syslog time at `i`: ` host prog[pid]: ` and `<info>`, `[INFO]`
/// or `INFO:` (then `(?=[\s:]|$)`), the level when in `_LEVELS`.
fn syslog_level(b: &[u8], i: usize) -> R<Option<&'static str>> {
    if !is_byte(b, i, b' ') {
        return Ok(None);
    }
    let host = count_negated(b, i + 1, 255, is_space)?;
    let p = i + 1 + host;
    if host == 0 || !is_byte(b, p, b' ') {
        return Ok(None);
    }
    let prog = count_negated(b, p + 1, 100, |c| is_space(c) || c == b'[' || c == b':')?;
    let mut k = p + 1 + prog;
    if prog == 0 {
        return Ok(None);
    }
    if is_byte(b, k, b'[') {
        let d = count_digits(b, k + 1, 10)?;
        if d == 0 || !is_byte(b, k + 1 + d, b']') {
            return Ok(None);
        }
        k += 2 + d;
    }
    if !(is_byte(b, k, b':') && is_byte(b, k + 1, b' ')) {
        return Ok(None);
    }
    let w = k + 2;
    let word = match at(b, w) {
        Some(b'<') => {
            let n = count(b, w + 1, 7, is_lower);
            (n >= 4 && is_byte(b, w + 1 + n, b'>')).then_some((w + 1, w + 1 + n, w + 2 + n))
        }
        Some(b'[') => {
            let n = count(b, w + 1, 9, is_alpha);
            (n >= 3 && is_byte(b, w + 1 + n, b']')).then_some((w + 1, w + 1 + n, w + 2 + n))
        }
        _ => {
            let n = count(b, w, 9, is_upper);
            (n >= 3 && is_byte(b, w + n, b':')).then_some((w, w + n, w + n))
        }
    };
    match word {
        Some((s, e, after)) if ahead(b, after, b":")? => Ok(level_word(&b[s..e])),
        _ => Ok(None),
    }
}

/// `_syslog_pri(body, ingest)`.
fn syslog_pri(b: &[u8], ingest: f64) -> R<Plain<'_>> {
    let d = count_digits(b, 1, 3)?;
    if d == 0 || !is_byte(b, 1 + d, b'>') {
        return Ok((None, None));
    }
    let pri = b[1..1 + d]
        .iter()
        .fold(0usize, |acc, c| acc * 10 + usize::from(c - b'0'));
    if pri > 191 {
        return Ok((None, None));
    }
    let level = Some(SYSLOG[pri & 7]);
    let i = 2 + d;
    // `1 <ISO time>`: `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)`
    if is_byte(b, i, b'1')
        && is_byte(b, i + 1, b' ')
        && date(b, i + 2, |c| c == b'-')?
        && is_byte(b, i + 12, b'T')
    {
        if let Some(mut end) = clock(b, i + 13, b".", 6)? {
            let zone_ok = if is_byte(b, end, b'Z') {
                end += 1;
                true
            } else if matches!(at(b, end), Some(b'+' | b'-'))
                && digits(b, end + 1, 2)?
                && is_byte(b, end + 3, b':')
                && digits(b, end + 4, 2)?
            {
                end += 6;
                true
            } else {
                false
            };
            if zone_ok {
                return Ok((level, Some(Own::Slice(&b[i + 2..end]))));
            }
        }
    }
    // `{_MONTH} [ \d]\d \d\d:\d\d:\d\d`
    if let Some(mon) = month(b, i) {
        let day_ok = match at(b, i + 4) {
            Some(b' ') => true,
            _ => digit(b, i + 4)?,
        };
        if is_byte(b, i + 3, b' ')
            && day_ok
            && digit(b, i + 5)?
            && is_byte(b, i + 6, b' ')
            && digits(b, i + 7, 2)?
            && is_byte(b, i + 9, b':')
            && digits(b, i + 10, 2)?
            && is_byte(b, i + 12, b':')
            && digits(b, i + 13, 2)?
        {
            let day = [if b[i + 4] == b' ' { b'0' } else { b[i + 4] }, b[i + 5]];
            let stamp = yearless(mon, &day, &b[i + 7..i + 15], ingest)?;
            return Ok((level, Some(Own::Built(stamp))));
        }
    }
    Ok((level, None))
}

/// `_plain(body, first, ingest)`.
fn plain(b: &[u8], ingest: f64) -> R<Plain<'_>> {
    let Some(&first) = b.first() else {
        return Ok((None, None));
    };
    match first {
        // `str.isdigit` takes other scripts' digits: decline what may be one; any other
        // character leads no layout.
        0x80.. if numeric_at(b, 0) => Err(Decline),
        0x80.. => Ok((None, None)),
        b'0'..=b'9' => digit_led(b, ingest),
        b'[' => bracket_led(b),
        b'A'..=b'Z' => upper_led(b, ingest),
        b'<' => syslog_pri(b, ingest),
        b'a'..=b'z' => {
            // `":" in body[4:8]` then `([a-z]{4,7}):(?= |$)`: the expression alone decides
            // (its `:` lies in 4..8 whenever it matches).
            let n = count(b, 0, 7, is_lower);
            let after = n + 1;
            let ends = after == b.len()
                || is_byte(b, after, b' ')
                || (after + 1 == b.len() && b[after] == b'\n');
            if n >= 4 && is_byte(b, n, b':') && ends {
                return Ok((lower_level(&b[..n]), None));
            }
            Ok((None, None))
        }
        _ => Ok((None, None)),
    }
}

fn plain_inner(b: &[u8], ingest: f64) -> R<(Option<&'static str>, Option<String>)> {
    let (mut level, own) = plain(b, ingest)?;
    if level.is_none() {
        level = level_key(b)?;
    }
    let time = match own {
        None => None,
        // A time of its own that does not normalize: see the module's notes.
        Some(own) => Some(normalize_ascii(own.bytes())?.ok_or(Decline)?),
    };
    Ok((level, time))
}

/// `_plain(body, first, ingest)` then the `level=` fallback (`_level_key`) exactly as `_other`
/// does after it: (level to set, the line's own time already through `normalize`, or None).
/// None: declined.
pub fn plain_level_and_time(
    body: &str,
    ingest_seconds: f64,
) -> Option<(Option<&'static str>, Option<String>)> {
    plain_inner(body.as_bytes(), ingest_seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEC_2026: f64 = 1_795_694_400.0; // 2026-11-26T12:00:00Z
    const JAN_2027: f64 = 1_798_965_000.0; // 2027-01-03T08:30:00Z

    fn plain(body: &str) -> Option<(Option<&'static str>, Option<String>)> {
        plain_level_and_time(body, DEC_2026)
    }

    fn some(
        level: Option<&'static str>,
        time: Option<&str>,
    ) -> Option<(Option<&'static str>, Option<String>)> {
        Some((level, time.map(str::to_owned)))
    }

    #[test]
    fn digit_start_branches() {
        assert_eq!(
            digit_start("2026-12-01T10:00:00.123Z INFO x"),
            Some(DigitStart::Iso {
                level: Some("info"),
                time: Some("2026-12-01T10:00:00.123Z".into())
            })
        );
        assert_eq!(
            digit_start("2026-12-01 10:00:01,120 - shop.db - WARNING - slow"),
            Some(DigitStart::Iso {
                level: Some("warning"),
                time: Some("2026-12-01T10:00:01.120Z".into())
            })
        );
        // 29 characters, as s6-log's prefix: `_other` sees to it
        assert_eq!(
            digit_start("2026-12-01T10:00:00.123+01:00  INFO 12345 --- [main] x"),
            Some(DigitStart::Other)
        );
        assert_eq!(
            digit_start("2026-12-01T10:00:00+01:00 INFO x"),
            Some(DigitStart::Iso {
                level: Some("info"),
                time: Some("2026-12-01T09:00:00.000Z".into())
            })
        );
        assert_eq!(
            digit_start("2026-12-01 10:00:00 Connection error in error state 6"),
            Some(DigitStart::Iso {
                level: None,
                time: Some("2026-12-01T10:00:00.000Z".into())
            })
        );
        assert_eq!(
            digit_start("10.42.0.7 - - [01/Dec/2026]"),
            Some(DigitStart::NoLayout)
        );
        assert_eq!(digit_start("7"), Some(DigitStart::NoLayout));
        assert_eq!(
            digit_start("26/12/01 10:10:40 INFO x"),
            Some(DigitStart::Other)
        );
        // s6-log's 29-character time goes on to `_other`
        assert_eq!(
            digit_start("2026-12-01 10:00:00.123456789  INFO x"),
            Some(DigitStart::Other)
        );
        assert_eq!(digit_start("x"), Some(DigitStart::Other));
        assert_eq!(digit_start(""), None);
        assert_eq!(digit_start("\u{663}026-12-01"), None);
        // `level=` with a word outside the tables
        assert_eq!(digit_start("2026-12-01 10:00:00 x level=frobnicate"), None);
        assert_eq!(
            digit_start("2026-12-01 10:00:00 x level=warn"),
            Some(DigitStart::Iso {
                level: Some("warn"),
                time: Some("2026-12-01T10:00:00.000Z".into())
            })
        );
    }

    #[test]
    fn plain_layouts() {
        assert_eq!(
            plain("26/12/01 10:10:41 WARN storage.BlockManager: x"),
            some(Some("warn"), Some("2026-12-01T10:10:41.000Z"))
        );
        assert_eq!(
            plain("261201 101044 2561 WARN dfs.DataNode: x"),
            some(Some("warn"), Some("2026-12-01T10:10:44.000Z"))
        );
        assert_eq!(
            plain("01-Dec-2026 10:00:00.123 SEVERE [main] x"),
            some(Some("severe"), Some("2026-12-01T10:00:00.123Z"))
        );
        assert_eq!(
            plain("1234 [pool-2-thread-1] WARN  com.example.Cache  - x"),
            some(Some("warn"), None)
        );
        assert_eq!(
            plain("10:00:00.123 [main] DEBUG c.e.App - tick"),
            some(Some("debug"), None)
        );
        assert_eq!(
            plain("[2026-12-01 10:00:00 +0000] [4242] [INFO] Starting"),
            some(Some("info"), Some("2026-12-01T10:00:00.000Z"))
        );
        assert_eq!(
            plain("[10:00:00 INF] Now listening"),
            some(Some("inf"), None)
        );
        assert_eq!(
            plain("[Tue Dec 01 10:00:00.902022 2026] [ssl:trace1] [pid 35708] x"),
            some(Some("trace1"), Some("2026-12-01T10:00:00.902Z"))
        );
        assert_eq!(
            plain("[WARNING] disk almost full"),
            some(Some("warning"), None)
        );
        assert_eq!(
            plain("E1201 10:00:02.999999       1 leaderelection.go:330] x"),
            some(Some("error"), Some("2026-12-01T10:00:02.999Z"))
        );
        assert_eq!(
            plain("F, [2026-12-01T10:00:02.000000 #4242] FATAL -- shop: boom"),
            some(Some("fatal"), Some("2026-12-01T10:00:02.000Z"))
        );
        assert_eq!(
            plain("W/ActivityManager(  512): Slow"),
            some(Some("warn"), None)
        );
        assert_eq!(
            plain("Dec  1 10:00:00 node-1 NetworkManager[812]: <info>  [1.1] x"),
            some(Some("info"), Some("2026-12-01T10:00:00.000Z"))
        );
        assert_eq!(
            plain("WARNING:root:disk almost full"),
            some(Some("warning"), None)
        );
        assert_eq!(plain("Error connecting to the database"), some(None, None));
        assert_eq!(
            plain("<34>Dec  1 10:00:04 node-1 su: failed"),
            some(Some("crit"), Some("2026-12-01T10:00:04.000Z"))
        );
        assert_eq!(
            plain("<165>1 2026-12-01T10:00:05.003Z node-1 x"),
            some(Some("notice"), Some("2026-12-01T10:00:05.003Z"))
        );
        assert_eq!(plain("<192>x"), some(None, None));
        assert_eq!(
            plain("fail: Microsoft.AspNetCore[13]"),
            some(Some("error"), None)
        );
        assert_eq!(plain("info:\n"), some(Some("info"), None));
        assert_eq!(plain("http: TLS handshake error"), some(None, None));
        assert_eq!(
            plain("12-01 10:13:38.811  1702  2395 D WindowManager: x"),
            some(Some("debug"), Some("2026-12-01T10:13:38.811Z"))
        );
        assert_eq!(plain(""), some(None, None));
        assert_eq!(plain("x level=\"Warn\" y"), some(Some("warn"), None));
        assert_eq!(plain("xlevel=warn"), some(None, None));
        let far = format!("{} level=warn", "x".repeat(249));
        assert_eq!(plain(&far), some(Some("warn"), None));
        let far = format!("{} level=warn", "x".repeat(250));
        assert_eq!(plain(&far), some(None, None));
        let far = format!("{} level=warn", "\u{e9}".repeat(249));
        assert_eq!(plain(&far), some(Some("warn"), None));
        let far = format!("{} level=warn", "\u{1f600}".repeat(250));
        assert_eq!(plain(&far), some(None, None));
    }

    #[test]
    fn year_less_times_take_the_nearest_year() {
        let line = "Dec 31 23:59:59 host prog: x";
        assert_eq!(
            plain_level_and_time(line, JAN_2027),
            some(None, Some("2026-12-31T23:59:59.000Z"))
        );
        let line = "Jan  2 00:00:00 host prog: x";
        assert_eq!(
            plain_level_and_time(line, DEC_2026),
            some(None, Some("2027-01-02T00:00:00.000Z"))
        );
        assert_eq!(plain_level_and_time(line, f64::NAN), None);
        assert_eq!(plain_level_and_time(line, -1.0), None);
    }

    #[test]
    fn own_times_that_do_not_normalize_are_declined() {
        assert_eq!(plain("26/12/01 10:10:60 WARN x"), None);
        assert_eq!(plain("2026-02-30 10:00:00+01:00 WARN x"), None);
    }

    #[test]
    fn non_ascii_where_it_is_read_declines() {
        assert_eq!(plain("\u{663}26/12/01 10:10:40 INFO x"), None); // `str.isdigit`
        assert_eq!(plain("E\u{663}201 10:00:00.123456 x"), None); // klog's `\d`
                                                                  // a thread's characters are counted
        assert_eq!(plain("10:00:00.123 [m\u{e9}] DEBUG x"), None);
        // ... and not where it is not read, or cannot change the answer
        assert_eq!(plain("\u{e9}t\u{e9}"), some(None, None));
        assert_eq!(plain("\u{e9}t\u{e9} level=warn"), some(Some("warn"), None));
        assert_eq!(plain("E\u{e9}"), some(None, None));
        assert_eq!(digit_start("\u{e9}"), Some(DigitStart::Other));
        assert_eq!(plain("Error \u{e9}t\u{e9}"), some(None, None));
        assert_eq!(
            plain("2026/12/01 10:00:00 [error] \u{e9}"),
            some(Some("error"), Some("2026-12-01T10:00:00.000Z"))
        );
    }

    #[test]
    fn normalize_shapes() {
        let n = |t: &str| normalize(t).map(|o| o.unwrap_or_default());
        assert_eq!(
            n("2026-12-01T10:00:00.123Z"),
            Some("2026-12-01T10:00:00.123Z".into())
        );
        assert_eq!(n("2026-12-01T10:00:60.123Z"), Some(String::new()));
        assert_eq!(
            n("2026/12/01 10:00:00,5"),
            Some("2026-12-01T10:00:00.500Z".into())
        );
        assert_eq!(
            n("2026-12-01 10:00:00 +05:30"),
            Some("2026-12-01T04:30:00.000Z".into())
        );
        assert_eq!(
            n("2026-12-01 23:00:00-0130"),
            Some("2026-12-02T00:30:00.000Z".into())
        );
        assert_eq!(
            n("2026-12-01 10:00:00-05"),
            Some("2026-12-01T15:00:00.000Z".into())
        );
        assert_eq!(
            n("2026-12-01 10:00:00 UTC"),
            Some("2026-12-01T10:00:00.000Z".into())
        );
        assert_eq!(
            n("2026-12-01 10:00:00\n"),
            Some("2026-12-01T10:00:00.000Z".into())
        );
        assert_eq!(n("2026-12-01 10:00:00+24:00"), Some(String::new()));
        assert_eq!(n("2023-02-29 10:00:00+01:00"), Some(String::new()));
        assert_eq!(
            n("2026-13-45 99:99:59"),
            Some("2026-13-45T99:99:59.000Z".into())
        );
        assert_eq!(n("2026-12-01 10:00:00.1234567890"), Some(String::new()));
        assert_eq!(n("0001-01-01 00:00:00+01:00"), None);
        assert_eq!(n("1000-01-01 00:30:00+01:00"), None);
        assert_eq!(n("\u{663}"), None);
    }

    /// No input panics: a deterministic walk over lines built from the pieces the scanners
    /// look for, cut at every character boundary.
    #[test]
    fn no_panic_on_pieces_and_cuts() {
        const PIECES: &[&str] = &[
            "2026", "-", "/", "12", "01", "T", " ", "10:00:00", ".", ",", "123", "Z", "+01:00",
            "[", "]", "INFO", "warn", "level=", "\"", "|", "\t", "(", ")", ": ", "<34>", "1 ",
            "Dec", " - ", "#42", "E", "/Tag", "\u{e9}", "\u{663}", "\n", "9999", "0001", "\u{85}",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let mut line = String::new();
            for _ in 0..(next() % 24) {
                line.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            for (cut, _) in line.char_indices().chain([(line.len(), ' ')]) {
                let part = &line[..cut];
                let _ = digit_start(part);
                let _ = plain_level_and_time(part, DEC_2026);
                let _ = normalize(part);
            }
        }
    }
}
