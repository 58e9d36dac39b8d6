//! Network namespaces joined by a veth pair, for live-capture tests (root).
//! The approach of tools/realcap/generate.sh: iproute2, no IPv6 (no
//! neighbour discovery or MLD chatter on the captured link), offloads off
//! so every captured frame is a real wire-sized frame.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (iproute2 is installed by scripts/test)", args[0]));
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces `<tag>a` and `<tag>b`, joined by `<tag>0` (in a) and
/// `<tag>1` (in b). Removed on drop.
pub struct Pair {
    pub a: String,
    pub b: String,
    pub if_a: String,
    pub if_b: String,
}

impl Pair {
    /// `tag`: a short unique prefix (interface names stop at 15 bytes).
    pub fn new(tag: &str) -> Pair {
        assert!(
            nix_is_root(),
            "live-capture tests need root (network namespaces); CI runs as root"
        );
        let p = Pair {
            a: format!("{tag}a"),
            b: format!("{tag}b"),
            if_a: format!("{tag}0"),
            if_b: format!("{tag}1"),
        };
        p.remove();
        run(&["ip", "netns", "add", &p.a]);
        run(&["ip", "netns", "add", &p.b]);
        run(&[
            "ip", "link", "add", &p.if_a, "netns", &p.a, "type", "veth", "peer", "name", &p.if_b,
            "netns", &p.b,
        ]);
        for (ns, ifc, mac) in [
            (&p.a, &p.if_a, "02:00:00:70:68:0a"),
            (&p.b, &p.if_b, "02:00:00:70:68:0b"),
        ] {
            run(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", ifc, "address", mac]);
            // Room for the largest frames of the captures replayed (VLAN-tagged 1522).
            run(&["ip", "-n", ns, "link", "set", ifc, "mtu", "9000", "up"]);
            // Best effort: ethtool may be missing; veth works without.
            let _ = Command::new("ip")
                .args([
                    "netns", "exec", ns, "ethtool", "-K", ifc, "tx", "off", "rx", "off", "tso",
                    "off", "gso", "off", "gro", "off",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        p
    }

    /// Gives each end an IPv4 address (a: .1, b: .2 of `net`.0/24).
    pub fn address(&self, net: &str) {
        run(&[
            "ip",
            "-n",
            &self.a,
            "addr",
            "add",
            &format!("{net}.1/24"),
            "dev",
            &self.if_a,
        ]);
        run(&[
            "ip",
            "-n",
            &self.b,
            "addr",
            "add",
            &format!("{net}.2/24"),
            "dev",
            &self.if_b,
        ]);
    }

    /// A command run inside namespace `ns`.
    pub fn cmd(ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    fn remove(&self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.remove();
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Sends SIGTERM (or another signal) to a child by its id.
pub fn signal(pid: u32, sig: &str) {
    run(&["kill", &format!("-{sig}"), &pid.to_string()]);
}
