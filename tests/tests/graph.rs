//! The README's event graph is the template's, as `localcloud graph` draws it now.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::path::PathBuf;

use emulator::graph::{embedded, mermaid};
use emulator::topology::Topology;

#[test]
fn the_readme_embeds_the_current_event_graph() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let topology = Topology::load(&root.join("infra/template.yaml"), &sam_template::Options::default()).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let current = embedded(&readme).expect("README.md has no generated graph block");
    assert_eq!(
        current,
        mermaid(&topology, &localcloud::catalogue()),
        "README.md's graph is stale: run `make graph`"
    );
}
