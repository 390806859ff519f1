//! `indexer_core._core`: the native per-event path of the indexer (docs/native-core.md).
//!
//! One call per consumed read (`Core.take`): the message accessors are read while attached to
//! the interpreter, the work for the whole read runs detached (other threads run Python
//! meanwhile), and the results come back per position, with the positions the native path
//! declines left to the Python reference (`indexer/transform.py`).

#![forbid(unsafe_code)]

pub mod event;
pub mod json;
pub mod plain;
mod probes;
pub mod structured;
pub mod time;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use event::{Config, Declined, Message, PathHash, Placed, RouteEntry, Routes, Workspace};

/// A read this long or longer is worked on detached; a shorter one is not worth the switch.
const DETACH_FROM: usize = 64;
/// A read is transformed in slices of about this many bytes of input (see `take`).
const SLICE_BYTES: usize = 1 << 20;
/// `Router` clears its route cache at this size; so does the core (Python registers again).
const MAX_ROUTES: usize = 65_536;
/// `bulk.KAFKA_MILLIS_MAX`: a Kafka time beyond it (or none) is left to Python.
const KAFKA_MILLIS_MAX: i64 = 253_402_300_799_999;
/// `bulk.CLOCK_SET_MILLIS` (2000-01-01): an earlier Kafka time is a clock never set.
const CLOCK_SET_MILLIS: i64 = 946_684_800_000;
const PANIC: &str = "panic";
const UNREADABLE: &str = "unreadable_message";
const KAFKA_TIME: &str = "kafka_timestamp";
const ERROR: &str = "error_message";

/// What one message of a read holds, taken while attached.
struct Input {
    value: Option<PyBackedBytes>,
    topic: usize,
    partition: i64,
    offset: i64,
    seconds: f64,
    /// Set when the message is left to Python before any work (an error, an odd time).
    skip: Option<&'static str>,
}

/// The native core for one pipeline: the per-process settings and the routes Python resolved.
#[pyclass(frozen, module = "indexer_core._core")]
struct Core {
    config: Config,
    routes: Mutex<Routes>,
    /// The index names handed out, one `str` per index (every event looks its index up: the
    /// routes' seeded xxh3, not std's SipHash).
    names: Mutex<HashMap<String, Py<PyString>, PathHash>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one still holds consistent data.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Transforms `inputs` (a slice of a read): each accepted event's lines appended to `lines`
/// (its `Placed::line` is their range there), with the read's one `Workspace`.
fn work(
    config: &Config,
    routes: &Routes,
    inputs: &[Input],
    topics: &[String],
    ingested: &[u8],
    lines: &mut Vec<u8>,
    workspace: &mut Workspace,
) -> Vec<Result<Placed, Declined>> {
    lines.reserve(inputs.iter().map(expected_bytes).sum());
    inputs
        .iter()
        .map(|input| {
            if let Some(reason) = input.skip {
                return Err(reason.into());
            }
            let message = Message {
                value: input.value.as_deref().unwrap_or(b""),
                topic: &topics[input.topic],
                partition: input.partition,
                offset: input.offset,
                seconds: input.seconds,
            };
            let start = lines.len();
            catch_unwind(AssertUnwindSafe(|| {
                event::transform_into(config, routes, &message, ingested, lines, workspace)
            }))
            .unwrap_or_else(|_| {
                lines.truncate(start); // what the panicking event wrote
                Err(PANIC.into())
            })
        })
        .collect()
}

/// About what an input's lines take in the line buffer: its value and the action line.
fn expected_bytes(input: &Input) -> usize {
    input.value.as_deref().map_or(0, <[u8]>::len) + 400
}

/// Where the slices of a read end: each holds inputs worth about `SLICE_BYTES` (at least one).
fn slice_ends(inputs: &[Input]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut bytes = 0;
    for (i, input) in inputs.iter().enumerate() {
        bytes += expected_bytes(input);
        if bytes >= SLICE_BYTES {
            ends.push(i + 1);
            bytes = 0;
        }
    }
    if ends.last() != Some(&inputs.len()) && !inputs.is_empty() {
        ends.push(inputs.len());
    }
    ends
}

fn read_message(message: &Bound<'_, PyAny>, topics: &mut Vec<String>) -> PyResult<Input> {
    let py = message.py();
    if !message.call_method0(intern!(py, "error"))?.is_none() {
        return Ok(Input {
            value: None,
            topic: 0,
            partition: 0,
            offset: 0,
            seconds: 0.0,
            skip: Some(ERROR),
        });
    }
    let topic = message.call_method0(intern!(py, "topic"))?;
    let topic = topic.cast::<PyString>()?.to_str()?;
    let topic = match topics.iter().position(|t| t == topic) {
        Some(i) => i,
        None => {
            topics.push(topic.to_owned());
            topics.len() - 1
        }
    };
    let partition: i64 = message.call_method0(intern!(py, "partition"))?.extract()?;
    let offset: i64 = message.call_method0(intern!(py, "offset"))?.extract()?;
    let (kind, millis): (i64, i64) = message.call_method0(intern!(py, "timestamp"))?.extract()?;
    let value = message.call_method0(intern!(py, "value"))?;
    let value: Option<PyBackedBytes> = if value.is_none() {
        None
    } else {
        Some(value.extract()?)
    };
    // Pipeline._take: `kind and CLOCK_SET_MILLIS <= millis <= KAFKA_MILLIS_MAX`, else
    // message_seconds (Python): a record stamped before 2000 comes from a clock never set and is
    // routed by the time of consumption, which the reference path reads.
    let timely = kind != 0 && (CLOCK_SET_MILLIS..=KAFKA_MILLIS_MAX).contains(&millis);
    Ok(Input {
        value,
        topic,
        partition,
        offset,
        seconds: millis as f64 / 1000.0,
        skip: (!timely).then_some(KAFKA_TIME),
    })
}

#[pymethods]
impl Core {
    /// `index_prefix`, the routing bounds in seconds, whether structured parsing is on, and the
    /// other `parsing` settings (`ParsingSettings`: field, keep_original, max_line_chars,
    /// max_keys, max_depth, naive_time_zone). Settings the port does not follow (a zone other
    /// than UTC, a field named like one of ours) make every parsed event decline
    /// (`parsing_settings`).
    #[new]
    #[pyo3(signature = (
        index_prefix, max_past_seconds, max_future_seconds, parsing, *, field="json",
        keep_original=false, max_line_chars=65_536, max_keys=200, max_depth=16,
        naive_time_zone="UTC",
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        index_prefix: String,
        max_past_seconds: f64,
        max_future_seconds: f64,
        parsing: bool,
        field: &str,
        keep_original: bool,
        max_line_chars: usize,
        max_keys: usize,
        max_depth: usize,
        naive_time_zone: &str,
    ) -> PyResult<Self> {
        if !(max_past_seconds.is_finite() && max_future_seconds.is_finite()) {
            return Err(PyValueError::new_err("routing bounds must be finite"));
        }
        Ok(Core {
            config: Config {
                prefix: index_prefix,
                max_past: max_past_seconds,
                max_future: max_future_seconds,
                parsing,
                line: structured::ParseConfig::new(
                    field,
                    keep_original,
                    max_line_chars,
                    max_keys,
                    max_depth,
                    naive_time_zone,
                ),
            },
            routes: Mutex::new(Routes::new()),
            names: Mutex::new(HashMap::default()),
        })
    }

    /// Register what `Router` resolved for `path`: `base` None when it matched no layout.
    #[pyo3(signature = (path, base, fields, parse))]
    fn add_route(&self, path: String, base: Option<String>, fields: &[u8], parse: bool) {
        let mut routes = locked(&self.routes);
        if routes.len() >= MAX_ROUTES {
            routes.clear();
        }
        let entry = base.map(|base| RouteEntry {
            base,
            fields: fields.to_vec(),
            parse,
        });
        routes.insert(path, entry);
    }

    /// The number of registered paths.
    fn route_count(&self) -> usize {
        locked(&self.routes).len()
    }

    /// Transform one read. Returns `(indices, lines, declined, new_paths, high, reasons,
    /// unmatched, redated, last_stamp)`: per position an index and line, or None for a position
    /// in `declined` (positions, ascending), which the reference path must do; the paths Python
    /// should resolve and register; the highest offset per (topic, partition) of the read's
    /// messages that are not errors; the count per decline reason; the unmatched and redated
    /// counts and the last stamp routed by, of the accepted events.
    ///
    /// Raises only if a message's accessors raise.
    fn take<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyList>,
        ingested: &[u8],
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut topics: Vec<String> = Vec::new();
        let mut inputs = Vec::with_capacity(messages.len());
        for message in messages.iter() {
            let input = read_message(&message, &mut topics).unwrap_or(Input {
                value: None,
                topic: 0,
                partition: 0,
                offset: 0,
                seconds: 0.0,
                skip: Some(UNREADABLE),
            });
            inputs.push(input);
        }
        // The read is worked on in slices of about SLICE_BYTES, each slice's `bytes` made before
        // the next: the line buffer (reused) stays that size whatever the read holds, rather
        // than a second copy of a whole read of large events beside its `bytes` (a red-index
        // test of 8 KB events measured the peak RSS about 10 MiB higher with one buffer per read).
        let mut buffer = Vec::new();
        let mut workspace = Workspace::default();
        let mut results: Vec<Result<(Placed, Bound<'py, PyBytes>), Declined>> =
            Vec::with_capacity(inputs.len());
        {
            let routes = locked(&self.routes);
            let routes: &Routes = &routes;
            let config = &self.config;
            let mut start = 0;
            for end in slice_ends(&inputs) {
                let slice = &inputs[start..end];
                start = end;
                buffer.clear();
                let placed = if slice.len() >= DETACH_FROM {
                    let (topics, buffer, workspace) = (&topics, &mut buffer, &mut workspace);
                    py.detach(move || {
                        work(config, routes, slice, topics, ingested, buffer, workspace)
                    })
                } else {
                    let (buffer, workspace) = (&mut buffer, &mut workspace);
                    work(config, routes, slice, &topics, ingested, buffer, workspace)
                };
                for result in placed {
                    results.push(result.map(|placed| {
                        let line = PyBytes::new(py, &buffer[placed.line.clone()]);
                        (placed, line)
                    }));
                }
            }
        }
        let indices = PyList::empty(py);
        let lines = PyList::empty(py);
        let declined = PyList::empty(py);
        let new_paths = PyList::empty(py);
        let mut highest: Vec<((usize, i64), i64)> = Vec::new();
        let mut reasons: HashMap<&'static str, usize> = HashMap::new();
        let (mut unmatched, mut redated) = (0usize, 0usize);
        let mut last_stamp: Option<String> = None;
        let mut names = locked(&self.names);
        for (position, (input, result)) in inputs.iter().zip(results).enumerate() {
            if input.skip != Some(ERROR) && input.skip != Some(UNREADABLE) {
                // `high[topic, partition] = offset` in message order; reads hold few partitions.
                let key = (input.topic, input.partition);
                match highest.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, offset)) => *offset = input.offset,
                    None => highest.push((key, input.offset)),
                }
            }
            match result {
                Ok((accepted, line)) => {
                    let name = match names.get(&accepted.index) {
                        Some(name) => name.clone_ref(py),
                        None => {
                            if names.len() >= MAX_ROUTES {
                                names.clear();
                            }
                            let name: Py<PyString> = PyString::new(py, &accepted.index).unbind();
                            names.insert(accepted.index, name.clone_ref(py));
                            name
                        }
                    };
                    indices.append(name)?;
                    lines.append(line)?;
                    unmatched += usize::from(accepted.unmatched);
                    redated += usize::from(accepted.redated);
                    if accepted.stamp.is_some() {
                        last_stamp = accepted.stamp;
                    }
                }
                Err(declined_one) => {
                    indices.append(py.None())?;
                    lines.append(py.None())?;
                    declined.append(position)?;
                    *reasons.entry(declined_one.reason).or_default() += 1;
                    if let Some(path) = declined_one.path {
                        new_paths.append(path)?;
                    }
                }
            }
        }
        drop(names);
        // Drop the message values while attached (never through the deferred reference pool).
        drop(inputs);
        let high = PyDict::new(py);
        for ((topic, partition), offset) in highest {
            high.set_item((topics[topic].as_str(), partition), offset)?;
        }
        let reasons_dict = PyDict::new(py);
        for (reason, count) in reasons {
            reasons_dict.set_item(reason, count)?;
        }
        PyTuple::new(
            py,
            [
                indices.into_any(),
                lines.into_any(),
                declined.into_any(),
                new_paths.into_any(),
                high.into_any(),
                reasons_dict.into_any(),
                unmatched.into_pyobject(py)?.into_any(),
                redated.into_pyobject(py)?.into_any(),
                last_stamp.into_pyobject(py)?.into_any(),
            ],
        )
    }
}

/// Bumped whenever the boundary (`take`'s arguments or results) changes; `indexer/core.py`
/// refuses a module of another contract.
const CONTRACT: u32 = 2;

#[pymodule]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Core>()?;
    module.add("CONTRACT", CONTRACT)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    probes::register(module)?;
    Ok(())
}
