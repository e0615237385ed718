//! `localcloud route`: which rules an event matches and where each sends it.

use envelope::{Decoder, Registry};
use serde_json::Value;

use crate::topology::Topology;

/// Where one event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The event's detail-type.
    pub event_type: String,
    /// `Rule -> Queue -> function`, one per target of each matching rule.
    pub routes: Vec<String>,
}

/// The EventBridge events in `payload`: the payload itself if it is one, else every envelope
/// inside it (SQS, SNS, CloudEvents, bare), as the bus would see it once published.
pub fn events_in(payload: &[u8], known: Registry) -> Result<Vec<Value>, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("detail-type").is_some() {
        return Ok(vec![value]);
    }
    let decoded = Decoder::with_registry(known)
        .decode_value(value)
        .map_err(|e| e.to_string())?;
    decoded
        .into_iter()
        .map(|record| {
            let envelope = record.envelope.map_err(|e| format!("record {}: {e}", record.index))?;
            let entry = envelope.to_put_events_entry().map_err(|e| e.to_string())?;
            let id = envelope.metadata.id.to_string();
            let event = entry
                .to_event(&id, "000000000000", "us-east-1")
                .map_err(|e| e.to_string())?;
            serde_json::to_value(event).map_err(|e| e.to_string())
        })
        .collect()
}

/// Routes every event of `payload` on bus `bus` (a name or logical id; the template's only
/// custom bus if `None`).
pub fn route(topology: &Topology, payload: &[u8], bus: Option<&str>, known: Registry) -> Result<Vec<Routed>, String> {
    let bus = match bus {
        Some(name) => topology
            .bus(name)
            .ok_or_else(|| format!("no bus {name} in the template"))?,
        None => {
            let custom: Vec<_> = topology.buses.values().filter(|b| b.logical_id != "default").collect();
            match custom.as_slice() {
                [only] => *only,
                _ => topology
                    .bus("default")
                    .ok_or_else(|| "name the bus with --bus".to_owned())?,
            }
        }
    };
    Ok(events_in(payload, known)?
        .iter()
        .map(|event| Routed {
            event_type: event
                .get("detail-type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            routes: topology
                .matching_rules(&bus.logical_id, event)
                .flat_map(|rule| rule.targets.iter().map(|t| topology.route_of(rule, t)))
                .collect(),
        })
        .collect())
}
