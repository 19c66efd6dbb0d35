//! Property tests: the webhook decoder, `Retry-After` parser and signature checker never panic,
//! whatever they are handed, and accept what they should.

use std::time::{Duration, SystemTime};

use botrun::cx::{
    decode_event, parse_retry_after, sign, verify_signature, CxEvent, RETRY_AFTER_CAP,
};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[a-z0-9_ ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("conversation".to_owned()),
                    Just("message_type".to_owned()),
                    Just("meta".to_owned()),
                    Just("sender".to_owned()),
                    Just("messages".to_owned()),
                    Just("changed_attributes".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

const EVENTS: &[&str] = &[
    "message_created",
    "message_updated",
    "conversation_created",
    "conversation_status_changed",
    "conversation_updated",
    "conversation_opened",
    "conversation_resolved",
    "webwidget_triggered",
    "something_else",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_event_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_event(&body);
    }

    #[test]
    fn decode_event_never_panics_on_event_shaped_json(
        event in prop::sample::select(EVENTS),
        fields in prop::collection::btree_map("[a-z_]{1,10}|id|conversation|message_type|meta|messages|labels|private|inbox|sender|changed_attributes|conversation_id", json_value(), 0..8),
    ) {
        let mut object: serde_json::Map<String, Value> = fields.into_iter().collect();
        object.insert("event".into(), json!(event));
        let body = Value::Object(object).to_string();
        if let Ok(decoded) = decode_event(body.as_bytes()) {
            // A decoded event keeps its name.
            prop_assert_eq!(decoded.name(), event);
        }
    }

    #[test]
    fn a_minimal_message_with_any_numeric_ids_decodes(id in any::<u64>(), conversation in any::<u64>(), as_text in any::<bool>()) {
        let (id_json, conversation_json) = if as_text {
            (json!(id.to_string()), json!(conversation.to_string()))
        } else {
            (json!(id), json!(conversation))
        };
        let body = json!({"event": "message_created", "id": id_json, "message_type": "incoming",
                          "conversation": {"id": conversation_json}}).to_string();
        let decoded = decode_event(body.as_bytes()).unwrap();
        let CxEvent::MessageCreated(message) = decoded else { panic!("wrong variant") };
        prop_assert_eq!(message.id.0, id);
        prop_assert_eq!(message.conversation_id.0, conversation);
    }

    #[test]
    fn retry_after_never_panics_and_is_capped(value in "\\PC{0,40}", offset in any::<u32>()) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(offset));
        if let Some(wait) = parse_retry_after(&value, now) {
            prop_assert!(wait <= RETRY_AFTER_CAP);
        }
    }

    #[test]
    fn retry_after_round_trips_http_dates(ahead in 0_u64..200, now_secs in 0_u64..4_000_000_000) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now_secs);
        let header = httpdate::fmt_http_date(now + Duration::from_secs(ahead));
        let wait = parse_retry_after(&header, now).unwrap();
        prop_assert_eq!(wait, Duration::from_secs(ahead).min(RETRY_AFTER_CAP));
    }

    #[test]
    fn signature_check_never_panics(timestamp in "\\PC{0,24}", signature in "\\PC{0,80}", body in prop::collection::vec(any::<u8>(), 0..64)) {
        let now: DateTime<Utc> = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let _ = verify_signature(b"secret", &timestamp, &signature, &body, now);
    }

    #[test]
    fn signatures_round_trip(secret in prop::collection::vec(any::<u8>(), 0..80), body in prop::collection::vec(any::<u8>(), 0..128), skew in -300_i64..=300) {
        let now: DateTime<Utc> = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let timestamp = 1_700_000_000 + skew;
        let header = sign(&secret, timestamp, &body);
        prop_assert!(verify_signature(&secret, &timestamp.to_string(), &header, &body, now).is_ok());
    }
}
