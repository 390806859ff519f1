//! Test-only probes of the plain-line reader (`plain.rs`), registered as `_core._probe_*`: the
//! differential tests (tests/core/test_plain_lines_differential.py) call them beside the
//! reference. Not part of the core's contract (`CONTRACT`); nothing else calls them.

use pyo3::prelude::*;

use crate::plain::{self, DigitStart};

/// Declined: None. Else `("iso", level, time)`, `("no_layout", None, None)` or
/// `("other", None, None)`.
#[pyfunction]
fn _probe_digit_start(
    message: &str,
) -> Option<(&'static str, Option<&'static str>, Option<String>)> {
    Some(match plain::digit_start(message)? {
        DigitStart::Iso { level, time } => ("iso", level, time),
        DigitStart::NoLayout => ("no_layout", None, None),
        DigitStart::Other => ("other", None, None),
    })
}

/// Declined: None. Else `(level, time)`.
#[pyfunction]
fn _probe_plain(body: &str, ingest_seconds: f64) -> Option<(Option<&'static str>, Option<String>)> {
    plain::plain_level_and_time(body, ingest_seconds)
}

/// Declined: None. Else `(normalized,)`.
#[pyfunction]
fn _probe_normalize(text: &str) -> Option<(Option<String>,)> {
    plain::normalize(text).map(|n| (n,))
}

pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(_probe_digit_start, module)?)?;
    module.add_function(wrap_pyfunction!(_probe_plain, module)?)?;
    module.add_function(wrap_pyfunction!(_probe_normalize, module)?)?;
    Ok(())
}
