//! Round-robin distribution of accepted connections, as Node's RoundRobinHandle does it:
//! one connection in flight per worker, a worker is free again once it answers, and a
//! connection a worker refuses (or never answers because it died) goes to another.
//! Pure bookkeeping over generic connections, so it is tested without sockets.

use crate::int_map::IntMap;
use std::collections::VecDeque;

pub type WorkerId = u32;

/// Rendezvous (highest-random-weight) hashing: each (client, worker) pair gets a score and
/// the client goes to the highest. When a worker leaves only its clients move; when one
/// joins only the clients it now wins move.
fn score(affinity: u64, worker: WorkerId) -> u64 {
    let mut x = affinity ^ (worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finalizer
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub struct RoundRobin<C> {
    /// Workers holding this server, in the order they joined.
    all: Vec<WorkerId>,
    /// Workers with nothing in flight, next to receive first.
    free: VecDeque<WorkerId>,
    /// Accepted connections waiting for any free worker, with their affinity.
    pending: VecDeque<(C, u64)>,
    /// Sticky mode: a connection goes to the worker its client address hashes to.
    sticky: bool,
    /// Sticky mode: connections waiting for their own (busy) worker.
    queued: IntMap<WorkerId, VecDeque<(C, u64)>>,
    /// Sticky mode: clients hash to slots, not worker ids, and a joining worker fills the
    /// first vacant slot (or the slot supervision gives it), so a replacement inherits
    /// exactly the clients of the worker it replaces.
    slots: Vec<Option<WorkerId>>,
    /// Workers that joined but are not ready yet (supervision's readiness gate), with the
    /// slot they will take: they hold the server but receive nothing until `open`.
    gated: Vec<(WorkerId, Option<u32>)>,
    /// The slot supervision gave each worker that has one: a slot whose newer holder
    /// leaves goes back to an older holder still here (a replacement that failed).
    slot_of: IntMap<WorkerId, u32>,
}

impl<C> Default for RoundRobin<C> {
    fn default() -> Self {
        RoundRobin {
            all: Vec::new(),
            free: VecDeque::new(),
            pending: VecDeque::new(),
            sticky: false,
            queued: IntMap::default(),
            slots: Vec::new(),
            gated: Vec::new(),
            slot_of: IntMap::default(),
        }
    }
}

impl<C> RoundRobin<C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Client-affine distribution (SCHED_STICKY).
    pub fn new_sticky() -> Self {
        RoundRobin {
            sticky: true,
            ..Self::default()
        }
    }

    pub fn has(&self, worker: WorkerId) -> bool {
        self.all.contains(&worker) || self.gated.iter().any(|&(w, _)| w == worker)
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.gated.is_empty()
    }

    /// The worker a client with this affinity belongs to.
    pub fn owner_of(&self, affinity: u64) -> Option<WorkerId> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, worker)| worker.map(|w| (slot, w)))
            .max_by_key(|&(slot, _)| score(affinity, slot as WorkerId))
            .map(|(_, worker)| worker)
    }

    /// A worker joins; returns a connection to hand it right away, if one is waiting.
    pub fn add(&mut self, worker: WorkerId) -> Option<C> {
        self.add_in_slot(worker, None)
    }

    /// A worker joins into sticky slot `slot` (its predecessor's, which it takes over even
    /// while the predecessor still drains), or the first vacant one.
    pub fn add_in_slot(&mut self, worker: WorkerId, slot: Option<u32>) -> Option<C> {
        if !self.all.contains(&worker) {
            self.all.push(worker);
            match slot.map(|s| s as usize) {
                Some(index) => {
                    if self.slots.len() <= index {
                        self.slots.resize(index + 1, None);
                    }
                    self.slots[index] = Some(worker);
                    self.slot_of.insert(worker, index as u32);
                }
                None => match self.slots.iter_mut().find(|slot| slot.is_none()) {
                    Some(slot) => *slot = Some(worker),
                    None => self.slots.push(Some(worker)),
                },
            }
        }
        self.handoff(worker)
    }

    /// A worker that is not ready yet joins: it holds the server, receives nothing.
    pub fn add_gated(&mut self, worker: WorkerId, slot: Option<u32>) {
        if !self.has(worker) {
            self.gated.push((worker, slot));
        }
    }

    /// A gated worker became ready: it joins for real. Returns a connection to hand it
    /// right away, if one is waiting; None also when it was not gated here.
    pub fn open(&mut self, worker: WorkerId) -> Option<C> {
        let index = self.gated.iter().position(|&(w, _)| w == worker)?;
        let (_, slot) = self.gated.remove(index);
        self.add_in_slot(worker, slot)
    }

    pub fn is_gated(&self, worker: WorkerId) -> bool {
        self.gated.iter().any(|&(w, _)| w == worker)
    }

    /// A worker leaves. Returns true when nobody holds the server any more. In sticky
    /// mode the connections that waited for it are re-placed on the remaining workers
    /// (see `take_orphans`).
    pub fn remove(&mut self, worker: WorkerId) -> bool {
        self.all.retain(|&w| w != worker);
        self.free.retain(|&w| w != worker);
        self.gated.retain(|&(w, _)| w != worker);
        self.slot_of.remove(&worker);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if *slot == Some(worker) {
                let older = self.slot_of.iter().find(|&(_, &s)| s as usize == index);
                *slot = older.map(|(&w, _)| w);
            }
        }
        if self.all.is_empty() {
            self.slots.clear();
        }
        if let Some(waiting) = self.queued.remove(&worker) {
            self.pending.extend(waiting);
        }
        self.is_empty()
    }

    /// A new connection: returns the worker to send it to, or keeps it queued.
    pub fn distribute(&mut self, conn: C, affinity: u64) -> Option<(WorkerId, C)> {
        self.place(conn, affinity, false)
    }

    /// Puts a refused or orphaned connection back (first in line) and returns the free
    /// worker that should get it now, if any.
    pub fn requeue(&mut self, conn: C, affinity: u64) -> Option<(WorkerId, C)> {
        self.place(conn, affinity, true)
    }

    fn place(&mut self, conn: C, affinity: u64, front: bool) -> Option<(WorkerId, C)> {
        if self.sticky {
            if let Some(owner) = self.owner_of(affinity) {
                if let Some(pos) = self.free.iter().position(|&w| w == owner) {
                    self.free.remove(pos);
                    return Some((owner, conn));
                }
                let queue = self.queued.entry(owner).or_default();
                if front {
                    queue.push_front((conn, affinity));
                } else {
                    queue.push_back((conn, affinity));
                }
                return None;
            }
        }
        if front {
            self.pending.push_front((conn, affinity));
        } else {
            self.pending.push_back((conn, affinity));
        }
        while let Some(worker) = self.free.pop_front() {
            if let Some(conn) = self.handoff(worker) {
                return Some((worker, conn));
            }
        }
        None
    }

    /// `worker` has nothing in flight: give it the next waiting connection, or mark it free.
    pub fn handoff(&mut self, worker: WorkerId) -> Option<C> {
        if !self.all.contains(&worker) {
            return None;
        }
        if let Some((conn, _)) = self.queued.get_mut(&worker).and_then(VecDeque::pop_front) {
            return Some(conn);
        }
        while let Some((conn, affinity)) = self.pending.pop_front() {
            // Sticky: a connection left unplaced (no worker at the time) goes to its owner.
            match self.sticky.then(|| self.owner_of(affinity)).flatten() {
                Some(owner) if owner != worker => {
                    self.queued
                        .entry(owner)
                        .or_default()
                        .push_back((conn, affinity));
                }
                _ => return Some(conn),
            }
        }
        if !self.free.contains(&worker) {
            self.free.push_back(worker);
        }
        None
    }

    /// Sticky connections that now wait for a worker that is free: (worker, conn) pairs
    /// to send, e.g. after `remove` moved a leaving worker's queue.
    pub fn dispatch_waiting(&mut self) -> Vec<(WorkerId, C)> {
        let mut out = Vec::new();
        let free: Vec<WorkerId> = self.free.drain(..).collect();
        for worker in free {
            if let Some(conn) = self.handoff(worker) {
                out.push((worker, conn));
            }
        }
        out
    }

    /// Whether the accept loop should take connections off the kernel's queue now: in
    /// round-robin only while a worker is free (the rest wait in the backlog); in sticky
    /// mode whenever a worker holds the server, since the target is known only after accept.
    pub fn wants_connections(&self) -> bool {
        if self.sticky {
            !self.all.is_empty()
        } else {
            !self.free.is_empty()
        }
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len() + self.queued.values().map(VecDeque::len).sum::<usize>()
    }

    /// Connections still queued when the server closes.
    pub fn drain_pending(&mut self) -> Vec<C> {
        let mut out: Vec<C> = self.pending.drain(..).map(|(c, _)| c).collect();
        for (_, queue) in self.queued.drain() {
            out.extend(queue.into_iter().map(|(c, _)| c));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternates_between_free_workers() {
        let mut rr = RoundRobin::new();
        assert_eq!(rr.add(1), None);
        assert_eq!(rr.add(2), None);
        assert_eq!(rr.distribute("a", 0), Some((1, "a")));
        assert_eq!(rr.distribute("b", 0), Some((2, "b")));
        // Both busy: the next one waits.
        assert_eq!(rr.distribute("c", 0), None);
        assert_eq!(rr.pending_len(), 1);
        // Worker 2 answers first and gets it.
        assert_eq!(rr.handoff(2), Some("c"));
        assert_eq!(rr.handoff(1), None);
        assert_eq!(rr.distribute("d", 0), Some((1, "d")));
    }

    #[test]
    fn refused_connection_goes_to_another_worker() {
        let mut rr = RoundRobin::new();
        rr.add(1);
        rr.add(2);
        assert_eq!(rr.distribute("a", 0), Some((1, "a")));
        // Worker 1 refuses; worker 2 is free and takes it.
        assert_eq!(rr.requeue("a", 0), Some((2, "a")));
    }

    #[test]
    fn removed_worker_never_receives() {
        let mut rr = RoundRobin::new();
        rr.add(1);
        rr.add(2);
        assert!(!rr.remove(1));
        assert_eq!(rr.distribute("a", 0), Some((2, "a")));
        assert_eq!(rr.handoff(1), None);
        assert!(rr.remove(2));
        assert_eq!(rr.distribute("b", 0), None);
        assert_eq!(rr.drain_pending(), vec!["b"]);
    }

    #[test]
    fn sticky_sends_a_client_to_the_same_worker() {
        let mut rr = RoundRobin::new_sticky();
        for w in 1..=4 {
            rr.add(w);
        }
        for client in 0..200u64 {
            let owner = rr.owner_of(client).unwrap();
            let (worker, _) = rr.distribute(client, client).expect("owner is free");
            assert_eq!(worker, owner);
            // Busy now: the next connection of the same client waits for the same worker.
            assert_eq!(rr.distribute(client + 1000, client), None);
            assert_eq!(rr.handoff(owner), Some(client + 1000));
            assert_eq!(rr.handoff(owner), None);
        }
    }

    #[test]
    fn sticky_moves_only_the_clients_of_a_leaving_worker() {
        let mut rr: RoundRobin<u64> = RoundRobin::new_sticky();
        for w in 1..=4 {
            rr.add(w);
        }
        let before: Vec<WorkerId> = (0..1000).map(|c| rr.owner_of(c).unwrap()).collect();
        let counts = (1..=4).map(|w| before.iter().filter(|&&o| o == w).count());
        assert!(
            counts.clone().all(|n| n > 150),
            "balanced: {:?}",
            counts.collect::<Vec<_>>()
        );
        rr.remove(3);
        for (client, old) in before.iter().enumerate() {
            let new = rr.owner_of(client as u64).unwrap();
            if *old != 3 {
                assert_eq!(new, *old, "client {client} moved without cause");
            } else {
                assert_ne!(new, 3);
            }
        }
        // The replacement takes over exactly the clients of the worker it replaces.
        rr.add(5);
        for (client, old) in before.iter().enumerate() {
            let expected = if *old == 3 { 5 } else { *old };
            assert_eq!(rr.owner_of(client as u64), Some(expected));
        }
    }

    #[test]
    fn sticky_queue_of_a_leaving_worker_is_re_placed() {
        let mut rr = RoundRobin::new_sticky();
        rr.add(1);
        rr.add(2);
        let client = (0..).find(|&c| rr.owner_of(c) == Some(1)).unwrap();
        assert!(rr.distribute("first", client).is_some());
        assert_eq!(rr.distribute("second", client), None);
        rr.remove(1);
        assert_eq!(rr.dispatch_waiting(), vec![(2, "second")]);
    }

    #[test]
    fn a_gated_worker_holds_the_server_but_receives_nothing_until_opened() {
        let mut rr = RoundRobin::new();
        rr.add(1);
        rr.add_gated(2, None);
        assert!(rr.has(2));
        assert!(!rr.remove(1), "the gated worker still holds the server");
        // Nobody routable: the connection waits, it does not go to the gated worker.
        assert_eq!(rr.distribute("a", 0), None);
        assert!(!rr.wants_connections());
        assert_eq!(rr.open(2), Some("a"));
        assert_eq!(rr.open(2), None, "opened once");
        assert!(rr.remove(2));
    }

    #[test]
    fn sticky_gated_worker_takes_no_clients_until_opened_then_takes_its_slot() {
        let mut rr: RoundRobin<u64> = RoundRobin::new_sticky();
        rr.add_in_slot(1, Some(0));
        rr.add_in_slot(2, Some(1));
        let before: Vec<WorkerId> = (0..200).map(|c| rr.owner_of(c).unwrap()).collect();
        // A replacement for worker 1 joins its slot, gated: nothing moves yet.
        rr.add_gated(3, Some(0));
        for (client, old) in before.iter().enumerate() {
            assert_eq!(rr.owner_of(client as u64), Some(*old));
        }
        // Ready: exactly worker 1's clients are now worker 3's, while 1 still drains.
        rr.open(3);
        for (client, old) in before.iter().enumerate() {
            let expected = if *old == 1 { 3 } else { *old };
            assert_eq!(rr.owner_of(client as u64), Some(expected));
        }
        rr.remove(1);
        for (client, old) in before.iter().enumerate() {
            let expected = if *old == 1 { 3 } else { *old };
            assert_eq!(rr.owner_of(client as u64), Some(expected));
        }
    }

    #[test]
    fn sticky_slot_goes_back_to_the_predecessor_when_its_replacement_leaves_first() {
        let mut rr: RoundRobin<u64> = RoundRobin::new_sticky();
        rr.add_in_slot(1, Some(0));
        rr.add_in_slot(2, Some(1));
        let before: Vec<WorkerId> = (0..200).map(|c| rr.owner_of(c).unwrap()).collect();
        rr.add_in_slot(3, Some(0));
        rr.remove(3);
        for (client, old) in before.iter().enumerate() {
            assert_eq!(rr.owner_of(client as u64), Some(*old));
        }
    }

    #[test]
    fn late_joiner_takes_queued_connection() {
        let mut rr = RoundRobin::new();
        assert_eq!(rr.distribute("a", 0), None);
        assert_eq!(rr.add(7), Some("a"));
        assert!(!rr.wants_connections());
    }
}
