//! The three states of a log entry and the moves between them, apart from any tree:
//!
//! - **sequenced**: the writer accepted the entry and gave it the next index (a service
//!   acknowledges an entry only once it is durably stored in this state);
//! - **integrated**: the entry is in the trees, so it has inclusion proofs against their roots;
//! - **published**: a signed checkpoint covers it.
//!
//! Every published entry is integrated and every integrated entry sequenced; sizes only grow.
//! [`LogState`] holds the entries sequenced but not yet integrated; the caller appends them to
//! its trees, then records the integration.

/// Why a move between states was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The log holds as many entries as its capacity allows.
    #[error("the log is full ({capacity} entries)")]
    Full {
        /// The capacity.
        capacity: u64,
    },
    /// A published size beyond the integrated size, or below the published one.
    #[error("cannot publish size {size}: the published size is {published} and the integrated size {integrated}")]
    BadPublishedSize {
        /// The size asked for.
        size: u64,
        /// The size published so far.
        published: u64,
        /// The integrated size.
        integrated: u64,
    },
    /// An integration of more entries than are waiting.
    #[error("cannot integrate {count} entries: {pending} are waiting")]
    BadIntegration {
        /// Entries the caller says it integrated.
        count: usize,
        /// Entries waiting.
        pending: usize,
    },
}

/// A log's sizes and its sequenced entries waiting for integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState<E> {
    pending: Vec<E>,
    integrated: u64,
    published: u64,
    capacity: u64,
}

impl<E> LogState<E> {
    /// An empty log that can hold `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        Self {
            pending: Vec::new(),
            integrated: 0,
            published: 0,
            capacity,
        }
    }

    /// A log restored with `integrated` entries in its trees, of which `published` are covered
    /// by the last checkpoint.
    pub fn restore(integrated: u64, published: u64, capacity: u64) -> Result<Self, StateError> {
        if integrated > capacity {
            return Err(StateError::Full { capacity });
        }
        let mut state = Self::new(capacity);
        state.integrated = integrated;
        state.mark_published(published)?;
        Ok(state)
    }

    /// Sequences an entry: it gets the next index, returned.
    pub fn sequence(&mut self, entry: E) -> Result<u64, StateError> {
        let index = self.sequenced_size();
        if index >= self.capacity {
            return Err(StateError::Full {
                capacity: self.capacity,
            });
        }
        self.pending.push(entry);
        Ok(index)
    }

    /// The entries sequenced and not yet integrated, oldest first.
    pub fn pending(&self) -> &[E] {
        &self.pending
    }

    /// Records that the first `count` pending entries are now in the trees.
    pub fn integrated(&mut self, count: usize) -> Result<(), StateError> {
        if count > self.pending.len() {
            return Err(StateError::BadIntegration {
                count,
                pending: self.pending.len(),
            });
        }
        self.pending.drain(..count);
        self.integrated += count as u64;
        Ok(())
    }

    /// Records that a checkpoint of `size` entries was published.
    pub fn mark_published(&mut self, size: u64) -> Result<(), StateError> {
        if size > self.integrated || size < self.published {
            return Err(StateError::BadPublishedSize {
                size,
                published: self.published,
                integrated: self.integrated,
            });
        }
        self.published = size;
        Ok(())
    }

    /// Number of sequenced entries (integrated or not).
    pub fn sequenced_size(&self) -> u64 {
        self.integrated + self.pending.len() as u64
    }

    /// Number of integrated entries.
    pub fn integrated_size(&self) -> u64 {
        self.integrated
    }

    /// Number of entries covered by the last published checkpoint.
    pub fn published_size(&self) -> u64 {
        self.published
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_move_in_order_and_never_back() {
        let mut s = LogState::new(4);
        assert_eq!(s.sequence('a'), Ok(0));
        assert_eq!(s.sequence('b'), Ok(1));
        assert_eq!(s.pending(), &['a', 'b']);
        // Nothing is published before it is integrated.
        assert!(s.mark_published(1).is_err());
        assert_eq!(s.integrated(1), Ok(()));
        assert_eq!((s.sequenced_size(), s.integrated_size()), (2, 1));
        assert_eq!(s.pending(), &['b']);
        assert_eq!(
            s.integrated(2),
            Err(StateError::BadIntegration {
                count: 2,
                pending: 1
            })
        );
        assert_eq!(s.mark_published(1), Ok(()));
        assert!(
            s.mark_published(0).is_err(),
            "a published size never shrinks"
        );
        assert!(s.mark_published(2).is_err());
        assert_eq!(s.sequence('c'), Ok(2));
        assert_eq!(s.sequence('d'), Ok(3));
        assert_eq!(s.sequence('e'), Err(StateError::Full { capacity: 4 }));
        assert_eq!(s.integrated(3), Ok(()));
        assert_eq!(s.mark_published(4), Ok(()));
        assert_eq!(
            (s.sequenced_size(), s.integrated_size(), s.published_size()),
            (4, 4, 4)
        );
    }

    #[test]
    fn a_restored_state_is_checked() {
        let s = LogState::<u8>::restore(5, 3, 10).unwrap();
        assert_eq!(
            (s.sequenced_size(), s.integrated_size(), s.published_size()),
            (5, 5, 3)
        );
        assert!(LogState::<u8>::restore(5, 6, 10).is_err());
        assert!(LogState::<u8>::restore(11, 0, 10).is_err());
    }
}
