//! Flow B: botrun as Sangoma CX's agent bot. CX posts each event of the inbox's conversations to
//! [`intake`], which stores it; the conversation's worker then runs the turn and the outbox
//! answers through the CX API.

pub(crate) mod intake;
pub(crate) mod worker;
