//! The transform's cost per event, for callgrind and a quick timing: `Core.take`'s loop
//! (`event::transform_into`, one workspace and one line buffer per read of 1,000) over a corpus
//! dumped from the bench mix. Prints a digest of every output (index, lines, flags, decline
//! reasons), so a change that alters a byte shows. Corpus lines: `now\t<seconds>\t<ingested
//! hex>`, `route\t<path>\t<base>\t<fields hex>\t<parse 0|1>`, `event\t<value hex>`, e.g.:
//!
//!     .venv/bin/python - /tmp/corpus.tsv <<'EOF'
//!     import sys, time, orjson
//!     from bench.events import backlog
//!     from indexer.route import Router
//!     from indexer.settings import ParsingSettings, RoutingSettings
//!     from indexer.encode import ingested_field
//!     now, router = time.time(), Router(RoutingSettings(), ParsingSettings())
//!     values = list(backlog(20000))
//!     with open(sys.argv[1], "w") as f:
//!         f.write(f"now\t{now!r}\t{ingested_field(now).hex()}\n")
//!         for p in sorted({orjson.loads(v)["log"]["file"]["path"] for v in values}):
//!             r = router.route_of(p)
//!             f.write(f"route\t{p}\t{r.base}\t{r.fields.hex()}\t{int(r.parse)}\n")
//!         for v in values:
//!             f.write(f"event\t{v.hex()}\n")
//!     EOF
//!     cargo build --release --example transform_cost
//!     target/release/examples/transform_cost /tmp/corpus.tsv 10        # timing
//!     valgrind --tool=callgrind target/release/examples/transform_cost /tmp/corpus.tsv 1
//!
//! A third argument keeps only the events holding it (`'"message":"time='`: the logfmt ones).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Instant;

use _core::event::{transform_into, Config, Message, RouteEntry, Routes, Workspace};
use _core::structured::ParseConfig;

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("corpus path");
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let text = std::fs::read_to_string(path).unwrap();
    let mut routes = Routes::default();
    let mut events = Vec::new();
    let (mut seconds, mut ingested): (f64, Vec<u8>) = (0.0, Vec::new());
    for line in text.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        match parts[0] {
            "now" => {
                seconds = parts[1].parse().unwrap();
                ingested = unhex(parts[2]);
            }
            "route" => {
                routes.insert(
                    parts[1].to_owned(),
                    Some(RouteEntry {
                        base: parts[2].to_owned(),
                        fields: unhex(parts[3]),
                        parse: parts[4] == "1",
                    }),
                );
            }
            _ => events.push(unhex(parts[1])),
        }
    }
    // An optional third argument keeps only the events holding it (one layout of the mix).
    if let Some(only) = args.next() {
        events.retain(|e| e.windows(only.len()).any(|w| w == only.as_bytes()));
    }
    let config = Config {
        prefix: "k8s-logs".into(),
        max_past: 518_400.0,
        max_future: 86_400.0,
        parsing: true,
        line: ParseConfig::default(),
    };
    let mut digest = DefaultHasher::new();
    let mut taken = 0usize;
    let started = Instant::now();
    let mut lines = Vec::new();
    for round in 0..rounds {
        // As `Core.take`: reads of 1,000 messages, one buffer and one workspace per read.
        for (read, values) in events.chunks(1000).enumerate() {
            lines.clear();
            let mut work = Workspace::default();
            for (j, value) in values.iter().enumerate() {
                let i = read * 1000 + j;
                let message = Message {
                    value,
                    topic: "filebeat-bench",
                    partition: (i & 3) as i64,
                    offset: i as i64,
                    seconds: (seconds * 1000.0).floor() / 1000.0,
                };
                let result =
                    transform_into(&config, &routes, &message, &ingested, &mut lines, &mut work);
                if round == 0 {
                    match &result {
                        Ok(placed) => {
                            taken += 1;
                            (&placed.index, &lines[placed.line.clone()]).hash(&mut digest);
                            (placed.unmatched, placed.redated, &placed.stamp).hash(&mut digest);
                        }
                        Err(declined) => (declined.reason, &declined.path).hash(&mut digest),
                    }
                }
                std::hint::black_box(result.is_ok());
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} events x {rounds}: {taken} taken, digest {:016x}, {:.3} us/event",
        events.len(),
        digest.finish(),
        elapsed * 1e6 / (events.len() * rounds) as f64
    );
}
