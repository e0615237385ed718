//! detect-anomaly with two writers on one stream, interleaved by hand: one invocation decides
//! from a state, another decides and commits first, then the first goes on. Nothing may be
//! published that the committed state does not back, whoever wins.
//!
//! Windows of 60 s, 120 s of lateness and idle, no delivery grace (so the watermark moves at
//! once and the interleaving is the only thing under test); `s-1`'s temperature band is
//! 15..=25.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use detect_anomaly::DetectAnomaly;
use envelope::Envelope;
use handler_kit::aggregate::{BatchHandler, Instant, Settled};
use handler_kit::{ManualClock, StoreFailure};
use sensor_stores::{Due, InMemorySensorCatalogue, InMemoryWindowStore, Saved, WindowStore};
use sensors::catalogue::Sensor;
use sensors::events::{SensorReadingReceived, reading_event};
use sensors::windows::{StreamKey, StreamState, WindowKey, WindowSettings, WindowState};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

fn at(text: &str) -> DateTime<Utc> {
    sensors::time::parse(text).unwrap()
}

fn catalogue() -> InMemorySensorCatalogue {
    let item = json!({ "sensorId": "s-1", "site": "lab", "timezone": "UTC",
                       "metrics": { "temperature": { "low": 15.0, "high": 25.0, "unit": "C" } } });
    InMemorySensorCatalogue::with_sensors([Sensor::from_item(&item).unwrap()])
}

fn reading(time: &str, value: f64) -> Envelope<Value> {
    let data = SensorReadingReceived {
        sensor_id: "s-1".into(),
        metric: "temperature".into(),
        value,
        unit: "C".into(),
    };
    reading_event(data, at(time)).to_untyped().unwrap()
}

/// A window store whose next save waits until released: the invocation has read and decided,
/// and has not written yet.
struct Gated {
    inner: Arc<InMemoryWindowStore>,
    gate: Mutex<Option<oneshot::Receiver<()>>>,
    reached: Arc<Notify>,
}

impl Gated {
    fn new(inner: Arc<InMemoryWindowStore>) -> (Self, oneshot::Sender<()>, Arc<Notify>) {
        let (release, gate) = oneshot::channel();
        let reached = Arc::new(Notify::new());
        let gated = Self {
            inner,
            gate: Mutex::new(Some(gate)),
            reached: Arc::clone(&reached),
        };
        (gated, release, reached)
    }
}

impl WindowStore for Gated {
    async fn load(
        &self,
        streams: &[StreamKey],
        windows: &[WindowKey],
    ) -> Result<(Vec<StreamState>, Vec<WindowState>), StoreFailure> {
        self.inner.load(streams, windows).await
    }

    async fn save(&self, streams: &[StreamState], windows: &[WindowState]) -> Result<Saved, StoreFailure> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            self.reached.notify_one();
            gate.await.unwrap();
        }
        self.inner.save(streams, windows).await
    }

    async fn due(&self, now: DateTime<Utc>) -> Result<Due, StoreFailure> {
        self.inner.due(now).await
    }

    async fn streams_of(&self, sensor_id: &str) -> Result<Vec<StreamState>, StoreFailure> {
        self.inner.streams_of(sensor_id).await
    }

    async fn last_closed_windows(&self, sensor_id: &str) -> Result<Vec<WindowState>, StoreFailure> {
        self.inner.last_closed_windows(sensor_id).await
    }
}

fn settings() -> WindowSettings {
    WindowSettings {
        delivery_grace_seconds: 0,
        ..WindowSettings::default()
    }
}

fn function<W: WindowStore>(store: W, now: &str) -> DetectAnomaly<InMemorySensorCatalogue, W> {
    DetectAnomaly::new(catalogue(), store, settings(), Arc::new(ManualClock::new(at(now)))).unwrap()
}

fn far() -> Instant {
    Instant::now() + std::time::Duration::from_secs(60)
}

fn detected<S>(settled: &Settled<S>) -> Vec<String> {
    settled
        .outputs
        .iter()
        .map(|e| format!("{} {}", e.metadata.event_type, e.data["mean"]))
        .collect()
}

/// Window 10:00 of `s-1` holds one reading of 40, open.
async fn given_window_at_ten_on_40() -> Arc<InMemoryWindowStore> {
    let store = Arc::new(InMemoryWindowStore::new());
    let first = function(Arc::clone(&store), "2026-11-23T10:00:10Z");
    let settled = first
        .settle(vec![reading("2026-11-23T10:00:10Z", 40.0)], far())
        .await
        .unwrap();
    assert!(settled.records.iter().all(Result::is_ok) && settled.outputs.is_empty());
    store
}

fn window_at_ten(store: &InMemoryWindowStore) -> WindowState {
    store
        .windows()
        .into_iter()
        .find(|w| w.start == at("2026-11-23T10:00:00Z"))
        .unwrap()
}

#[tokio::test]
async fn given_a_batch_that_decided_a_close_when_another_commits_a_reading_into_the_window_first_then_the_close_is_decided_again_and_nothing_unbacked_goes_out()
 {
    let store = given_window_at_ten_on_40().await;
    // A: a reading at 10:03 moves the watermark past 10:01: it closes 10:00 on {40} (mean 40,
    // above the band) and stops before its write.
    let (gated, release, reached) = Gated::new(Arc::clone(&store));
    let a = function(gated, "2026-11-23T10:03:00Z");
    let a_task = tokio::spawn(async move { a.settle(vec![reading("2026-11-23T10:03:00Z", 20.0)], far()).await });
    reached.notified().await;

    // B: a late reading of 10 into 10:00 decides and commits first (the window stays open:
    // B's own watermark has not passed it).
    let b = function(Arc::clone(&store), "2026-11-23T10:03:00Z");
    let b_settled = b
        .settle(vec![reading("2026-11-23T10:00:30Z", 10.0)], far())
        .await
        .unwrap();
    assert!(b_settled.outputs.is_empty());

    // A goes on: its write conflicts, it reads again, and 10:00 closes on {40, 10}: mean 25,
    // inside the band. No AnomalyDetected of mean 40 ever leaves A.
    release.send(()).unwrap();
    let a_settled = a_task.await.unwrap().unwrap();
    assert!(a_settled.records.iter().all(Result::is_ok), "{:?}", a_settled.records);
    assert_eq!(detected(&a_settled), Vec::<String>::new());
    let window = window_at_ten(&store);
    assert!(window.closed);
    assert_eq!((window.stats.count, window.revision), (2, 0));
}

#[tokio::test]
async fn given_the_tick_that_decided_an_idle_close_when_a_batch_commits_a_late_reading_first_then_the_tick_publishes_nothing_unbacked()
 {
    let store = given_window_at_ten_on_40().await;
    // The tick at 10:05:01: the sensor is quiet, 10:00 closes by the clock on {40}; it stops
    // before its write.
    let (gated, release, reached) = Gated::new(Arc::clone(&store));
    let tick = function(gated, "2026-11-23T10:05:01Z");
    let tick_task = tokio::spawn(async move { tick.tick(at("2026-11-23T10:05:01Z"), far()).await });
    reached.notified().await;

    // A batch with a late reading of 10 into 10:00 commits first (the stream's readings now
    // run 4 min 11 s behind the clock: its idle close moves that much later).
    let batch = function(Arc::clone(&store), "2026-11-23T10:05:01Z");
    let settled = batch
        .settle(vec![reading("2026-11-23T10:00:50Z", 10.0)], far())
        .await
        .unwrap();
    assert!(settled.records.iter().all(Result::is_ok) && settled.outputs.is_empty());

    release.send(()).unwrap();
    let ticked = tick_task.await.unwrap().unwrap();
    assert_eq!(
        detected(&ticked),
        Vec::<String>::new(),
        "the tick's close on {{40}} never went out"
    );
    assert_eq!(window_at_ten(&store).stats.count, 2);

    // A later tick closes it on both readings: mean 25, inside.
    let later = function(Arc::clone(&store), "2026-11-23T10:10:00Z");
    let ticked = later.tick(at("2026-11-23T10:10:00Z"), far()).await.unwrap();
    assert_eq!(detected(&ticked), Vec::<String>::new());
    let window = window_at_ten(&store);
    assert!(window.closed);
    assert_eq!((window.stats.count, window.revision), (2, 0));
}

#[tokio::test]
async fn given_a_decided_anomaly_when_nothing_races_it_then_it_goes_out_once_committed_and_leaves_the_outbox_when_sent()
{
    let store = given_window_at_ten_on_40().await;
    let a = function(Arc::clone(&store), "2026-11-23T10:03:00Z");
    let settled = a
        .settle(vec![reading("2026-11-23T10:03:00Z", 20.0)], far())
        .await
        .unwrap();
    assert_eq!(detected(&settled), ["AnomalyDetected 40.0"]);
    let key = StreamKey {
        sensor_id: "s-1".into(),
        metric: "temperature".into(),
    };
    let stream = |store: &InMemoryWindowStore| store.streams().into_iter().find(|s| s.key() == key).unwrap();
    assert_eq!(stream(&store).outbox.len(), 1, "committed with its event beside it");
    a.sent(settled.sent).await.unwrap();
    assert!(stream(&store).outbox.is_empty());
}

/// A catalogue that has `s-1` and knows `s-bad`'s item is stored but unreadable.
struct WithABadItem(InMemorySensorCatalogue);

impl sensor_stores::SensorCatalogue for WithABadItem {
    async fn sensors(&self, ids: &[String]) -> Result<sensors::catalogue::Catalogue, StoreFailure> {
        let good = self.0.sensors(ids).await?;
        Ok(good.with_unreadable(
            "s-bad",
            "sensor 's-bad' in table catalogue: not JSON: expected value at line 1",
        ))
    }
    async fn all(&self) -> Result<sensors::catalogue::Catalogue, StoreFailure> {
        self.0.all().await
    }
    async fn put(&self, sensors: &[Sensor]) -> Result<(), StoreFailure> {
        self.0.put(sensors).await
    }
}

fn reading_of(sensor_id: &str, time: &str, value: f64) -> Envelope<Value> {
    let data = SensorReadingReceived {
        sensor_id: sensor_id.into(),
        metric: "temperature".into(),
        value,
        unit: "C".into(),
    };
    reading_event(data, at(time)).to_untyped().unwrap()
}

#[tokio::test]
async fn given_a_catalogue_item_that_does_not_read_then_only_its_sensors_readings_are_parked_naming_why() {
    let store = Arc::new(InMemoryWindowStore::new());
    let clock = Arc::new(ManualClock::new(at("2026-11-23T10:00:20Z")));
    let f = DetectAnomaly::new(WithABadItem(catalogue()), Arc::clone(&store), settings(), clock).unwrap();
    let settled = f
        .settle(
            vec![
                reading_of("s-bad", "2026-11-23T10:00:10Z", 20.0),
                reading("2026-11-23T10:00:20Z", 20.0),
            ],
            far(),
        )
        .await
        .unwrap();
    let refused = settled.records[0].as_ref().unwrap_err();
    assert_eq!(refused.kind(), "catalogue-item-unreadable");
    assert!(
        refused
            .to_string()
            .contains("sensor 's-bad' in table catalogue: not JSON"),
        "{refused}"
    );
    assert!(settled.records[1].is_ok(), "its neighbour is counted");
    assert_eq!(window_at_ten(&store).stats.count, 1);
}

#[tokio::test]
async fn given_a_stream_whose_open_window_item_is_gone_then_only_its_readings_are_parked_and_the_tick_closes_the_rest()
{
    let store = given_window_at_ten_on_40().await;
    // Another sensor's stream with an open window, and s-1's window item lost (expired).
    let other = Arc::new(InMemoryWindowStore::new());
    let mut s1 = store.streams().remove(0);
    let mut s2 = StreamState {
        sensor_id: "s-2".into(),
        ..s1.clone()
    };
    s1.sequence = 1;
    s2.sequence = 1;
    let mut s2_window = window_at_ten(&store);
    s2_window.sensor_id = "s-2".into();
    s2_window.sequence = 1;
    assert!(other.save(&[s1, s2], &[s2_window]).await.unwrap().written());
    let two = json!({ "sensorId": "s-2", "site": "lab", "timezone": "UTC",
                      "metrics": { "temperature": { "low": 15.0, "high": 25.0, "unit": "C" } } });
    let catalogue = catalogue();
    catalogue.set(Sensor::from_item(&two).unwrap());
    let clock = Arc::new(ManualClock::new(at("2026-11-23T10:03:00Z")));
    let f = DetectAnomaly::new(catalogue, Arc::clone(&other), settings(), clock).unwrap();

    // A batch of both: s-1's reading is parked naming the window, s-2's closes its window.
    let settled = f
        .settle(
            vec![
                reading("2026-11-23T10:03:00Z", 20.0),
                reading_of("s-2", "2026-11-23T10:03:00Z", 20.0),
            ],
            far(),
        )
        .await
        .unwrap();
    let refused = settled.records[0].as_ref().unwrap_err();
    assert_eq!(refused.kind(), "stream-state-missing-window");
    assert!(
        refused.to_string().contains("window#<metric>#2026-11-23T10:00:00Z"),
        "{refused}"
    );
    assert!(settled.records[1].is_ok());
    assert_eq!(
        detected(&settled),
        ["AnomalyDetected 40.0"],
        "s-2's window closed on its 40"
    );
    f.sent(settled.sent).await.unwrap();

    // The tick skips the broken stream and closes s-2's quiet window (inside: nothing to say).
    let ticked = f.tick(at("2026-11-23T11:00:00Z"), far()).await.unwrap();
    assert!(ticked.outputs.is_empty());
    let s2_open = other
        .streams()
        .into_iter()
        .find(|s| s.sensor_id == "s-2")
        .unwrap()
        .open_windows;
    assert!(s2_open.is_empty(), "{s2_open:?}");
}

#[tokio::test]
async fn given_replayed_readings_too_late_for_their_windows_then_they_are_acknowledged_not_parked() {
    let store = given_window_at_ten_on_40().await;
    // The stream has gone on two hours: 10:00 is beyond the late horizon.
    let f = function(Arc::clone(&store), "2026-11-23T12:00:00Z");
    f.settle(vec![reading("2026-11-23T12:00:00Z", 20.0)], far())
        .await
        .unwrap();
    let live = reading("2026-11-23T10:00:40Z", 20.0);
    let mut replayed = reading("2026-11-23T10:00:50Z", 20.0);
    replayed.metadata.replay = Some("sensors-fix".into());
    let settled = f.settle(vec![live, replayed], far()).await.unwrap();
    assert_eq!(
        settled.records[0].as_ref().unwrap_err().kind(),
        "too-late",
        "a live one is parked"
    );
    assert!(
        settled.records[1].is_ok(),
        "a replayed one was decided when it first came"
    );
    assert_eq!(window_at_ten(&store).stats.count, 1, "neither is counted");
}

/// Fails the first `WindowStore::load` (a throttled read), then lets every call through.
#[derive(Default)]
struct FirstLoadThrottled(std::sync::atomic::AtomicBool);

impl ports::FaultPlan for FirstLoadThrottled {
    fn before(&self, operation: &'static str) -> ports::Fault {
        if operation == "WindowStore::load" && !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return ports::Fault::Fail("ProvisionedThroughputExceededException (injected)".into());
        }
        ports::Fault::None
    }
}

#[tokio::test]
async fn given_a_throttled_read_in_the_tick_then_it_closes_what_it_could_read_and_the_next_tick_the_rest() {
    // 150 quiet sensors, each with a window of 10:00 open: the tick reads them 100 at a time.
    let ids: Vec<String> = (0..150).map(|n| format!("s-{n:03}")).collect();
    let catalogue = InMemorySensorCatalogue::with_sensors(ids.iter().map(|id| {
        Sensor::from_item(&json!({ "sensorId": id, "site": "lab", "timezone": "UTC",
            "metrics": { "temperature": { "low": 15.0, "high": 25.0, "unit": "C" } } }))
        .unwrap()
    }));
    let store = Arc::new(InMemoryWindowStore::new());
    let clock = Arc::new(ManualClock::new(at("2026-11-23T10:00:10Z")));
    let f = DetectAnomaly::new(catalogue, Arc::clone(&store), settings(), clock).unwrap();
    let readings = ids
        .iter()
        .map(|id| reading_of(id, "2026-11-23T10:00:10Z", 20.0))
        .collect();
    assert!(
        f.settle(readings, far())
            .await
            .unwrap()
            .records
            .iter()
            .all(Result::is_ok)
    );

    let plan: Arc<dyn ports::FaultPlan> = Arc::new(FirstLoadThrottled::default());
    let throttled = ports::Faulty::new(Arc::clone(&store), plan);
    let now = at("2026-11-23T10:05:01Z");
    let f = DetectAnomaly::new(
        InMemorySensorCatalogue::with_sensors(Vec::new()),
        throttled,
        settings(),
        Arc::new(ManualClock::new(now)),
    )
    .unwrap();
    f.tick(now, far()).await.unwrap();
    let open = |store: &InMemoryWindowStore| store.streams().iter().filter(|s| !s.open_windows.is_empty()).count();
    assert_eq!(
        open(&store),
        100,
        "the part it could not read waits; the other 50 closed"
    );
    f.tick(now + chrono::TimeDelta::minutes(1), far()).await.unwrap();
    assert_eq!(open(&store), 0);
}
