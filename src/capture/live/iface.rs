//! What the kernel says about a network interface, from `/sys/class/net`.

use std::path::PathBuf;

/// `IFF_UP` in `/sys/class/net/NAME/flags`.
const IFF_UP: u32 = 0x1;

/// Whether an interface can be captured on now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfaceState {
    /// No interface of that name (never was, or removed).
    Missing,
    /// Administratively down (`ip link set NAME down`).
    Down,
    Up,
}

/// Linux interface names: 1 to 15 bytes, no '/', not "." or "..", no
/// whitespace. Anything else is refused before it reaches a path.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}

fn sys_path(name: &str, file: &str) -> PathBuf {
    PathBuf::from("/sys/class/net").join(name).join(file)
}

/// The interface's state (a name that cannot be an interface is `Missing`).
pub fn iface_state(name: &str) -> IfaceState {
    if !valid_name(name) {
        return IfaceState::Missing;
    }
    match std::fs::read_to_string(sys_path(name, "flags")) {
        Ok(text) => match parse_flags(&text) {
            Some(f) if f & IFF_UP != 0 => IfaceState::Up,
            Some(_) => IfaceState::Down,
            // Unreadable flags: let libpcap decide.
            None => IfaceState::Up,
        },
        Err(_) => IfaceState::Missing,
    }
}

/// `0x1003\n` → 0x1003.
fn parse_flags(text: &str) -> Option<u32> {
    let t = text.trim();
    let hex = t.strip_prefix("0x").unwrap_or(t);
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("eth0"));
        assert!(valid_name("enp0s31f6"));
        assert!(valid_name("veth-ph.100"));
        assert!(!valid_name(""));
        assert!(!valid_name("."));
        assert!(!valid_name(".."));
        assert!(!valid_name("../etc"));
        assert!(!valid_name("a b"));
        assert!(!valid_name("0123456789abcdef"));
    }

    #[test]
    fn flags() {
        assert_eq!(parse_flags("0x1003\n"), Some(0x1003));
        assert_eq!(parse_flags("0x1002"), Some(0x1002));
        assert_eq!(parse_flags("junk"), None);
    }

    #[test]
    fn loopback_is_up_and_nonsense_is_missing() {
        // Every Linux network namespace has lo, up unless someone took it down.
        assert_eq!(iface_state("lo"), IfaceState::Up);
        assert_eq!(iface_state("ph-no-such0"), IfaceState::Missing);
        assert_eq!(iface_state("../../etc"), IfaceState::Missing);
    }
}
