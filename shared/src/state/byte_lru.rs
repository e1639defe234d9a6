//! A least-recently-used map bounded by the bytes its values weigh: the seeded
//! image cache and the frozen working copies are both one.

use std::borrow::Borrow;
use std::hash::Hash;

use lru::LruCache;

/// What a value holds in memory.
pub(super) trait Weighed {
    fn weight(&self) -> u64;
}

impl Weighed for bytes::Bytes {
    fn weight(&self) -> u64 {
        self.len() as u64
    }
}

/// Values most recently used first, what they weigh together, and the budget.
/// What goes out is handed back, so callers can free it outside their lock.
pub(super) struct ByteLru<K: Hash + Eq, V: Weighed> {
    map: LruCache<K, V>,
    bytes: u64,
    budget: u64,
}

impl<K: Hash + Eq, V: Weighed> ByteLru<K, V> {
    pub fn new(budget: u64) -> Self {
        ByteLru {
            map: LruCache::unbounded(),
            bytes: 0,
            budget,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// A value, now the most recently used.
    pub fn get<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let v = self.map.pop(key)?;
        self.bytes -= v.weight();
        Some(v)
    }

    /// Keeps `v` unless it alone is over budget, then drops the least recently
    /// used until the rest fit; returns what went out (`v` itself, if too big).
    pub fn insert(&mut self, key: K, v: V) -> Vec<V> {
        if v.weight() > self.budget {
            return vec![v];
        }
        self.bytes += v.weight();
        let mut out = Vec::new();
        if let Some(old) = self.map.put(key, v) {
            self.bytes -= old.weight();
            out.push(old);
        }
        out.extend(self.set_budget(self.budget));
        out
    }

    /// Sets the budget and drops the least recently used until the values fit.
    pub fn set_budget(&mut self, budget: u64) -> Vec<V> {
        self.budget = budget;
        self.pop_lru_while(|_, bytes| bytes > budget)
    }

    /// Drops least recently used values while `drop` says so of the oldest,
    /// given what all the values weigh.
    pub fn pop_lru_while(&mut self, mut drop: impl FnMut(&V, u64) -> bool) -> Vec<V> {
        let mut out = Vec::new();
        while self
            .map
            .peek_lru()
            .is_some_and(|(_, v)| drop(v, self.bytes))
        {
            if let Some((_, v)) = self.map.pop_lru() {
                self.bytes -= v.weight();
                out.push(v);
            }
        }
        out
    }
}
