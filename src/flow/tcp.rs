//! TCP connection tracking from flags only (no reassembly here): enough to
//! orient the flow, tell new from established from closed, and pick a timeout.

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

// Milestones of a connection, one bit each in `TcpTrack::seen` (three
// bytes instead of eight keep the flow's table entry small).
const SEEN_SYN: u8 = 1 << 0;
const SEEN_SYN_ACK: u8 = 1 << 1;
/// The handshake completed, or data went both ways without one (mid-stream).
const SEEN_ESTABLISHED: u8 = 1 << 2;
const SEEN_FIN_TS: u8 = 1 << 3;
const SEEN_FIN_TC: u8 = 1 << 4;
const SEEN_RST: u8 = 1 << 5;

/// Flags seen each way and the milestones of the connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpTrack {
    /// Flags seen from the client (to server) and from the server (to client).
    pub flags_ts: u8,
    pub flags_tc: u8,
    seen: u8,
}

impl TcpTrack {
    fn has(&self, bit: u8) -> bool {
        self.seen & bit != 0
    }

    pub fn update(&mut self, flags: u8, to_server: bool, replied: bool) {
        if to_server {
            self.flags_ts |= flags;
        } else {
            self.flags_tc |= flags;
        }
        let syn = flags & SYN != 0;
        let ack = flags & ACK != 0;
        if syn && !ack && to_server {
            self.seen |= SEEN_SYN;
        } else if syn && ack && !to_server {
            self.seen |= SEEN_SYN_ACK;
        } else if ack && !syn && (self.has(SEEN_SYN_ACK) || replied) {
            self.seen |= SEEN_ESTABLISHED;
        }
        if flags & FIN != 0 {
            self.seen |= if to_server { SEEN_FIN_TS } else { SEEN_FIN_TC };
        }
        if flags & RST != 0 {
            self.seen |= SEEN_RST;
        }
    }

    /// RST seen, or FIN both ways.
    pub fn is_closed(&self) -> bool {
        self.has(SEEN_RST) || (self.has(SEEN_FIN_TS) && self.has(SEEN_FIN_TC))
    }

    pub fn is_established(&self) -> bool {
        self.has(SEEN_ESTABLISHED)
    }

    /// Suricata's stream state names, approximated from the flags seen.
    pub fn state_name(&self) -> &'static str {
        if self.is_closed() {
            "closed"
        } else if self.has(SEEN_FIN_TS) || self.has(SEEN_FIN_TC) {
            "fin_wait1"
        } else if self.has(SEEN_ESTABLISHED) {
            "established"
        } else if self.has(SEEN_SYN_ACK) {
            "syn_recv"
        } else if self.has(SEEN_SYN) {
            "syn_sent"
        } else {
            "none"
        }
    }
}
