//! Plain lines (`indexer/structured.py`: the digit-first branch of `LineParser.parse`, `_plain`
//! with its layouts, `_level_key`, `normalize`): the boundary `structured.rs` calls.
//!
//! STUB on the `pjson` branch: every function declines (the caller counts `plain_layout`), so
//! the branch is correct alone; the plain-line port replaces this file at merge. The one
//! exception is `normalize`'s first branch (a stamp already `YYYY-MM-DDTHH:MM:SS.mmmZ`, returned
//! as it is when its seconds are below 60), so JSON and logfmt time keys of that shape are
//! taken before the full port lands.
//!
//! The signatures are the agreed boundary, unchanged.

/// Result of `LineParser.parse`'s first branch for a message whose first char is an ASCII digit.
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

/// None = decline (stub: always None).
pub fn digit_start(_message: &str) -> Option<DigitStart> {
    None
}

/// `_plain(body, first, ingest)` then the `level=` fallback (`_level_key`) exactly as `_other` does after it:
/// (level to set, the line's own time already through `normalize`, or None).
/// None = decline (stub: always None).
pub fn plain_level_and_time(
    _body: &str,
    _ingest_seconds: f64,
) -> Option<(Option<&'static str>, Option<String>)> {
    None
}

/// `LineParser.normalize(text)` with naive_time_zone UTC; outer None = decline. Stub: only the
/// first branch (`len(text) == 24 and text[10] == "T" and text[23] == "Z" and text[19] == "."`,
/// ASCII), else a decline.
pub fn normalize(text: &str) -> Option<Option<String>> {
    let b = text.as_bytes();
    if b.len() == 24 && text.is_ascii() && b[10] == b'T' && b[23] == b'Z' && b[19] == b'.' {
        // `text[17:19] < "60"`: two ASCII characters compared as Python compares strings.
        return Some((&b[17..19] < b"60".as_slice()).then(|| text.to_owned()));
    }
    None
}
