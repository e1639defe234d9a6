//! Gives the system back the memory glibc's allocator holds after the program
//! freed it.
//!
//! glibc returns freed memory only from the top of each arena, so after a
//! burst of small allocations (SQLite pages of thousands of working copies)
//! is freed below a live one, the pages stay resident: a server that peaked
//! at 150 MB stays at 150 MB. `malloc_trim(0)` releases every free page of
//! every arena. It walks and briefly locks each arena, so callers use it after
//! a burst of frees, not on every request.

/// Asks the allocator to return its free pages; `true` when it released any.
/// Does nothing (and returns `false`) where the allocator is not glibc's:
/// musl, macOS and Windows return large free blocks themselves.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() -> bool {
    // SAFETY: malloc_trim takes no pointers and touches only glibc's own free
    // lists, which it locks while it runs; any thread may call it at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    /// Freeing a large burst of small allocations leaves pages a trim can return.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_after_a_freed_burst_releases_memory() {
        let burst: Vec<Vec<u8>> = (0..20_000).map(|i| vec![i as u8; 4000]).collect();
        let keep = Box::new([1u8; 64]); // a live allocation above the burst
        drop(burst);
        assert!(
            super::release_free_memory(),
            "80 MB freed, nothing released"
        );
        assert_eq!(keep[0], 1);
    }
}
