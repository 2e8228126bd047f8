//! An ordered list with ranks: the embedded store's sorted set.
//!
//! Sorted chunks of at most [`CHUNK`] items: finding an item's chunk is a binary search over
//! chunk ends, its rank the sizes of the chunks before it plus a binary search inside. With
//! 2.5 million members that is ~2,500 chunks: a rank costs a few microseconds, an insert or a
//! removal moves at most one chunk's items.

/// Largest chunk before it splits in two.
const CHUNK: usize = 1024;

#[derive(Debug, Clone)]
pub struct SortedList<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Ord> Default for SortedList<T> {
    fn default() -> Self {
        Self { chunks: Vec::new(), len: 0 }
    }
}

impl<T: Ord> SortedList<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk that holds `item` or would hold it.
    fn chunk_of(&self, item: &T) -> usize {
        let i = self.chunks.partition_point(|c| c.last().is_some_and(|last| last < item));
        i.min(self.chunks.len().saturating_sub(1))
    }

    /// Inserts `item`; returns false (and changes nothing) if it is there already.
    pub fn insert(&mut self, item: T) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(vec![item]);
            self.len = 1;
            return true;
        }
        let c = self.chunk_of(&item);
        let chunk = &mut self.chunks[c];
        match chunk.binary_search(&item) {
            Ok(_) => false,
            Err(pos) => {
                chunk.insert(pos, item);
                self.len += 1;
                if chunk.len() > CHUNK {
                    let tail = chunk.split_off(CHUNK / 2);
                    self.chunks.insert(c + 1, tail);
                }
                true
            }
        }
    }

    /// Removes `item`; returns whether it was there.
    pub fn remove(&mut self, item: &T) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let c = self.chunk_of(item);
        let chunk = &mut self.chunks[c];
        match chunk.binary_search(item) {
            Ok(pos) => {
                chunk.remove(pos);
                self.len -= 1;
                if chunk.is_empty() {
                    self.chunks.remove(c);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// The 0-based position of `item`, if present.
    pub fn rank(&self, item: &T) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let c = self.chunk_of(item);
        let pos = self.chunks[c].binary_search(item).ok()?;
        Some(self.chunks[..c].iter().map(Vec::len).sum::<usize>() + pos)
    }

    /// Up to `limit` items from position `offset` on.
    pub fn range(&self, offset: usize, limit: usize) -> Vec<&T> {
        let mut out = Vec::with_capacity(limit.min(self.len));
        let mut skip = offset;
        for chunk in &self.chunks {
            if out.len() == limit {
                break;
            }
            if skip >= chunk.len() {
                skip -= chunk.len();
                continue;
            }
            out.extend(chunk[skip..].iter().take(limit - out.len()));
            skip = 0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// The chunked list agrees with a BTreeSet under any mix of inserts and removals.
        #[test]
        fn agrees_with_a_btreeset(ops in proptest::collection::vec((any::<bool>(), 0u32..3000), 0..6000)) {
            let mut list = SortedList::default();
            let mut set = BTreeSet::new();
            for (insert, x) in ops {
                if insert {
                    prop_assert_eq!(list.insert(x), set.insert(x));
                } else {
                    prop_assert_eq!(list.remove(&x), set.remove(&x));
                }
            }
            prop_assert_eq!(list.len(), set.len());
            let all: Vec<u32> = list.range(0, usize::MAX).into_iter().copied().collect();
            prop_assert_eq!(&all, &set.iter().copied().collect::<Vec<_>>());
            for (i, x) in set.iter().enumerate().step_by(37) {
                prop_assert_eq!(list.rank(x), Some(i));
            }
            prop_assert_eq!(list.rank(&5000), None);
            let page: Vec<u32> = list.range(10, 25).into_iter().copied().collect();
            prop_assert_eq!(page, set.iter().skip(10).take(25).copied().collect::<Vec<_>>());
        }
    }
}
