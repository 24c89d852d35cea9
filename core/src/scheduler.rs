//! Round-robin distribution of accepted connections, as Node's RoundRobinHandle does it:
//! one connection in flight per worker, a worker is free again once it answers, and a
//! connection a worker refuses (or never answers because it died) goes to another.
//! Pure bookkeeping over generic connections, so it is tested without sockets.

use std::collections::VecDeque;

pub type WorkerId = u32;

pub struct RoundRobin<C> {
    /// Workers holding this server, in the order they joined.
    all: Vec<WorkerId>,
    /// Workers with nothing in flight, next to receive first.
    free: VecDeque<WorkerId>,
    /// Accepted connections waiting for a free worker.
    pending: VecDeque<C>,
}

impl<C> Default for RoundRobin<C> {
    fn default() -> Self {
        RoundRobin {
            all: Vec::new(),
            free: VecDeque::new(),
            pending: VecDeque::new(),
        }
    }
}

impl<C> RoundRobin<C> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn has(&self, worker: WorkerId) -> bool {
        self.all.contains(&worker)
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn workers(&self) -> &[WorkerId] {
        &self.all
    }

    /// A worker joins; returns a connection to hand it right away, if one is waiting.
    pub fn add(&mut self, worker: WorkerId) -> Option<C> {
        if !self.all.contains(&worker) {
            self.all.push(worker);
        }
        self.handoff(worker)
    }

    /// A worker leaves. Returns true when nobody holds the server any more.
    pub fn remove(&mut self, worker: WorkerId) -> bool {
        self.all.retain(|&w| w != worker);
        self.free.retain(|&w| w != worker);
        self.all.is_empty()
    }

    /// A new connection: returns the worker to send it to, or keeps it queued.
    pub fn distribute(&mut self, conn: C) -> Option<(WorkerId, C)> {
        self.pending.push_back(conn);
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
        match self.pending.pop_front() {
            Some(conn) => Some(conn),
            None => {
                if !self.free.contains(&worker) {
                    self.free.push_back(worker);
                }
                None
            }
        }
    }

    /// Puts a refused or orphaned connection back at the head of the queue and returns
    /// the free worker that should get it now, if any.
    pub fn requeue(&mut self, conn: C) -> Option<(WorkerId, C)> {
        self.pending.push_front(conn);
        while let Some(worker) = self.free.pop_front() {
            if let Some(conn) = self.handoff(worker) {
                return Some((worker, conn));
            }
        }
        None
    }

    pub fn has_free_worker(&self) -> bool {
        !self.free.is_empty()
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Connections still queued when the server closes.
    pub fn drain_pending(&mut self) -> Vec<C> {
        self.pending.drain(..).collect()
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
        assert_eq!(rr.distribute("a"), Some((1, "a")));
        assert_eq!(rr.distribute("b"), Some((2, "b")));
        // Both busy: the next one waits.
        assert_eq!(rr.distribute("c"), None);
        assert_eq!(rr.pending_len(), 1);
        // Worker 2 answers first and gets it.
        assert_eq!(rr.handoff(2), Some("c"));
        assert_eq!(rr.handoff(1), None);
        assert_eq!(rr.distribute("d"), Some((1, "d")));
    }

    #[test]
    fn refused_connection_goes_to_another_worker() {
        let mut rr = RoundRobin::new();
        rr.add(1);
        rr.add(2);
        assert_eq!(rr.distribute("a"), Some((1, "a")));
        // Worker 1 refuses; worker 2 is free and takes it.
        assert_eq!(rr.requeue("a"), Some((2, "a")));
    }

    #[test]
    fn removed_worker_never_receives() {
        let mut rr = RoundRobin::new();
        rr.add(1);
        rr.add(2);
        assert!(!rr.remove(1));
        assert_eq!(rr.distribute("a"), Some((2, "a")));
        assert_eq!(rr.handoff(1), None);
        assert!(rr.remove(2));
        assert_eq!(rr.distribute("b"), None);
        assert_eq!(rr.drain_pending(), vec!["b"]);
    }

    #[test]
    fn late_joiner_takes_queued_connection() {
        let mut rr = RoundRobin::new();
        assert_eq!(rr.distribute("a"), None);
        assert_eq!(rr.add(7), Some("a"));
    }
}
