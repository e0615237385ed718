//! The sample payloads are the fixtures every test level shares, so each must be findable and
//! explained: every file under events/ is in the catalogue (events/README.md) and every
//! catalogued file exists; bad samples say what they are refused with.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn files_on_disk() -> BTreeSet<String> {
    fn walk(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "json") {
                found.insert(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(&events_dir(), &mut found);
    found
}

/// Table rows of the catalogue whose first cell is a `file.json`: (file, its "refused with"
/// cell, present only in tables that have that third column).
fn catalogued() -> Vec<(String, Option<String>)> {
    let readme = std::fs::read_to_string(events_dir().join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
            let file = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            file.ends_with(".json")
                .then(|| (file.to_owned(), cells.get(2).map(|c| (*c).to_owned())))
        })
        .collect()
}

#[test]
fn every_sample_is_catalogued_and_every_catalogued_sample_exists() {
    let listed: BTreeSet<String> = catalogued().into_iter().map(|(file, _)| file).collect();
    let on_disk = files_on_disk();
    assert!(!on_disk.is_empty());
    let missing_from_catalogue: Vec<_> = on_disk.difference(&listed).collect();
    let missing_from_disk: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        missing_from_catalogue.is_empty(),
        "add to events/README.md: {missing_from_catalogue:?}"
    );
    assert!(
        missing_from_disk.is_empty(),
        "catalogued but not in events/: {missing_from_disk:?}"
    );
}

#[test]
fn every_bad_sample_says_what_it_is_refused_with() {
    for (file, refused_with) in catalogued() {
        let bad = file.starts_with("bad-");
        let names_error = refused_with.is_some_and(|cell| !cell.is_empty());
        assert_eq!(
            bad, names_error,
            "{file}: only bad samples, and all of them, name their error"
        );
    }
}
