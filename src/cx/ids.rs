//! Identifier newtypes for CX objects. CX (like Chatwoot [C]) sends ids as JSON numbers, but some
//! gateways stringify them, so decoding accepts a number or a numeric string [G]; encoding always
//! writes a number.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! cx_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<u64> for $name {
            fn from(value: u64) -> Self {
                Self(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.trim().parse().map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_u64(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(NumericIdVisitor).map(Self)
            }
        }
    };
}

cx_id!(
    /// A conversation's id: the `id` of the conversation object, used as `conversation_id`.
    ConversationId
);
cx_id!(
    /// A contact (customer) record.
    ContactId
);
cx_id!(
    /// An inbox (channel).
    InboxId
);
cx_id!(
    /// A message.
    MessageId
);
cx_id!(
    /// An agent bot (Flow B).
    AgentBotId
);
cx_id!(
    /// A webhook subscription.
    WebhookId
);

/// Accepts a non-negative integer or a string holding one.
struct NumericIdVisitor;

impl Visitor<'_> for NumericIdVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer id or a numeric string")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::custom(format!("id {value} is negative")))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<u64, E> {
        // Some JSON encoders write `12.0`; accept whole numbers only.
        if value.fract() == 0.0 && (0.0..18_446_744_073_709_551_615.0).contains(&value) {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "range and integrality checked just above"
            )]
            Ok(value as u64)
        } else {
            Err(E::custom(format!("id {value} is not a whole number")))
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<u64, E> {
        parse_numeric_id(value).ok_or_else(|| E::custom(format!("id {value:?} is not numeric")))
    }
}

/// Parses a numeric id written as text (`"42"`, `" 42 "`).
pub(crate) fn parse_numeric_id(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    trimmed.parse().ok()
}

/// Reads an id from an already-parsed JSON value (number or numeric string).
pub(crate) fn id_from_value(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(number) => number.as_u64().or_else(|| {
            number.as_f64().and_then(|f| NumericIdVisitor.visit_f64::<serde_json::Error>(f).ok())
        }),
        serde_json::Value::String(text) => parse_numeric_id(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_decode_from_numbers_and_numeric_strings() {
        let a: ConversationId = serde_json::from_str("42").unwrap();
        let b: ConversationId = serde_json::from_str("\"42\"").unwrap();
        let c: ConversationId = serde_json::from_str("42.0").unwrap();
        assert_eq!(a, ConversationId(42));
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(serde_json::to_string(&a).unwrap(), "42");
    }

    #[test]
    fn ids_reject_non_numeric_values() {
        for bad in ["-1", "\"abc\"", "\"\"", "1.5", "true", "null", "{}"] {
            assert!(serde_json::from_str::<InboxId>(bad).is_err(), "{bad} should fail");
        }
    }
}
