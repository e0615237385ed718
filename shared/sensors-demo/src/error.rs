//! What the sensors' run refuses.

/// A scenario file the sensors' invariants cannot judge: they judge each reading by the fate
/// the generator gave it (counted, twice, too late, refused), so a file must be the scenario
/// the site generated, step for step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the scenario is not the one the sensors' run generates ({minutes} minutes of readings, seed {seed}; {difference}), and its invariants judge each reading by the fate the generator gave it: regenerate events/scenarios/sensors-demo.jsonl with `UPDATE_SCENARIOS=1 cargo test -p system-tests --test scenario_files`"
)]
pub struct NotGenerated {
    /// Minutes of readings the site generated.
    pub minutes: i64,
    /// The seed it generated them with.
    pub seed: u64,
    /// Where the file first differs (`step 12 differs`, `it starts at ...`).
    pub difference: String,
}
