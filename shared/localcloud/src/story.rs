//! The demo in the terminal as a person reads it: each domain's [`Story`] (orders end to end;
//! the sensors' anomalies, revisions and alerts) beside the platform's own ([`Platform`]:
//! requests refused, messages parked, dead-lettered or undeliverable, and the first few of each
//! kind of fault injected, the rest counted), each line with its virtual time.
//! `localcloud demo --verbose` prints every step instead.

use std::collections::BTreeMap;
use std::io::Write;

use emulator::cloud::{RETRIED_BY_CLIENT, clock_text};
use emulator::domain::Story;
use serde_json::Value;

/// Timeline entries told each time: what a person must know of.
const ALWAYS: &[&str] = &["dead-letter", "expired", "parked", "undeliverable"];

/// Timeline entries told the first [`FIRST_FEW`] times of each kind, then counted: the
/// faults injected and the retries they cause, which a run with faults has by the hundred.
const ROUTINE: &[(&str, &str)] = &[
    ("duplicate", "duplicate deliveries"),
    ("target-throttled", "deliveries a target throttled"),
    ("throttled", "invocations throttled"),
    ("crash", "crashes after publishing"),
    ("crash-before-record", "crashes before recording"),
    ("batch", "batches with records retried"),
    ("client-retry", "answers a client retried"),
];

/// How many of each routine kind are told before they are only counted.
const FIRST_FEW: usize = 3;

/// The platform's story: what went wrong, or was made to.
#[derive(Debug, Default)]
pub struct Platform {
    /// Routine entries seen, by kind.
    seen: BTreeMap<&'static str, usize>,
}

impl Story for Platform {
    fn tell(&mut self, line: &Value) -> Vec<String> {
        if line["k"] != "entry" {
            return Vec::new();
        }
        let mut what = line["what"].as_str().unwrap_or_default();
        let text = || vec![line["text"].as_str().unwrap_or_default().trim().to_owned()];
        let detail = line["detail"].as_str().unwrap_or_default();
        if what == "request" && detail == RETRIED_BY_CLIENT {
            what = "client-retry";
        }
        let refused =
            what == "request" && (line["status"].as_u64().is_some_and(|s| s >= 400) || detail.contains("refused"));
        if refused || ALWAYS.contains(&what) {
            return text();
        }
        match ROUTINE.iter().find(|(kind, _)| *kind == what) {
            Some((kind, _)) => {
                let seen = self.seen.entry(kind).or_default();
                *seen += 1;
                if *seen <= FIRST_FEW { text() } else { Vec::new() }
            }
            None => Vec::new(),
        }
    }

    fn end(&mut self) -> Vec<String> {
        let untold: Vec<String> = ROUTINE
            .iter()
            .filter_map(|(kind, name)| {
                let more = self.seen.get(kind)?.checked_sub(FIRST_FEW).filter(|n| *n > 0)?;
                Some(format!("{more} more {name}"))
            })
            .collect();
        if untold.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "Not told above (`--verbose` tells each): {}",
            untold.join(", ")
        )]
    }
}

/// Prints a domain's story and the platform's to stdout as the run goes, buffered.
pub struct Teller {
    stories: [Box<dyn Story>; 2],
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Teller {
    /// A teller of the domain's `story` beside the platform's.
    pub fn new(story: Box<dyn Story>) -> Self {
        Self {
            stories: [story, Box::new(Platform::default())],
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    /// Tells what is worth telling of `line`, with its virtual time.
    pub fn line(&mut self, line: &Value) {
        let at = clock_text(line["at"].as_i64().unwrap_or_default());
        for story in &mut self.stories {
            for told in story.tell(line) {
                let _ = writeln!(self.out, "{at}  {told}");
            }
        }
    }

    /// Tells what is left at the end of the run, and flushes.
    pub fn end(&mut self) {
        for story in &mut self.stories {
            for told in story.end() {
                let _ = writeln!(self.out, "{told}");
            }
        }
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(at: i64, what: &str, text: &str) -> Value {
        json!({"k": "entry", "at": at, "what": what, "text": text})
    }

    #[test]
    fn given_refusals_and_routine_steps_then_refusals_are_told_and_accepted_requests_not() {
        let mut platform = Platform::default();
        let mut refused = json!({"k": "entry", "what": "request", "status": 202, "detail": "1 refused (readings[2].unit: ...)", "text": "HTTP POST /readings -> 202 1 refused"});
        let accepted = json!({"k": "entry", "what": "request", "status": 202, "detail": "/orders/o-1", "text": "HTTP POST /orders -> 202"});
        let malformed = json!({"k": "entry", "what": "request", "status": 400, "detail": "8 invalid field(s)", "text": "HTTP POST /orders -> 400"});

        assert_eq!(platform.tell(&refused), ["HTTP POST /readings -> 202 1 refused"]);
        assert!(platform.tell(&accepted).is_empty());
        assert_eq!(platform.tell(&malformed), ["HTTP POST /orders -> 400"]);
        refused["k"] = "event".into();
        assert!(platform.tell(&refused).is_empty());
    }

    #[test]
    fn given_many_faults_of_a_kind_then_the_first_few_are_told_and_the_rest_counted_at_the_end() {
        let mut platform = Platform::default();

        let mut told: Vec<String> = (0..5)
            .flat_map(|at| platform.tell(&entry(at, "duplicate", "FAULT event delivered twice to Q")))
            .collect();
        told.extend(platform.tell(&entry(9, "parked", "PARKED by f (too-late): ...")));

        assert_eq!(told.len(), FIRST_FEW + 1);
        assert_eq!(told[FIRST_FEW], "PARKED by f (too-late): ...");
        assert_eq!(
            platform.end(),
            ["Not told above (`--verbose` tells each): 2 more duplicate deliveries"]
        );
    }
}
