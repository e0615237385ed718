//! The envelope decoder on any payload: every carrier (EventBridge, SNS, SQS with EventBridge,
//! SNS, CloudEvent or envelope bodies, bare envelopes and CloudEvents) is told apart by shape
//! from the same bytes. Without a registry, and with the orders' and sensors' registries.

fn main() {
    let plain = envelope::Decoder::new();
    let known = envelope::Decoder::with_registry(orders::events::registry().merge(sensors::events::registry()));
    afl::fuzz!(|data: &[u8]| {
        for decoder in [&plain, &known] {
            if let Ok(records) = decoder.decode_slice(data) {
                for record in records {
                    if let Ok(event) = record.envelope {
                        // What a consumer does next: the envelope back to text.
                        let _ = serde_json::to_vec(&event);
                    }
                }
            }
        }
    });
}
