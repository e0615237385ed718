//! Helpers for functions' tests: a processor on in-memory adapters, sample payloads, and the
//! functions' logs captured.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{TimeZone, Utc};
use field_crypto::{FieldCipher, LocalKeys, LocalMasterKey};
use idempotency::{Idempotency, InMemoryStore, ManualClock};

use crate::invocation::Invocation;
use crate::publish::{InMemoryParking, InMemoryPublisher};
use crate::records::{RecordHandler, RecordProcessor};

/// A processor whose store, publisher and parking are in memory.
pub type InMemoryProcessor<H> = RecordProcessor<H, InMemoryStore, InMemoryPublisher, InMemoryParking>;

/// `handler` behind in-memory idempotency, publisher and parking.
pub fn in_memory<H: RecordHandler>(function: &str, handler: H) -> InMemoryProcessor<H> {
    RecordProcessor::new(
        function,
        handler,
        Idempotency::new(function, InMemoryStore::new()),
        InMemoryPublisher::new(),
        InMemoryParking::new(),
    )
}

/// Reads an SQS sample payload (e.g. `events/orders/ship-order/...json`) relative to `root`.
pub fn sqs_sample(root: &Path, relative: &str) -> Result<SqsEvent, String> {
    let path = root.join(relative);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not an SQS event: {e}", path.display()))
}

/// The SQS sample `events/<domain>/<function>/<name>` of the workspace, read from a function
/// crate's tests (`manifest_dir` = its `CARGO_MANIFEST_DIR`, two levels below the root).
pub fn function_sample(manifest_dir: &str, path: &str) -> Result<SqsEvent, String> {
    sqs_sample(&Path::new(manifest_dir).join("../.."), &format!("events/{path}"))
}

/// Edits the envelope (`{metadata, data}`) of record `index` of an SQS event whose bodies are
/// EventBridge events (the `*.sqs-eventbridge.json` samples), e.g. to put a sealed field in it.
pub fn edit_envelope(
    event: &mut SqsEvent,
    index: usize,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Result<(), String> {
    let record = event.records.get_mut(index).ok_or(format!("no record {index}"))?;
    let body = record.body.as_deref().ok_or(format!("record {index} has no body"))?;
    let mut parsed: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("record {index}: body is not JSON: {e}"))?;
    edit(&mut parsed["detail"]);
    record.body = Some(parsed.to_string());
    Ok(())
}

/// The master key name tests seal and open under (one name, the same key).
const TEST_KEY: &str = "test-field-key";

/// A cipher with the grants `setting` declares, on the tests' local master key: what the
/// function gets in the local cloud.
pub fn local_cipher(setting: &crate::Setting) -> FieldCipher<LocalKeys> {
    let master = Arc::new(LocalMasterKey::new(TEST_KEY));
    FieldCipher::new(LocalKeys::new(
        master,
        "function-under-test",
        setting.actions,
        setting.fields,
    ))
}

/// A cipher that may seal `fields` (the producer's grant) on the tests' master key, to make a
/// test's sealed inputs (each for a subject: `seal_text(field, order_id, value)`). Its data
/// keys differ from any other instance's, as two Lambda instances' do: each instance numbers
/// them from a start of its own, so a value sealed again by another instance is another
/// ciphertext, and no two instances ever seal under one key and nonce.
pub fn sealing_cipher(fields: &[&str]) -> FieldCipher<LocalKeys> {
    static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let master = Arc::new(LocalMasterKey::new(TEST_KEY).starting_at(instance << 32));
    FieldCipher::new(LocalKeys::new(
        master,
        "producer",
        &[field_crypto::GENERATE_DATA_KEY],
        fields,
    ))
}

/// A clock stopped at 2026-11-23T06:00:00Z, for event times a test can assert.
pub fn stopped_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).single().unwrap_or_default(),
    ))
}

/// An invocation with half a minute left.
pub fn invocation() -> Invocation {
    Invocation::with_remaining("test-request", Duration::from_secs(30))
}

/// Processes `event` with half a minute left and returns the message ids reported for retry.
pub async fn failed_ids<H: RecordHandler>(
    processor: &InMemoryProcessor<H>,
    event: &SqsEvent,
) -> Result<Vec<String>, String> {
    let response = processor
        .process_sqs(event, &invocation())
        .await
        .map_err(|e| e.to_string())?;
    Ok(response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect())
}

/// The lines the functions' JSON log subscriber writes, kept in memory. Install it in a test
/// binary of its own: a thread's subscriber shares tracing's callsite cache with other tests.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// The functions' subscriber (`observability::subscriber`, level from `LOG_LEVEL`, `info`
    /// by default) writing here, for this thread until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        tracing::subscriber::set_default(crate::observability::subscriber(move || writer.clone()).finish())
    }

    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
