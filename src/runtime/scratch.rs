//! Per-call scratch arrays that live on the caller's stack up to a small size and on
//! the heap beyond it (select's bookkeeping: a select over a few channels, the common
//! case, then allocates nothing and cannot fail for want of memory).
//!
//! The room is fixed when the array is made: pushing past it is a runtime bug, so an
//! item never moves once pushed (select links its sudogs into channel wait queues).

use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use core::ptr;

use super::error::{Error, Result};

/// Up to `cap` items, in place for `cap <= N`, else in one heap block reserved up front.
pub struct Scratch<T, const N: usize> {
    /// Items in `inline` when not spilled.
    len: usize,
    inline: [MaybeUninit<T>; N],
    /// The items when spilled (`cap > N`), with exactly the room asked for.
    heap: Vec<T>,
    spilled: bool,
    cap: usize,
}

impl<T, const N: usize> Scratch<T, N> {
    /// Room for `cap` items: on the stack if `cap <= N`; Error::NoMem if the heap
    /// block cannot be had.
    #[inline]
    pub fn with_capacity(cap: usize) -> Result<Self> {
        let mut s = Scratch {
            len: 0,
            inline: [const { MaybeUninit::uninit() }; N],
            heap: Vec::new(),
            spilled: cap > N,
            cap,
        };
        if s.spilled && s.heap.try_reserve_exact(cap).is_err() {
            return Err(Error::NoMem);
        }
        Ok(s)
    }

    /// Appends `x`. The room was fixed by `with_capacity`: going past it is a bug.
    #[inline]
    pub fn push(&mut self, x: T) {
        if self.spilled {
            if self.heap.len() == self.cap {
                super::throw("scratch array pushed past its room");
            }
            self.heap.push(x);
        } else {
            if self.len == N.min(self.cap) {
                super::throw("scratch array pushed past its room");
            }
            self.inline[self.len].write(x);
            self.len += 1;
        }
    }

    /// Drops every item, keeping the room.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Drops the items from `n` on (none if there are `n` or fewer).
    pub fn truncate(&mut self, n: usize) {
        if self.spilled {
            self.heap.truncate(n);
        } else if n < self.len {
            let old = self.len;
            // Forget them first: a panicking drop then leaks the rest, never drops twice.
            self.len = n;
            // SAFETY: inline slots [n, old) were written by push and not yet dropped
            // (len counted them); len is n now, so nothing reads them again.
            unsafe {
                ptr::drop_in_place(ptr::slice_from_raw_parts_mut(
                    self.inline.as_mut_ptr().cast::<T>().add(n),
                    old - n,
                ))
            };
        }
    }

    /// Hands every item, in order, to `f` and leaves the array empty.
    pub fn drain_each(&mut self, mut f: impl FnMut(T)) {
        if self.spilled {
            for x in self.heap.drain(..) {
                f(x);
            }
        } else {
            let n = self.len;
            self.len = 0;
            for slot in &self.inline[..n] {
                // SAFETY: slots [0, n) hold items pushed and not yet dropped or read;
                // len is 0 now, so each is read exactly once, here.
                f(unsafe { slot.assume_init_read() });
            }
        }
    }
}

impl<T, const N: usize> Deref for Scratch<T, N> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        if self.spilled {
            &self.heap
        } else {
            // SAFETY: the first `len` inline slots are initialised (push wrote them).
            unsafe { &*ptr::slice_from_raw_parts(self.inline.as_ptr().cast::<T>(), self.len) }
        }
    }
}

impl<T, const N: usize> DerefMut for Scratch<T, N> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        if self.spilled {
            &mut self.heap
        } else {
            // SAFETY: the first `len` inline slots are initialised (push wrote them),
            // and `&mut self` makes the borrow unique.
            unsafe {
                &mut *ptr::slice_from_raw_parts_mut(self.inline.as_mut_ptr().cast::<T>(), self.len)
            }
        }
    }
}

impl<T, const N: usize> Drop for Scratch<T, N> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn scratch_inline_and_spilled_keep_order_and_drop_every_item_once() {
        for cap in [0usize, 1, 3, 4, 5, 9] {
            let token = Rc::new(());
            {
                let mut s: Scratch<(usize, Rc<()>), 4> = Scratch::with_capacity(cap).unwrap();
                for i in 0..cap {
                    s.push((i, token.clone()));
                }
                assert_eq!(s.len(), cap);
                assert!(s.iter().enumerate().all(|(i, x)| x.0 == i));
                s.sort_by_key(|x| core::cmp::Reverse(x.0));
                assert!(s.windows(2).all(|w| w[0].0 > w[1].0));
                assert_eq!(Rc::strong_count(&token), cap + 1);
                let mut seen = 0;
                s.drain_each(|x| {
                    seen += 1;
                    drop(x)
                });
                assert_eq!(seen, cap);
                assert_eq!(Rc::strong_count(&token), 1);
                for i in 0..cap {
                    s.push((i, token.clone()));
                }
            }
            // Dropping the array dropped what it still held.
            assert_eq!(Rc::strong_count(&token), 1);
        }
    }

    #[test]
    fn scratch_inline_items_do_not_move_while_pushing() {
        let mut s: Scratch<u64, 8> = Scratch::with_capacity(8).unwrap();
        s.push(1);
        let first: *const u64 = &s[0];
        for i in 0..7 {
            s.push(i);
        }
        assert!(ptr::eq(first, &s[0]));
    }
}
