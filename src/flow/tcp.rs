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

/// Flags seen each way and the milestones of the connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpTrack {
    /// Flags seen from the client (to server) and from the server (to client).
    pub flags_ts: u8,
    pub flags_tc: u8,
    syn: bool,
    syn_ack: bool,
    /// The handshake completed, or data went both ways without one (mid-stream).
    established: bool,
    fin_ts: bool,
    fin_tc: bool,
    rst: bool,
}

impl TcpTrack {
    pub fn update(&mut self, flags: u8, to_server: bool, replied: bool) {
        if to_server {
            self.flags_ts |= flags;
        } else {
            self.flags_tc |= flags;
        }
        let syn = flags & SYN != 0;
        let ack = flags & ACK != 0;
        if syn && !ack && to_server {
            self.syn = true;
        } else if syn && ack && !to_server {
            self.syn_ack = true;
        } else if ack && !syn && (self.syn_ack || replied) {
            self.established = true;
        }
        if flags & FIN != 0 {
            if to_server {
                self.fin_ts = true;
            } else {
                self.fin_tc = true;
            }
        }
        if flags & RST != 0 {
            self.rst = true;
        }
    }

    /// RST seen, or FIN both ways.
    pub fn is_closed(&self) -> bool {
        self.rst || (self.fin_ts && self.fin_tc)
    }

    pub fn is_established(&self) -> bool {
        self.established
    }

    /// Suricata's stream state names, approximated from the flags seen.
    pub fn state_name(&self) -> &'static str {
        if self.rst || (self.fin_ts && self.fin_tc) {
            "closed"
        } else if self.fin_ts || self.fin_tc {
            "fin_wait1"
        } else if self.established {
            "established"
        } else if self.syn_ack {
            "syn_recv"
        } else if self.syn {
            "syn_sent"
        } else {
            "none"
        }
    }
}
