//! The run record and the run page: `--record run.jsonl` writes every line of a run as it
//! happens (see [`emulator::cloud::LocalCloud::record_run`]; the kinds are in this crate's
//! README), `--html run.html` one self-contained page replaying it, and `localcloud view`
//! serves a saved record's page on loopback.
//!
//! The page is `assets/page.html` with its stylesheet and script (`assets/js/*.js`) inlined,
//! and the record itself inside, gzipped and base64-encoded (the browser inflates it with its
//! own `DecompressionStream`): no request leaves the page. The 10,000-order run's record of
//! 156 MB travels in 32 MB; most of it is sealed envelopes, whose ciphertexts do not compress.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use base64::Engine as _;
use emulator::cloud::LocalCloud;
use emulator::domain::DemoReport;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

use crate::Error;

const PAGE: &str = include_str!("../assets/page.html");
const STYLE: &str = include_str!("../assets/page.css");
/// The page's script, one file per part, in the order they run in (one scope: each part's
/// top-level names are the next ones').
const SCRIPT: &[&str] = &[
    include_str!("../assets/js/model.js"),
    include_str!("../assets/js/graph.js"),
    include_str!("../assets/js/timeline.js"),
    include_str!("../assets/js/lists.js"),
    include_str!("../assets/js/sensors.js"),
    include_str!("../assets/js/main.js"),
];

/// Where a run's record goes: a JSON Lines file, the page's gzipped copy, or both.
pub struct RunRecord {
    file: Option<(PathBuf, BufWriter<File>)>,
    page: Option<(PathBuf, GzEncoder<Vec<u8>>)>,
    /// The first write that failed: reported at the end (a recorder cannot return it).
    failed: Option<Error>,
}

/// A record shared by the cloud's recorder and whoever writes the lines the cloud cannot
/// (a run's header, its graph, its summary).
pub type Shared = Rc<RefCell<RunRecord>>;

impl RunRecord {
    /// A record to `record` (JSON Lines) and for the page at `html`; none when neither is asked for.
    pub fn open(record: Option<&Path>, html: Option<&Path>) -> Result<Option<Shared>, Error> {
        if record.is_none() && html.is_none() {
            return Ok(None);
        }
        let file = match record {
            Some(path) => {
                let file = File::create(path).map_err(|source| Error::Write {
                    path: path.to_owned(),
                    source,
                })?;
                Some((path.to_owned(), BufWriter::new(file)))
            }
            None => None,
        };
        let page = html.map(|path| (path.to_owned(), GzEncoder::new(Vec::new(), Compression::default())));
        Ok(Some(Rc::new(RefCell::new(Self {
            file,
            page,
            failed: None,
        }))))
    }

    /// Appends `line`.
    pub fn line(&mut self, line: &Value) {
        if self.failed.is_some() {
            return;
        }
        let mut text = line.to_string();
        text.push('\n');
        if let Some((path, file)) = &mut self.file
            && let Err(source) = file.write_all(text.as_bytes())
        {
            self.failed = Some(Error::Write {
                path: path.clone(),
                source,
            });
        }
        if let Some((path, page)) = &mut self.page
            && let Err(source) = page.write_all(text.as_bytes())
        {
            self.failed = Some(Error::Write {
                path: path.clone(),
                source,
            });
        }
    }

    /// Records `cloud`'s run into `record` from now on.
    pub fn attach(record: &Shared, cloud: &mut LocalCloud) {
        let record = Rc::clone(record);
        cloud.record_run(true, move |line| record.borrow_mut().line(line));
    }

    /// Starts a run in the record: its header (`domain`, `title`, `start`, `template`) and the
    /// event graph of `cloud`'s template.
    pub fn start_run(&mut self, cloud: &LocalCloud, domain: Option<&str>, title: &str, template: &Path) {
        self.line(&serde_json::json!({
            "k": "run",
            "domain": domain,
            "title": title,
            "start": cloud.instant(0).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "template": template.display().to_string(),
        }));
        let mut graph = emulator::graph::json(cloud.topology(), &crate::catalogue());
        if let Value::Object(fields) = &mut graph {
            fields.insert("k".into(), "graph".into());
        }
        self.line(&graph);
    }

    /// Ends a run in the record: the domain's view of it (if any), its summary, the invariants
    /// that do not hold, and the event store's audit (if any).
    pub fn end_run(&mut self, domain: Option<&str>, report: &DemoReport, audit: &str) {
        if let (Some(domain), Value::Object(fields)) = (domain, &report.view) {
            let mut line = fields.clone();
            line.insert("k".into(), "view".into());
            line.insert("domain".into(), domain.into());
            self.line(&Value::Object(line));
        }
        self.line(&serde_json::json!({
            "k": "summary",
            "text": report.summary.trim_matches('\n'),
            "violations": report.violations,
            "audit": audit,
        }));
    }

    /// Flushes the record file and writes the page; returns what was written, for the terminal.
    pub fn finish(record: Shared) -> Result<Vec<String>, Error> {
        let record = Rc::try_unwrap(record).map_or_else(|shared| shared.replace(Self::empty()), RefCell::into_inner);
        if let Some(failed) = record.failed {
            return Err(failed);
        }
        let mut written = Vec::new();
        if let Some((path, mut file)) = record.file {
            file.flush().map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            written.push(format!("Run record: {}", path.display()));
        }
        if let Some((path, page)) = record.page {
            let gzipped = page.finish().map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            let html = page_of(&gzipped);
            std::fs::write(&path, &html).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            written.push(format!(
                "Run page: {} ({}; open it in a browser, it needs no network)",
                path.display(),
                size_text(html.len())
            ));
        }
        Ok(written)
    }

    fn empty() -> Self {
        Self {
            file: None,
            page: None,
            failed: None,
        }
    }
}

/// The page replaying the record whose gzip is `gzipped`.
pub fn page_of(gzipped: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(gzipped);
    // A script's text ends at the first `</script`: the page's own script never holds one.
    let script = SCRIPT.join("\n").replace("</script", "<\\/script");
    let data =
        format!(r#"<script id="run-data" type="application/octet-stream" data-encoding="gzip+base64">{data}</script>"#);
    // Each marker replaced once, where it stands in the page's own text: the stylesheet, the
    // script and the data may hold anything, markers included.
    let mut parts: Vec<(usize, &str, &str)> = [
        ("/*PAGE_CSS*/", STYLE),
        ("/*PAGE_JS*/", script.as_str()),
        ("<!--RUN_DATA-->", data.as_str()),
    ]
    .into_iter()
    .filter_map(|(marker, text)| PAGE.find(marker).map(|at| (at, marker, text)))
    .collect();
    parts.sort_unstable();
    let mut html = String::with_capacity(PAGE.len() + STYLE.len() + script.len() + data.len());
    let mut from = 0;
    for (at, marker, text) in parts {
        html.push_str(&PAGE[from..at]);
        html.push_str(text);
        from = at + marker.len();
    }
    html.push_str(&PAGE[from..]);
    html
}

/// The page of the record saved in `path`.
pub fn page_of_file(path: &Path) -> Result<String, Error> {
    let text = std::fs::read(path).map_err(|source| Error::Read {
        what: path.display().to_string(),
        source,
    })?;
    check_record(path, &text)?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&text).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    let gzipped = gz.finish().map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(page_of(&gzipped))
}

/// Refuses a file that is not a run record, naming the first line that is wrong.
fn check_record(path: &Path, text: &[u8]) -> Result<(), Error> {
    let wrong = |line: usize, reason: String| Error::input(format!("{}:{line}", path.display()), reason);
    let text = std::str::from_utf8(text).map_err(|e| wrong(1, format!("not UTF-8 text: {e}")))?;
    let mut runs = 0;
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line).map_err(|e| wrong(index + 1, format!("not JSON: {e}")))?;
        let kind = value.get("k").and_then(Value::as_str).ok_or_else(|| {
            wrong(
                index + 1,
                "no `k` (a run record's line says its kind in `k`: written by `--record`)".into(),
            )
        })?;
        if kind == "run" {
            runs += 1;
        } else if runs == 0 {
            return Err(wrong(index + 1, format!("a `{kind}` line before any `run` line")));
        }
    }
    if runs == 0 {
        return Err(wrong(1, "no run in it (empty)".into()));
    }
    Ok(())
}

/// Serves `html` on loopback port `port` (0: any free one) until the process is stopped,
/// printing the address first.
pub fn serve(html: &str, port: u16, announce: impl FnOnce(String)) -> Result<(), Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(Error::Serve)?;
    let address = listener.local_addr().map_err(Error::Serve)?;
    announce(format!("http://{address}/"));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else {
            continue;
        };
        let request = request_head(&mut stream);
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        let response = if path == "/" || path.starts_with("/?") {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                html.len()
            )
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        };
        let _ = stream.write_all(response.as_bytes());
        if response.starts_with("HTTP/1.1 200") {
            let _ = stream.write_all(html.as_bytes());
        }
    }
    Ok(())
}

/// The head of an HTTP request (up to its blank line, at most 8 KB), as the client sends it,
/// perhaps in pieces.
fn request_head(stream: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut chunk = [0_u8; 1024];
    while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match std::io::Read::read(stream, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => head.extend_from_slice(&chunk[..read]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A size a person reads: `12.3 MB`, `480 KB`.
fn size_text(bytes: usize) -> String {
    let bytes = bytes as f64;
    if bytes >= 1e6 {
        format!("{:.1} MB", bytes / 1e6)
    } else {
        format!("{:.0} KB", (bytes / 1e3).ceil())
    }
}
