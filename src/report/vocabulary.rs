//! The words decision records are written in: how a step ended and why a conversation went to a
//! person. Fixed sets, so reports and metric labels stay bounded whatever the bots say. The
//! service writes them (`server::decisions`), `botrun report` reads them.

/// How an engine step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// The bot answered (a rule ran, or an open question got its answer).
    Answered,
    /// No rule understood the message (`otherwise` ran, or the bot stayed silent).
    Missed,
    /// The open question's answer was refused and asked again.
    Retry,
    /// The open question's retries ran out (`after N retries` ran).
    RetriesExhausted,
    /// The conversation went to a person.
    Handoff,
    /// The bot finished the conversation.
    Resolved,
    /// A question's `timeout` or the bot's idle ladder ran.
    Timeout,
    /// A conversation began (`on start`).
    Started,
    /// Anything else the bot did (a fetch result, a hand-back…).
    Other,
}

impl Outcome {
    pub(crate) const ALL: [Outcome; 9] = [
        Outcome::Answered,
        Outcome::Missed,
        Outcome::Retry,
        Outcome::RetriesExhausted,
        Outcome::Handoff,
        Outcome::Resolved,
        Outcome::Timeout,
        Outcome::Started,
        Outcome::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Missed => "missed",
            Outcome::Retry => "retry",
            Outcome::RetriesExhausted => "retries_exhausted",
            Outcome::Handoff => "handoff",
            Outcome::Resolved => "resolved",
            Outcome::Timeout => "timeout",
            Outcome::Started => "started",
            Outcome::Other => "other",
        }
    }

    /// The outcome a stored word names (an unknown word, from a newer botrun, is `Other`).
    pub fn parse(word: &str) -> Outcome {
        Outcome::ALL.into_iter().find(|o| o.as_str() == word).unwrap_or(Outcome::Other)
    }
}

/// Why a conversation went to a person: a fixed set, so it can label a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum HandoffReason {
    /// The customer asked for it: a rule for a matched intent handed off (`anytime human`).
    Asked,
    /// A message no rule understood led there (`otherwise`, `after N misses`).
    Missed,
    /// An open question's retries ran out.
    RetriesExhausted,
    /// A question's `timeout` or the idle ladder handed off.
    Timeout,
    /// The bot stopped itself: too many statements or `go`s in one turn.
    StepLimit,
    /// The flow itself handed off (`on start`, after a fetch, a hand-back…).
    Flow,
}

impl HandoffReason {
    pub(crate) const ALL: [HandoffReason; 6] = [
        HandoffReason::Asked,
        HandoffReason::Missed,
        HandoffReason::RetriesExhausted,
        HandoffReason::Timeout,
        HandoffReason::StepLimit,
        HandoffReason::Flow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::Asked => "asked",
            HandoffReason::Missed => "missed",
            HandoffReason::RetriesExhausted => "retries_exhausted",
            HandoffReason::Timeout => "timeout",
            HandoffReason::StepLimit => "step_limit",
            HandoffReason::Flow => "flow",
        }
    }

    /// The reason a stored word names (unknown words are `Flow`).
    pub fn parse(word: &str) -> HandoffReason {
        HandoffReason::ALL.into_iter().find(|r| r.as_str() == word).unwrap_or(HandoffReason::Flow)
    }
}
