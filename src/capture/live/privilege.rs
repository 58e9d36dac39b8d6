//! `--user NAME`: run as an unprivileged user once the interfaces are open.
//!
//! The switch keeps two capabilities, CAP_NET_RAW and CAP_NET_ADMIN, and
//! nothing else, so that an interface that goes down can be opened again
//! later; every other root power is gone. Done with `nix` (setgroups,
//! setgid, setuid, PR_SET_KEEPCAPS) and `caps` (capability sets), both
//! maintained, safe wrappers: the crate forbids `unsafe`.
//!
//! Capability sets belong to a thread on Linux and a new thread copies its
//! creator's: the drop must run before any other thread starts, which
//! [`drop_privileges`] checks.

use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Uid, User};

/// The capabilities a sensor keeps.
pub const KEPT: [Capability; 2] = [Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN];

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error(
        "--user {0}: no such user (create it, e.g. `useradd --system --no-create-home phonehome`)"
    )]
    NoSuchUser(String),
    #[error("--user {user}: cannot switch to it: {detail} (start phonehome as root, or leave out --user)")]
    Switch { user: String, detail: String },
    #[error(
        "--user {user}: the switch must happen before other threads start ({threads} running)"
    )]
    Threads { user: String, threads: usize },
}

fn switch_err(user: &str, what: &str, e: impl std::fmt::Display) -> PrivilegeError {
    PrivilegeError::Switch {
        user: user.to_string(),
        detail: format!("{what}: {e}"),
    }
}

/// Threads of this process (Linux: entries of /proc/self/task).
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count())
}

/// Becomes `user` (its uid, primary group and supplementary groups),
/// keeping only [`KEPT`] of the capabilities held. Already that user: nothing
/// to do. Returns the uid now in force.
pub fn drop_privileges(user: &str) -> Result<Uid, PrivilegeError> {
    let u = User::from_name(user)
        .map_err(|e| switch_err(user, "looking up the user", e))?
        .ok_or_else(|| PrivilegeError::NoSuchUser(user.to_string()))?;
    if Uid::current() == u.uid && Uid::effective() == u.uid {
        return Ok(u.uid);
    }
    let threads = thread_count();
    if threads > 1 {
        return Err(PrivilegeError::Threads {
            user: user.to_string(),
            threads,
        });
    }
    let held = caps::read(None, CapSet::Permitted).map_err(|e| switch_err(user, "caps", e))?;
    let keep: CapsHashSet = KEPT.iter().copied().filter(|c| held.contains(c)).collect();
    // Permitted capabilities survive the uid change only with keep-caps on.
    nix::sys::prctl::set_keepcaps(true).map_err(|e| switch_err(user, "PR_SET_KEEPCAPS", e))?;
    let name = std::ffi::CString::new(user).map_err(|e| switch_err(user, "user name", e))?;
    nix::unistd::initgroups(&name, u.gid).map_err(|e| switch_err(user, "initgroups", e))?;
    nix::unistd::setgid(u.gid).map_err(|e| switch_err(user, "setgid", e))?;
    nix::unistd::setuid(u.uid).map_err(|e| switch_err(user, "setuid", e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| switch_err(user, "PR_SET_KEEPCAPS", e))?;
    // setuid cleared the effective set; keep the two, in effective and permitted.
    caps::set(None, CapSet::Permitted, &keep).map_err(|e| switch_err(user, "capset", e))?;
    caps::set(None, CapSet::Effective, &keep).map_err(|e| switch_err(user, "capset", e))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| switch_err(user, "capset", e))?;
    // Ambient capabilities (e.g. from systemd) would pass to child processes.
    let _ = caps::clear(None, CapSet::Ambient);
    // Belt and braces: root must be out of reach now.
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() && !u.uid.is_root() {
        return Err(switch_err(user, "check", "could still become root"));
    }
    if Gid::effective() != u.gid {
        return Err(switch_err(user, "check", "group did not change"));
    }
    Ok(u.uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real switch is tested through the binary (tests/live.rs): in this
    // process it would leave the rest of the tests running as that user.
    #[test]
    fn unknown_user_is_one_clear_line() {
        let e = drop_privileges("ph-no-such-user-x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--user ph-no-such-user-x: no such user (create it, e.g. `useradd --system --no-create-home phonehome`)"
        );
    }
}
