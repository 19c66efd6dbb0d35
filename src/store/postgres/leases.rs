//! The leases this process took, remembered so that renewing one that surely has not run out
//! costs no round trip. A worker renews its conversation's lease before every event and every
//! outbox item; the database is asked again only once less than half of the lease it asked for
//! is left. That is safe because nobody else can take a lease before it expires: between the
//! claim that set `until` and `until`, the lease is this owner's whatever the database is asked.
//!
//! A claim and a release of one lane by this process may be in flight at once (a webhook asks
//! for the lease while the worker gives it up), and the database may apply them in either
//! order, so a granted claim is remembered only when no release of its lane started or was
//! under way while the claim was in flight ([`HeldLeases::claim_started`]); otherwise the next
//! renewal asks the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Releases are counted per stripe of lanes (a lane's hash picks its stripe): bounded memory,
/// and a release of another lane in the same stripe only costs a claim its remembering.
const STRIPES: usize = 1024;

#[derive(Debug)]
pub(super) struct HeldLeases {
    /// Lane → (owner, until in Unix ms) of each lease claimed here and not given up.
    held: Mutex<HashMap<String, (String, i64)>>,
    /// Per stripe, releases started and releases finished.
    started: Vec<AtomicU64>,
    finished: Vec<AtomicU64>,
}

impl Default for HeldLeases {
    fn default() -> HeldLeases {
        HeldLeases {
            held: Mutex::default(),
            started: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            finished: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// What a claim saw of its lane's releases when it was sent.
#[derive(Clone, Copy, Debug)]
pub(super) struct ClaimTicket {
    stripe: usize,
    started: u64,
}

fn stripe(lane: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    lane.hash(&mut hasher);
    usize::try_from(hasher.finish() % STRIPES as u64).unwrap_or(0)
}

impl HeldLeases {
    /// True when `owner` holds `lane` with more than half of the lease it asks for (`now` to
    /// `until`, Unix ms) still ahead.
    pub(super) fn still_held(&self, lane: &str, owner: &str, now: i64, until: i64) -> bool {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(lane)
            .is_some_and(|(by, held_until)| by == owner && held_until - now > (until - now) / 2)
    }

    /// Notes a claim about to be sent to the database.
    pub(super) fn claim_started(&self, lane: &str) -> ClaimTicket {
        let stripe = stripe(lane);
        ClaimTicket { stripe, started: self.started[stripe].load(Ordering::SeqCst) }
    }

    /// Remembers the outcome of a claim the database answered: a granted one only when no
    /// release of its lane overlapped it.
    pub(super) fn claimed(
        &self,
        ticket: ClaimTicket,
        lane: &str,
        owner: &str,
        until: i64,
        granted: bool,
    ) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let started = self.started[ticket.stripe].load(Ordering::SeqCst);
        let finished = self.finished[ticket.stripe].load(Ordering::SeqCst);
        if granted && started == ticket.started && finished == started {
            held.insert(lane.to_owned(), (owner.to_owned(), until));
        } else {
            held.remove(lane);
        }
    }

    /// Forgets `lane`: a release of it is about to be sent. The release counts as finished
    /// when the returned guard is dropped (answered, failed or given up).
    pub(super) fn release_started<'a>(&'a self, lane: &str) -> Releasing<'a> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let stripe = stripe(lane);
        self.started[stripe].fetch_add(1, Ordering::SeqCst);
        held.remove(lane);
        Releasing { leases: self, stripe }
    }
}

/// A release in flight; see [`HeldLeases::release_started`].
pub(super) struct Releasing<'a> {
    leases: &'a HeldLeases,
    stripe: usize,
}

impl Drop for Releasing<'_> {
    fn drop(&mut self) {
        let _held = self.leases.held.lock().unwrap_or_else(PoisonError::into_inner);
        self.leases.finished[self.stripe].fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::HeldLeases;

    fn claim(leases: &HeldLeases, lane: &str, owner: &str, until: i64, granted: bool) {
        let ticket = leases.claim_started(lane);
        leases.claimed(ticket, lane, owner, until, granted);
    }

    #[test]
    fn a_lease_is_renewed_locally_only_while_more_than_half_of_it_is_left() {
        let leases = HeldLeases::default();
        assert!(!leases.still_held("cx:1", "a", 0, 4000), "never claimed");
        claim(&leases, "cx:1", "a", 4000, true);
        assert!(leases.still_held("cx:1", "a", 1000, 5000), "3 s of the 4 s asked for are left");
        assert!(!leases.still_held("cx:1", "a", 2500, 6500), "only 1.5 s left: ask again");
        assert!(!leases.still_held("cx:1", "b", 1000, 5000), "another owner");
        drop(leases.release_started("cx:1"));
        assert!(!leases.still_held("cx:1", "a", 1000, 5000), "given up");
        claim(&leases, "cx:2", "a", 4000, true);
        claim(&leases, "cx:2", "a", 4000, false);
        assert!(!leases.still_held("cx:2", "a", 1000, 5000), "a refused claim forgets it");
    }

    /// The database may apply a claim and a release sent at the same time in either order: a
    /// claim that overlapped a release of its lane is not trusted to hold.
    #[test]
    fn a_claim_that_overlapped_a_release_is_not_remembered() {
        let leases = HeldLeases::default();
        // The release starts while the claim is in flight, and ends before it is answered.
        let ticket = leases.claim_started("cx:1");
        drop(leases.release_started("cx:1"));
        leases.claimed(ticket, "cx:1", "a", 4000, true);
        assert!(!leases.still_held("cx:1", "a", 1000, 5000));
        // The release is under way when the claim is sent, and still when it is answered.
        let releasing = leases.release_started("cx:1");
        let ticket = leases.claim_started("cx:1");
        leases.claimed(ticket, "cx:1", "a", 4000, true);
        assert!(!leases.still_held("cx:1", "a", 1000, 5000));
        drop(releasing);
        // Once no release is under way, a granted claim is remembered again.
        claim(&leases, "cx:1", "a", 4000, true);
        assert!(leases.still_held("cx:1", "a", 1000, 5000));
    }
}
