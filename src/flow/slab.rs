//! Flow records in fixed pages, addressed by a `u32` slot number.
//!
//! The flow table's hash map holds slot numbers (4 bytes and a control byte
//! per bucket), not the records, so its empty buckets cost 5 bytes each
//! instead of a whole record, and growing the map moves slot numbers, never
//! records. Records live in pages of [`PAGE`] slots: every page but the last
//! is full, the last grows by doubling up to [`PAGE`] (so a table of a few
//! flows holds a few slots, not a page), and a freed slot is reused before a
//! new one is made. Slots are never more than the most records held at once.

/// Slots per page (a power of two: a slot number splits into page and
/// offset with a shift and a mask). At ~200 bytes a record a page is
/// ~200 KB, so the spare slots of the last page stay under 1 % of a
/// worker's records once it holds 100,000 flows.
const PAGE_SHIFT: u32 = 10;
pub(super) const PAGE: usize = 1 << PAGE_SHIFT;
const MASK: u32 = (1 << PAGE_SHIFT) - 1;
/// The first page's first size: a table of a handful of flows holds this many slots.
const FIRST: usize = 16;

/// A slot: a record, or the next free slot ([`NONE`]: the last).
#[derive(Debug)]
enum Slot<T> {
    Held(T),
    /// The free list runs through the empty slots themselves, so freeing
    /// allocates nothing (a record type with a niche keeps this variant
    /// free of cost: the slot is as large as the record).
    Free(u32),
}

/// The end of the free list (never a slot: slots stay below 2^31).
const NONE: u32 = u32::MAX;

/// See the module documentation.
#[derive(Debug)]
pub(super) struct Slab<T> {
    pages: Vec<Vec<Slot<T>>>,
    /// The free slot to reuse first: the last freed (the record most
    /// likely still in cache).
    free: u32,
    len: usize,
    /// Slots made (held or free).
    made: usize,
    /// Slots the pages have room for (made or not): kept so that
    /// [`Slab::bytes`] is O(1) (the budget is charged on every new flow).
    reserved: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            pages: Vec::new(),
            free: NONE,
            len: 0,
            made: 0,
            reserved: 0,
        }
    }
}

fn split(slot: u32) -> (usize, usize) {
    ((slot >> PAGE_SHIFT) as usize, (slot & MASK) as usize)
}

impl<T> Slab<T> {
    /// Bytes a slot takes in a page.
    pub const SLOT_BYTES: usize = std::mem::size_of::<Slot<T>>();

    /// Records held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Slots made so far (held or free).
    #[cfg(test)]
    pub fn slots(&self) -> usize {
        self.made
    }

    fn cell_mut(&mut self, slot: u32) -> Option<&mut Slot<T>> {
        let (page, at) = split(slot);
        self.pages.get_mut(page)?.get_mut(at)
    }

    pub fn get(&self, slot: u32) -> Option<&T> {
        let (page, at) = split(slot);
        match self.pages.get(page)?.get(at)? {
            Slot::Held(v) => Some(v),
            Slot::Free(_) => None,
        }
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        match self.cell_mut(slot)? {
            Slot::Held(v) => Some(v),
            Slot::Free(_) => None,
        }
    }

    /// Stores `value` in the last freed slot, or a new one; None only when
    /// the slot numbers are spent (2^31 slots: the table's bound keeps
    /// below).
    pub fn insert(&mut self, value: T) -> Option<(u32, &mut T)> {
        let slot = if self.free == NONE {
            self.grow()?
        } else {
            let slot = self.free;
            match self.cell_mut(slot)? {
                Slot::Free(next) => self.free = *next,
                // Never: the free list holds free slots only.
                Slot::Held(_) => return None,
            }
            slot
        };
        let (page, at) = split(slot);
        let cell = self.pages.get_mut(page)?.get_mut(at)?;
        *cell = Slot::Held(value);
        self.len += 1;
        match cell {
            Slot::Held(v) => Some((slot, v)),
            Slot::Free(_) => None,
        }
    }

    /// Makes one more slot at the end (free, off the list) and returns its number.
    fn grow(&mut self) -> Option<u32> {
        let slot = u32::try_from(self.made).ok().filter(|&s| s < NONE / 2)?;
        let last_full = self.pages.last().is_none_or(|p| p.len() == PAGE);
        if last_full {
            let first = if self.pages.is_empty() { FIRST } else { PAGE };
            let page = Vec::with_capacity(first);
            self.reserved += page.capacity();
            self.pages.push(page);
        }
        let page = self.pages.last_mut()?;
        if page.len() == page.capacity() {
            // Doubling up to a full page: one move of a small page's records.
            let before = page.capacity();
            page.reserve_exact(page.len().min(PAGE - page.len()));
            self.reserved += page.capacity() - before;
        }
        page.push(Slot::Free(NONE));
        self.made += 1;
        Some(slot)
    }

    /// Takes the record out of `slot`, which becomes the first free one.
    pub fn remove(&mut self, slot: u32) -> Option<T> {
        let next = self.free;
        let cell = self.cell_mut(slot)?;
        if let Slot::Free(_) = cell {
            return None;
        }
        let Slot::Held(value) = std::mem::replace(cell, Slot::Free(next)) else {
            return None;
        };
        self.free = slot;
        self.len -= 1;
        Some(value)
    }

    /// Takes every record out, in slot order, and gives the pages back.
    pub fn drain(&mut self) -> impl Iterator<Item = T> {
        let pages = std::mem::take(&mut self.pages);
        *self = Slab::default();
        pages.into_iter().flatten().filter_map(|s| match s {
            Slot::Held(v) => Some(v),
            Slot::Free(_) => None,
        })
    }

    /// The records held, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.pages.iter().flatten().filter_map(|s| match s {
            Slot::Held(v) => Some(v),
            Slot::Free(_) => None,
        })
    }

    /// Bytes allocated: the pages (every slot made or reserved, held or
    /// free) and the page list.
    pub fn bytes(&self) -> usize {
        self.reserved * Self::SLOT_BYTES
            + self.pages.capacity() * std::mem::size_of::<Vec<Slot<T>>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_before_a_new_one_is_made() {
        let mut s: Slab<u64> = Slab::default();
        let a = s.insert(1).unwrap().0;
        let b = s.insert(2).unwrap().0;
        assert_eq!((a, b), (0, 1));
        assert_eq!(s.remove(a), Some(1));
        assert_eq!(s.remove(a), None, "already free");
        assert_eq!(s.get(a), None);
        let (c, v) = s.insert(3).unwrap();
        *v += 10;
        assert_eq!(c, a);
        assert_eq!(s.get(c), Some(&13));
        assert_eq!((s.len(), s.slots()), (2, 2));
    }

    #[test]
    fn slots_cross_pages_and_stay_where_they_were_put() {
        let mut s: Slab<u64> = Slab::default();
        let n = 3 * PAGE as u64 + 5;
        for i in 0..n {
            assert_eq!(s.insert(i * 7).unwrap().0, i as u32);
        }
        for i in (0..n).step_by(97) {
            assert_eq!(s.get(i as u32), Some(&(i * 7)));
        }
        assert_eq!(s.get(n as u32), None);
        assert_eq!(s.get(u32::MAX), None);
        *s.get_mut(PAGE as u32).unwrap() = 1;
        assert_eq!(s.get(PAGE as u32), Some(&1));
        let all: Vec<u64> = s.drain().collect();
        assert_eq!(all.len() as u64, n);
        assert_eq!((s.len(), s.slots(), s.bytes()), (0, 0, 0));
    }

    #[test]
    fn a_small_table_holds_few_slots_and_a_large_one_whole_pages() {
        let size = Slab::<u64>::SLOT_BYTES;
        let mut s: Slab<u64> = Slab::default();
        for i in 0..10 {
            s.insert(i);
        }
        let page_list = s.pages.capacity() * std::mem::size_of::<Vec<Slot<u64>>>();
        assert_eq!(s.bytes(), FIRST * size + page_list);
        for i in 10..(2 * PAGE as u64 + 1) {
            s.insert(i);
        }
        // Two full pages and a third started at full size: records are
        // never moved once their page is full.
        let pages: usize = s.pages.iter().map(Vec::capacity).sum();
        assert_eq!(pages, 3 * PAGE);
        assert_eq!(s.reserved, pages);
        assert_eq!(s.iter().count(), 2 * PAGE + 1);
    }

    #[test]
    fn churn_never_makes_more_slots_than_were_held_at_once() {
        let mut s: Slab<u64> = Slab::default();
        let mut held = std::collections::VecDeque::new();
        for i in 0..100_000u64 {
            held.push_back(s.insert(i).unwrap().0);
            if held.len() > 700 {
                let old = held.pop_front().unwrap();
                assert!(s.remove(old).is_some());
            }
        }
        assert_eq!(s.len(), 700);
        assert_eq!(s.slots(), 701);
        let before = s.bytes();
        for i in 0..10_000u64 {
            let old = held.pop_front().unwrap();
            s.remove(old);
            held.push_back(s.insert(i).unwrap().0);
        }
        assert_eq!(
            s.bytes(),
            before,
            "churn at a steady count allocates nothing"
        );
    }
}
