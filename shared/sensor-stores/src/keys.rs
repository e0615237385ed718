//! How a state is named in a table: partition key `sensorId`, sort key `item`.
//!
//! - a stream: `stream#<metric>`
//! - a window: `window#<metric>#<start>`
//! - an alert period: `period#<metric>#<start>`
//!
//! Starts are RFC 3339 UTC to the second (`2026-11-23T09:00:00Z`): fixed width, so the sort key
//! orders a metric's windows by time and a Query can read the newest first. Sensor ids and
//! metrics are catalogue names (A-Z, a-z, 0-9, `-`, `_`, `.`), so `#` separates without
//! ambiguity: the windows of metric `t` are exactly the items beginning `window#t#`.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use sensors::catalogue::is_name;

/// The sort key prefix of streams.
pub(crate) const STREAM: &str = "stream#";
/// The sort key prefix of windows.
pub(crate) const WINDOW: &str = "window#";
/// The sort key prefix of alert periods.
pub(crate) const PERIOD: &str = "period#";

/// The sort key of the stream of `metric` at `sensor_id`, if both can be names.
pub(crate) fn stream(sensor_id: &str, metric: &str) -> Option<String> {
    (is_name(sensor_id) && is_name(metric)).then(|| format!("{STREAM}{metric}"))
}

/// The sort key of a window.
pub(crate) fn window(sensor_id: &str, metric: &str, start: DateTime<Utc>) -> Option<String> {
    timed(WINDOW, sensor_id, metric, start)
}

/// The sort key of an alert period.
pub(crate) fn period(sensor_id: &str, metric: &str, start: DateTime<Utc>) -> Option<String> {
    timed(PERIOD, sensor_id, metric, start)
}

/// The prefix of every window of `metric`.
#[cfg(feature = "dynamodb")]
pub(crate) fn windows_of(metric: &str) -> String {
    format!("{WINDOW}{metric}#")
}

/// Windows and periods are cut in whole seconds (their lengths are whole seconds, aligned to
/// the epoch); a start that is not cannot be named to the second without colliding.
fn timed(prefix: &str, sensor_id: &str, metric: &str, start: DateTime<Utc>) -> Option<String> {
    let named = is_name(sensor_id) && is_name(metric);
    let whole = start.nanosecond() == 0 && (0..=9999).contains(&start.year());
    (named && whole).then(|| format!("{prefix}{metric}#{}", start.to_rfc3339_opts(SecondsFormat::Secs, true)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is how a test reports failure

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn given_window_starts_then_their_keys_sort_as_their_times() {
        let times = ["2026-11-23T09:59:00Z", "2026-11-23T10:00:00Z", "2026-11-24T00:00:00Z"];
        let keys: Vec<String> = times.iter().map(|t| window("s-1", "temp", at(t)).unwrap()).collect();
        assert_eq!(keys[0], "window#temp#2026-11-23T09:59:00Z");
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
        assert_eq!(stream("s-1", "temp").unwrap(), "stream#temp");
        assert_eq!(
            period("s-1", "temp", at("2026-11-23T09:45:00+05:45")).unwrap(),
            "period#temp#2026-11-23T04:00:00Z"
        );
    }

    #[test]
    fn given_what_cannot_be_named_exactly_then_there_is_no_key() {
        assert_eq!(window("s-1", "temp", at("2026-11-23T09:00:00.5Z")), None);
        assert_eq!(window("s#1", "temp", at("2026-11-23T09:00:00Z")), None);
        assert_eq!(stream("s-1", "te#mp"), None);
        assert_eq!(stream("", "temp"), None);
    }
}
