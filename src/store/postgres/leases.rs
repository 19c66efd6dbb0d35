//! The leases this process took, remembered so that renewing one that surely has not run out
//! costs no round trip. A worker renews its conversation's lease before every event and every
//! outbox item; the database is asked again only once less than half of the lease it asked for
//! is left. That is safe because nobody else can take a lease before it expires: between the
//! claim that set `until` and `until`, the lease is this owner's whatever the database is asked.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

#[derive(Debug, Default)]
pub(super) struct HeldLeases {
    /// Lane → (owner, until in Unix ms) of each lease claimed here and not given up.
    held: Mutex<HashMap<String, (String, i64)>>,
}

impl HeldLeases {
    /// True when `owner` holds `lane` with more than half of the lease it asks for (`now` to
    /// `until`, Unix ms) still ahead.
    pub(super) fn still_held(&self, lane: &str, owner: &str, now: i64, until: i64) -> bool {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(lane)
            .is_some_and(|(by, held_until)| by == owner && held_until - now > (until - now) / 2)
    }

    /// Remembers the outcome of a claim the database answered.
    pub(super) fn claimed(&self, lane: &str, owner: &str, until: i64, granted: bool) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if granted {
            held.insert(lane.to_owned(), (owner.to_owned(), until));
        } else {
            held.remove(lane);
        }
    }

    /// Forgets `lane` (given up, or about to be).
    pub(super) fn released(&self, lane: &str) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).remove(lane);
    }
}

#[cfg(test)]
mod tests {
    use super::HeldLeases;

    #[test]
    fn a_lease_is_renewed_locally_only_while_more_than_half_of_it_is_left() {
        let leases = HeldLeases::default();
        assert!(!leases.still_held("cx:1", "a", 0, 4000), "never claimed");
        leases.claimed("cx:1", "a", 4000, true);
        assert!(leases.still_held("cx:1", "a", 1000, 5000), "3 s of the 4 s asked for are left");
        assert!(!leases.still_held("cx:1", "a", 2500, 6500), "only 1.5 s left: ask again");
        assert!(!leases.still_held("cx:1", "b", 1000, 5000), "another owner");
        leases.released("cx:1");
        assert!(!leases.still_held("cx:1", "a", 1000, 5000), "given up");
        leases.claimed("cx:2", "a", 4000, true);
        leases.claimed("cx:2", "a", 4000, false);
        assert!(!leases.still_held("cx:2", "a", 1000, 5000), "a refused claim forgets it");
    }
}
