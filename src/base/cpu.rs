//! CPU time (user and system) of the calling thread or of the whole
//! process, for the bench's per-thread split (`--bench-thread-times`): the
//! serial share of a run in CPU time, kernel work included, which an
//! instruction count cannot see.

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike;

/// User and system CPU time, in microseconds, and the voluntary context
/// switches (a thread that waited: each wait that slept is one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub user_us: u64,
    pub sys_us: u64,
    pub waits: u64,
}

impl CpuTime {
    fn of(who: UsageWho) -> Option<CpuTime> {
        let u = getrusage(who).ok()?;
        Some(CpuTime {
            user_us: u64::try_from(u.user_time().num_microseconds()).unwrap_or(0),
            sys_us: u64::try_from(u.system_time().num_microseconds()).unwrap_or(0),
            waits: u64::try_from(u.voluntary_context_switches()).unwrap_or(0),
        })
    }

    /// The calling thread's time so far (none where the OS cannot tell).
    pub fn thread() -> Option<CpuTime> {
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        return CpuTime::of(UsageWho::RUSAGE_THREAD);
        #[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
        return None;
    }

    /// The whole process's time so far, ended threads included.
    pub fn process() -> Option<CpuTime> {
        CpuTime::of(UsageWho::RUSAGE_SELF)
    }

    pub fn total_us(&self) -> u64 {
        self.user_us + self.sys_us
    }
}

impl std::fmt::Display for CpuTime {
    /// `user 0.312000 s sys 0.580000 s total 0.892000 s waits 2811` (to the
    /// microsecond, as measured, so that sums can be checked)
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |us: u64| us as f64 / 1e6;
        write!(
            f,
            "user {:.6} s sys {:.6} s total {:.6} s waits {}",
            s(self.user_us),
            s(self.sys_us),
            s(self.total_us()),
            self.waits
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_spins_has_time_and_it_is_within_the_process() {
        let before = CpuTime::thread().unwrap_or_default();
        let mut x = 0u64;
        let mut n = 0u64;
        // Work until the clock moves: the thread's time grows, never the test's wall time.
        while CpuTime::thread().unwrap_or_default().total_us() <= before.total_us() + 2000 {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            n += 1;
        }
        let me = CpuTime::thread().unwrap_or_default();
        let all = CpuTime::process().unwrap_or_default();
        assert!(n > 0 && me.total_us() > before.total_us());
        assert!(me.total_us() <= all.total_us(), "{me} > process {all}");
    }
}
