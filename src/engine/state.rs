//! A conversation's state: a compact, versioned snapshot (position, variables, counters, timers,
//! the random seed) — never a growing history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::{Button, Contact, FetchId, TimerId};
use super::program::BlockId;

/// Format version written in front of every snapshot.
pub(crate) const FORMAT_VERSION: u8 = 1;

/// Who owns the conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Never started, or resolved: the next customer message starts over.
    #[default]
    Idle,
    /// The bot is talking.
    WithBot,
    /// Handed to a human: the bot stays silent until handed back.
    WithHuman,
}

/// Where a suspended block continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Frame {
    pub block: BlockId,
    pub index: u16,
}

/// What the conversation waits for besides an ordinary message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Waiting {
    #[default]
    Nothing,
    /// An answer to the `ask` at `block[index]`, after `wrong` wrong answers.
    Answer { block: BlockId, index: u16, wrong: u16 },
    /// A fetch result.
    Fetch { id: FetchId, block: BlockId, index: u16 },
}

/// A scheduled timer and what it is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TimerKind {
    /// Rung `rung` of the current question's `timeout` ladder.
    Ask { rung: u8 },
    /// Rung `rung` of the bot-wide idle policy.
    Idle { rung: u8 },
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The state of one conversation. Fields are short-named and skipped when empty so an idle
/// conversation stays small.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "m", default, skip_serializing_if = "is_default")]
    pub(crate) mode: Mode,
    /// Set once the conversation has started at least once (so a later message means "return").
    #[serde(rename = "b", default, skip_serializing_if = "is_default")]
    pub(crate) began: bool,
    /// The current state, by name, so it survives a reload of a changed bot.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub(crate) position: Option<String>,
    /// Fingerprint of the program the suspended frames belong to (see `Program::fingerprint`).
    #[serde(rename = "p", default, skip_serializing_if = "is_default")]
    pub(crate) program: u32,
    #[serde(rename = "f", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) frames: Vec<Frame>,
    #[serde(rename = "w", default, skip_serializing_if = "is_default")]
    pub(crate) waiting: Waiting,
    #[serde(rename = "v", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) vars: BTreeMap<String, Value>,
    #[serde(rename = "c", default, skip_serializing_if = "is_default")]
    pub(crate) contact: Contact,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    #[serde(rename = "n", default, skip_serializing_if = "is_default")]
    pub(crate) misses: u16,
    #[serde(rename = "r")]
    pub(crate) rng: u64,
    #[serde(rename = "i", default, skip_serializing_if = "is_default")]
    pub(crate) next_id: u64,
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) timers: Vec<(TimerId, TimerKind)>,
    /// Buttons last shown, so typing "2" picks the second.
    #[serde(rename = "k", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) buttons: Vec<Button>,
}

/// A snapshot that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("empty state snapshot")]
    Empty,
    #[error("state snapshot has format version {0}, this botrun reads version {FORMAT_VERSION}")]
    Version(u8),
    #[error("state snapshot is damaged: {0}")]
    Damaged(String),
}

impl State {
    /// A fresh conversation whose `say one of` draws start from `seed`.
    pub fn new(seed: u64) -> State {
        State { rng: seed, ..State::default() }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![FORMAT_VERSION];
        // Serialising plain data into a Vec cannot fail.
        bytes.extend(serde_json::to_vec(self).unwrap_or_default());
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<State, StateError> {
        let (&version, body) = bytes.split_first().ok_or(StateError::Empty)?;
        if version != FORMAT_VERSION {
            return Err(StateError::Version(version));
        }
        serde_json::from_slice(body).map_err(|e| StateError::Damaged(e.to_string()))
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The name of the current state, if the conversation is in one.
    pub fn current_state(&self) -> Option<&str> {
        self.position.as_deref()
    }

    pub fn variables(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn contact(&self) -> &Contact {
        &self.contact
    }

    /// Whether the bot is waiting for the answer to a question.
    pub fn is_asking(&self) -> bool {
        matches!(self.waiting, Waiting::Answer { .. })
    }

    /// Presets a variable (for tests that start mid-dialog).
    pub fn set_variable(&mut self, name: &str, value: Value) {
        self.vars.insert(name.to_string(), value);
    }

    /// Next pseudo-random number (splitmix64): deterministic from the seed in the state.
    pub(crate) fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_and_stay_small() {
        let mut state = State::new(42);
        state.mode = Mode::WithBot;
        state.position = Some("menu".into());
        state.began = true;
        let bytes = state.to_bytes();
        assert!(bytes.len() < 64, "{} bytes", bytes.len());
        assert_eq!(State::from_bytes(&bytes).expect("reads"), state);
        assert!(matches!(State::from_bytes(&[9, b'{', b'}']), Err(StateError::Version(9))));
        assert!(matches!(State::from_bytes(&[1, b'x']), Err(StateError::Damaged(_))));
    }
}
