//! The EventBridge pattern language and SNS filter policies: the input is a pattern, a
//! newline, and an event. The pattern is parsed (EventBridge's size limit applies), matched
//! on its own and through the indexed matcher, which must agree; the same text is also read
//! as a filter policy of either scope and matched against the event as a message body.

use event_pattern::sns::{FilterPolicy, FilterPolicyScope};
use event_pattern::{Matcher, Pattern};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let (pattern, event) = text.split_once('\n').unwrap_or((text, "{}"));
        if let Ok(parsed) = Pattern::parse(pattern)
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(event)
        {
            let alone = parsed.matches(&value);
            let mut matcher = Matcher::new();
            matcher.add((), parsed);
            let indexed = !matcher.matches(&value).is_empty();
            assert_eq!(alone, indexed, "the matcher disagrees with the pattern on {text:?}");
            let _ = matcher.matches_json(event.as_bytes());
        }
        for scope in [FilterPolicyScope::MessageAttributes, FilterPolicyScope::MessageBody] {
            if let Ok(policy) = FilterPolicy::parse(pattern, scope) {
                let _ = policy.matches_body(event);
            }
        }
    });
}
