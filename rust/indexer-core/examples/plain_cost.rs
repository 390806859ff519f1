//! The plain-line reader's cost per line, for callgrind (docs/native-core.md, "Plain lines"):
//! every line of a tsv (tests/data/structured_levels.tsv: layout, level, line) read `rounds`
//! times as the parse does it: `digit_start` for a digit-led line, `plain_level_and_time`
//! when it says `Other` and for every other line.
//!
//!     cargo build --release --example plain_cost
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         target/release/examples/plain_cost 2000 ../../tests/data/structured_levels.tsv
//!     # and with 0 rounds; (difference) / (2000 × lines) = instructions per line

use std::hint::black_box;

use _core::plain::{digit_start, plain_level_and_time, DigitStart};

const NOW: f64 = 1_796_126_400.0; // 2026-12-01T12:00:00Z

fn read(line: &str) -> usize {
    let start = if line.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        digit_start(line)
    } else {
        Some(DigitStart::Other)
    };
    match start {
        Some(DigitStart::Iso { level, time }) => {
            level.map_or(0, str::len) + time.map_or(0, |t| t.len())
        }
        Some(DigitStart::NoLayout) => 1,
        Some(DigitStart::Other) => match plain_level_and_time(line, NOW) {
            Some((level, time)) => level.map_or(0, str::len) + time.map_or(0, |t| t.len()),
            None => 1000,
        },
        None => 1000,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let path = args
        .next()
        .unwrap_or_else(|| "../../tests/data/structured_levels.tsv".into());
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|row| !row.is_empty() && !row.starts_with('#'))
        .filter_map(|row| row.splitn(3, '\t').nth(2))
        .collect();
    let mut total = 0usize;
    for _ in 0..rounds {
        for line in &lines {
            total += read(black_box(line));
        }
    }
    println!("{} lines × {rounds} rounds: {total}", lines.len());
}
