//! Times as the sensors domain writes and reads them: RFC 3339, read with any offset and kept
//! in UTC, written in UTC (`Z`) or, for people, in a site's own time zone with the offset in
//! force at that instant.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

/// `time` in RFC 3339 UTC, with a fraction only when it has one: `2026-03-29T01:15:00Z`.
pub fn utc(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `time` on the clocks of `zone`, with the offset in force at that instant:
/// 01:15Z on 2026-03-29 in `Europe/Berlin` is `2026-03-29T03:15:00+02:00`, 00:45Z the same day
/// `2026-03-29T01:45:00+01:00`.
pub fn local(time: DateTime<Utc>, zone: Tz) -> String {
    time.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// An RFC 3339 time with an offset (`Z`, `+05:45`, `-03:30`), as UTC. A time without an
/// offset is refused: its instant is unknown.
pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("'{text}' is not an RFC 3339 time with an offset, like 2026-11-23T09:30:00+05:30 ({e})"))
}

/// Whether `time` is one a reading can have: from 1970 to the year 9999. Earlier or later
/// instants parse, but no device takes them and no store key can name their window.
pub fn is_reading_time(time: DateTime<Utc>) -> bool {
    // 1970-01-01T00:00:00Z up to 10000-01-01T00:00:00Z, as milliseconds: a comparison on the
    // per-reading path instead of a calendar conversion.
    const END_OF_9999_MS: i64 = 253_402_300_800_000;
    (0..END_OF_9999_MS).contains(&time.timestamp_millis())
}

/// Milliseconds since the Unix epoch, rounded down (toward the past, also before 1970).
pub(crate) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// The instant `millis` after the Unix epoch; out of chrono's range, the nearest end of it.
pub(crate) fn at_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or(if millis < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// The start of the interval of `length_ms` that holds `millis`, intervals aligned to the Unix
/// epoch (so to UTC midnight when `length_ms` divides a day).
pub(crate) fn floor(millis: i64, length_ms: i64) -> i64 {
    millis - millis.rem_euclid(length_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_times_run_from_1970_to_the_end_of_9999() {
        assert!(is_reading_time(parse("1970-01-01T00:00:00Z").unwrap()));
        assert!(is_reading_time(parse("9999-12-31T23:59:59.999Z").unwrap()));
        assert!(!is_reading_time(parse("1969-12-31T23:59:59.999Z").unwrap()));
        assert!(!is_reading_time(parse("0000-01-01T00:00:30+01:00").unwrap()));
    }

    #[test]
    fn given_times_with_offsets_then_they_are_read_as_the_same_instant_in_utc() {
        let kathmandu = parse("2026-11-23T08:00:30+05:45").unwrap();
        let st_johns = parse("2026-11-22T22:45:30-03:30").unwrap();
        assert_eq!(utc(kathmandu), "2026-11-23T02:15:30Z");
        assert_eq!(kathmandu, st_johns);
        assert_eq!(
            utc(parse("2026-11-23T02:15:30.250Z").unwrap()),
            "2026-11-23T02:15:30.250Z"
        );
    }

    #[test]
    fn given_a_time_without_an_offset_then_it_is_refused_saying_so() {
        let refused = parse("2026-11-23T08:00:30").unwrap_err();
        assert!(refused.contains("not an RFC 3339 time with an offset"), "{refused}");
    }

    #[test]
    fn intervals_are_aligned_to_the_epoch_also_before_it() {
        assert_eq!(floor(125_000, 60_000), 120_000);
        assert_eq!(floor(-1, 60_000), -60_000);
        assert_eq!(floor(120_000, 60_000), 120_000);
    }
}
