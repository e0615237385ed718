//! Property tests: for any valid envelope, the CloudEvents mapping, the EventBridge mapping and
//! every carrier give back exactly the envelope that went in.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use chrono::{DateTime, Utc};
use envelope::encode::AwsContext;
use envelope::{Carrier, Decoder, Envelope, Location, MAX_ENTRY_BYTES, Metadata, TraceContext};
use proptest::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9._:/-]{0,40}"
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Any Unicode, including quotes, escapes and astral-plane characters.
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z][a-zA-Z0-9_-]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970..2100, any nanosecond: event time must survive every mapping exactly.
    (0i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

fn trace() -> impl Strategy<Value = Option<TraceContext>> {
    prop::option::of(
        (
            "[0-9a-f]{31}[1-9a-f]",
            "[0-9a-f]{15}[1-9a-f]",
            prop::option::of("[a-z]{1,8}=[a-zA-Z0-9]{1,16}"),
        )
            .prop_map(|(trace, parent, tracestate)| TraceContext {
                traceparent: format!("00-{trace}-{parent}-01"),
                tracestate,
            }),
    )
}

prop_compose! {
    fn envelope()(
        id in any::<u128>().prop_filter("not nil", |n| *n != 0),
        event_type in name(),
        version in 1u32..50,
        source in name().prop_filter("aws. is reserved", |s| !s.starts_with("aws.")),
        time in time(),
        subject in "[^\\p{Cc}]{0,30}[^\\p{Cc}\\s]",
        sequence in prop::option::of(any::<u64>()),
        correlation_id in name(),
        causation_id in prop::option::of(any::<u128>().prop_map(Uuid::from_u128)),
        trace in trace(),
        replay in prop::option::of("[a-zA-Z0-9._-]{1,64}"),
        data in json(),
    ) -> Envelope<Value> {
        let metadata = Metadata {
            id: Uuid::from_u128(id), event_type, version, source, time, subject, sequence,
            correlation_id, causation_id, trace, replay,
        };
        Envelope { metadata, data }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cloudevents_mapping_is_lossless(envelope in envelope()) {
        let event = envelope.to_cloudevent();
        prop_assert_eq!(&event["specversion"], "1.0");
        let text = event.to_string();
        let back = Envelope::from_cloudevent(serde_json::from_str(&text).unwrap(), &Location::root()).unwrap();
        prop_assert_eq!(back, envelope);
    }

    #[test]
    fn eventbridge_mapping_is_lossless_and_matchable(envelope in envelope()) {
        let entry = envelope.to_put_events_entry().unwrap();
        prop_assert_eq!(&entry.detail_type, &envelope.metadata.event_type);
        prop_assert_eq!(&entry.source, &envelope.metadata.source);
        prop_assert!(entry.size() <= MAX_ENTRY_BYTES);
        let event = entry.to_event("e-1", "123456789012", "eu-west-1").unwrap();
        // Rules match on detail-type and on data fields under detail.data.
        prop_assert_eq!(&event.detail["data"], &envelope.data);
        let decoded = Decoder::new().decode_eventbridge(event).envelope.unwrap();
        prop_assert_eq!(decoded, envelope);
    }

    #[test]
    fn every_carrier_gives_back_the_envelopes_it_carries(
        envelopes in prop::collection::vec(envelope(), 1..4),
    ) {
        let decoder = Decoder::new();
        for carrier in [
            Carrier::EventBridge, Carrier::Sns, Carrier::SqsEventBridge, Carrier::SqsSns,
            Carrier::SqsEnvelope, Carrier::SqsCloudEvent, Carrier::Envelope, Carrier::CloudEvent,
        ] {
            let payloads = carrier.wrap(&envelopes, &AwsContext::default()).unwrap();
            let mut back = Vec::new();
            for payload in payloads {
                // Through text, as AWS delivers it.
                for record in decoder.decode_slice(payload.to_string().as_bytes()).unwrap() {
                    prop_assert_eq!(record.carrier, carrier);
                    back.push(record.envelope.unwrap());
                }
            }
            prop_assert_eq!(&back, &envelopes, "carrier {}", carrier.name());
        }
    }
}

#[test]
fn an_entry_over_256_kb_is_refused_before_eventbridge_refuses_it() {
    let mut envelope = Envelope {
        metadata: serde_json::from_value(serde_json::json!({
            "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "type": "Big", "version": 1, "source": "test",
            "time": "2026-11-23T00:00:00Z", "subject": "s", "correlationId": "c"
        }))
        .unwrap(),
        data: Value::String("x".repeat(MAX_ENTRY_BYTES)),
    };
    let err = envelope.to_put_events_entry().unwrap_err();
    assert_eq!(err.kind(), "too-large");
    envelope.data = Value::String("x".repeat(MAX_ENTRY_BYTES - 400));
    assert!(envelope.to_put_events_entry().unwrap().size() <= MAX_ENTRY_BYTES);
}
