//! Arbitrary bytes as one Kafka message through `event::transform` (the crate `_core`), the function
//! `Core.take` runs per message once the accessors are read (lib.rs `work`, without its
//! `catch_unwind`: a panic here is a finding, not a decline).
//!
//! The input is split into: one byte of switches (structured parsing on or off, keep_original, the route the
//! event's path gets: none, a layout's, one that parses; the index prefix), eight bytes of Kafka
//! time (folded into the range `Core.take` hands to the core), two of partition and offset, and
//! the message's value. A declined `new_path` is registered and the message run again, as
//! `NativeTake.take` does on the next read.
//!
//! For every accepted event it asserts what a bulk body needs: exactly two newline-terminated
//! lines, both valid JSON (serde_json), the action line `{"create":{"_index":<the index>,"_id":…}}`
//! naming the index the core returned (the prefix's, ending in a day `YYYY.MM.DD`), and a
//! document that is a JSON object carrying the Kafka coordinates it was given.
#![no_main]

use _core::event::{transform, Config, Message, RouteEntry, Routes, NEW_PATH};
use _core::structured::ParseConfig;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// lib.rs: `CLOCK_SET_MILLIS..=KAFKA_MILLIS_MAX`, the Kafka times the core is given.
const CLOCK_SET_MILLIS: i64 = 946_684_800_000;
const KAFKA_MILLIS_MAX: i64 = 253_402_300_799_999;
const INGESTED: &[u8] = b",\"event\":{\"ingested\":\"2026-11-26T12:00:00.000Z\"}";
const TOPIC: &str = "filebeat-fuzz";

fuzz_target!(|data: &[u8]| {
    if data.len() < 11 {
        return;
    }
    let (switches, rest) = (data[0], &data[1..]);
    let millis = i64::from_le_bytes(rest[..8].try_into().unwrap());
    let millis = CLOCK_SET_MILLIS + millis.rem_euclid(KAFKA_MILLIS_MAX - CLOCK_SET_MILLIS + 1);
    let (partition, offset) = (i64::from(rest[8] & 7), i64::from(rest[9]) * 1_000_003);
    let value = &rest[10..];
    let prefix = if switches & 8 == 0 {
        "k8s-logs"
    } else {
        "logs-x"
    };
    let config = Config {
        prefix: prefix.into(),
        max_past: 6.0 * 86400.0,
        max_future: 86400.0,
        parsing: switches & 1 != 0,
        // keep_original from a switch; the other parsing settings at their defaults.
        line: ParseConfig::new("json", switches & 16 != 0, 65_536, 200, 16, "UTC"),
    };
    let message = Message {
        value,
        topic: TOPIC,
        partition,
        offset,
        seconds: millis as f64 / 1000.0,
    };
    let mut routes = Routes::new();
    let mut outcome = transform(&config, &routes, &message, INGESTED);
    if let Err(declined) = &outcome {
        if declined.reason == NEW_PATH {
            let path = declined
                .path
                .clone()
                .expect("a new_path decline names its path");
            let entry = match (switches >> 1) & 3 {
                0 => None, // the path matched no layout
                parse => Some(RouteEntry {
                    base: format!("{prefix}-shop_cart-"),
                    // What Router.route_of hands add_route: the Kubernetes fields, as JSON.
                    fields: b",\"kubernetes\":{\"namespace\":\"shop\",\"labels\":{\"app\":\"cart\"}},\"service\":{\"name\":\"cart\"}".to_vec(),
                    parse: parse == 2,
                }),
            };
            routes.insert(path, entry);
            outcome = transform(&config, &routes, &message, INGESTED);
            if let Err(again) = &outcome {
                assert_ne!(again.reason, NEW_PATH, "a registered path declined as new");
            }
        }
    }
    let Ok(accepted) = outcome else { return };
    check(
        &accepted.placed.index,
        &accepted.line,
        prefix,
        partition,
        offset,
    );
});

fn check(index: &str, line: &[u8], prefix: &str, partition: i64, offset: i64) {
    assert!(
        index.starts_with(prefix),
        "index {index:?} without the prefix {prefix:?}"
    );
    let day = &index.as_bytes()[index.len().saturating_sub(10)..];
    let is_day = day.len() == 10
        && day.iter().enumerate().all(|(i, &b)| {
            if i == 4 || i == 7 {
                b == b'.'
            } else {
                b.is_ascii_digit()
            }
        });
    assert!(is_day, "index {index:?} does not end in a day");
    assert_eq!(line.last(), Some(&b'\n'), "a line without its newline");
    let lines: Vec<&[u8]> = line[..line.len() - 1].split(|&b| b == b'\n').collect();
    assert_eq!(
        lines.len(),
        2,
        "not an action and a document: {:?}",
        String::from_utf8_lossy(line)
    );
    let action: Value = serde_json::from_slice(lines[0]).unwrap_or_else(|e| {
        panic!(
            "action line is not JSON ({e}): {:?}",
            String::from_utf8_lossy(lines[0])
        )
    });
    let create = &action["create"];
    assert_eq!(
        create["_index"].as_str(),
        Some(index),
        "the action line names another index"
    );
    assert!(
        create["_id"].as_str().is_some_and(|id| !id.is_empty()),
        "no _id"
    );
    assert_eq!(action.as_object().map(|o| o.len()), Some(1));
    let document: Value = serde_json::from_slice(lines[1]).unwrap_or_else(|e| {
        panic!(
            "document is not JSON ({e}): {:?}",
            String::from_utf8_lossy(lines[1])
        )
    });
    let kafka = &document["kafka"];
    assert_eq!(kafka["topic"].as_str(), Some(TOPIC));
    assert_eq!(kafka["partition"].as_i64(), Some(partition));
    assert_eq!(kafka["offset"].as_i64(), Some(offset));
}
