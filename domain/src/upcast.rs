//! Stored events of earlier schema versions, brought forward to the shape this release reads.
//!
//! Every reader of the log goes through [`upcast`] (the engine rebuilding a case, the read
//! models decoding payloads), so all of them read one shape. The upcasters are cqrs-es's
//! [`EventUpcaster`]s, keyed by event type and the version that replaced the stored one.
//!
//! | event | from | to | what changes |
//! | --- | --- | --- | --- |
//! | `escalated` | 1 | 2 | `level` names the level; every v1 escalation went to the city |

use std::sync::LazyLock;

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster, SerializedEvent};
use serde_json::Value;

use crate::{HandlingLevel, ESCALATED_VERSION};

static UPCASTERS: LazyLock<Vec<Box<dyn EventUpcaster>>> = LazyLock::new(|| {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "escalated",
        ESCALATED_VERSION,
        Box::new(escalated_to_the_city),
    ))]
});

/// Before levels were named, the only escalation was to the city (市旗联动).
fn escalated_to_the_city(mut payload: Value) -> Value {
    if let Some(fields) = payload.as_object_mut() {
        let city = serde_json::to_value(HandlingLevel::City).unwrap_or(Value::Null);
        fields.entry("level").or_insert(city);
    }
    payload
}

/// Whether an event of this type and version is stored in an older shape than this release's.
pub fn is_outdated(event_type: &str, event_version: &str) -> bool {
    UPCASTERS
        .iter()
        .any(|upcaster| upcaster.can_upcast(event_type, event_version))
}

/// The event in the shape this release reads, whatever version it was stored at.
pub fn upcast(event: SerializedEvent) -> SerializedEvent {
    UPCASTERS.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

/// A stored payload in the shape this release reads.
pub fn upcast_payload(event_type: &str, event_version: &str, payload: Value) -> Value {
    if !is_outdated(event_type, event_version) {
        return payload;
    }
    let stored = SerializedEvent {
        aggregate_id: String::new(),
        sequence: 0,
        aggregate_type: String::new(),
        event_type: event_type.to_owned(),
        event_version: event_version.to_owned(),
        payload,
        metadata: Value::Null,
    };
    upcast(stored).payload
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::suggestion::SuggestionEvent;
    use crate::Escalated;

    fn version_one() -> Value {
        json!({
            "type": "escalated",
            "reason": "超期未办复，提级督办",
            "overdue_since": "2026-03-17T09:00:00Z",
            "due_at": "2026-04-05T09:00:00Z",
            "at": "2026-03-21T09:00:00Z",
        })
    }

    #[test]
    fn a_version_one_escalation_does_not_read_as_version_two() {
        assert!(serde_json::from_value::<Escalated>(version_one()).is_err());
    }

    #[test]
    fn given_a_version_one_escalation_when_upcast_then_it_went_to_the_city() {
        assert!(is_outdated("escalated", "1"));
        let payload = upcast_payload("escalated", "1", version_one());
        let SuggestionEvent::Escalated(escalated) = serde_json::from_value(payload).unwrap() else {
            panic!("an escalation reads back as one");
        };
        assert_eq!(escalated.level, HandlingLevel::City);
        assert_eq!(escalated.department, None);
        assert_eq!(escalated.reason, "超期未办复，提级督办");
    }

    #[test]
    fn current_events_are_left_as_they_are() {
        assert!(!is_outdated("escalated", ESCALATED_VERSION));
        assert!(!is_outdated("assigned", "1"));
        let mut current = version_one();
        current["level"] = json!("city");
        assert_eq!(upcast_payload("escalated", "2", current.clone()), current);
    }
}
