//! Report stage: EVE JSON lines, the final `stats` event and the human summary.
pub mod bundle;
pub mod dedup;
pub mod ecs;
pub mod eve;
pub mod evidence;
pub mod html;
pub mod json;
pub mod sink;
pub mod summary;
pub mod time;

/// Suricata's name for an IP protocol number in `proto`.
pub fn proto_name(proto: u8) -> std::borrow::Cow<'static, str> {
    match proto {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        58 => "IPv6-ICMP".into(),
        132 => "SCTP".into(),
        n => n.to_string().into(),
    }
}
