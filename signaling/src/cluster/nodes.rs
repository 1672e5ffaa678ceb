//! Which other nodes are alive: a node heard from within the timeout is;
//! one that falls silent is gone, and its peers with it.

use std::collections::HashMap;
use std::time::Duration;

use webswarm_core::Time;

use super::wire::NodeStats;
use crate::swarm::NodeId;

pub struct Nodes {
    timeout: Duration,
    seen: HashMap<NodeId, (Time, NodeStats)>,
}

impl Nodes {
    pub fn new(timeout: Duration) -> Self {
        Nodes {
            timeout,
            seen: HashMap::new(),
        }
    }

    /// Notes a message from `node`; `true` if it was not known (new, or back
    /// after being declared gone: its state must be asked for again).
    pub fn heard(&mut self, node: NodeId, now: Time) -> bool {
        match self.seen.get_mut(&node) {
            Some((t, _)) => {
                *t = now;
                false
            }
            None => {
                self.seen.insert(node, (now, NodeStats::default()));
                true
            }
        }
    }

    pub fn stats(&mut self, node: NodeId, stats: NodeStats) {
        if let Some((_, s)) = self.seen.get_mut(&node) {
            *s = stats;
        }
    }

    /// The nodes silent for longer than the timeout, now forgotten.
    pub fn expire(&mut self, now: Time) -> Vec<NodeId> {
        let timeout = self.timeout;
        let gone: Vec<NodeId> = self
            .seen
            .iter()
            .filter(|(_, (t, _))| now.saturating_since(*t) > timeout)
            .map(|(n, _)| *n)
            .collect();
        for n in &gone {
            self.seen.remove(n);
        }
        gone
    }

    /// A node that said goodbye.
    pub fn forget(&mut self, node: NodeId) {
        self.seen.remove(&node);
    }

    pub fn clear(&mut self) {
        self.seen.clear();
    }

    /// Every live node's last reported counters.
    pub fn all(&self) -> Vec<(NodeId, NodeStats)> {
        self.seen.iter().map(|(n, (_, s))| (*n, *s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_nodes_are_gone_and_come_back_as_new() {
        let mut n = Nodes::new(Duration::from_secs(3));
        let t0 = Time::from_millis(1000);
        assert!(n.heard(7, t0));
        assert!(!n.heard(7, t0 + Duration::from_secs(2)));
        assert!(n.heard(8, t0));
        assert_eq!(n.expire(t0 + Duration::from_millis(4500)), vec![8]);
        assert_eq!(n.all().len(), 1);
        assert!(n.heard(8, t0 + Duration::from_secs(5)), "back: ask again");
    }
}
