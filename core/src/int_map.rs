//! Maps keyed by the small integers the primary hands out itself (worker ids, message
//! sequence numbers, server ids). They need no protection against chosen keys, so a
//! multiply-shift hash replaces SipHash, which showed up in the per-message profile.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: spreads consecutive integers over the high bits hashbrown uses.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;
pub type IntSet<K> = HashSet<K, BuildHasherDefault<IntHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map_for_sequential_and_sparse_keys() {
        let mut map: IntMap<u64, u64> = IntMap::default();
        for k in (0..10_000u64).chain((0..1000).map(|i| i << 40)) {
            map.insert(k, k * 2);
        }
        assert_eq!(map.len(), 11_000 - 1); // 0 << 40 == 0
        assert_eq!(map.get(&9_999), Some(&19_998));
        assert_eq!(map.get(&(7 << 40)), Some(&((7 << 40) * 2)));
        assert_eq!(map.get(&10_000), None);
    }
}
