//! Flow stage: bidirectional flows keyed by 5-tuple plus VLAN, with client /
//! server orientation, TCP state, packet-time timeouts and Community ID.
//!
//! Each worker owns one [`FlowTable`]; nothing here is shared between threads.
//! What it hands on are the plain records of [`record`].

pub mod community_id;
mod key;
pub mod record;
mod slab;
mod table;
pub mod tcp;

pub use key::{FlowKey, Side};
pub use record::{
    EndReason, EventKey, FlowAnomalies, FlowMeta, FlowNames, FlowRecord, FlowState, TcpSummary,
    Vlan,
};
pub use table::{Ended, Flow, FlowConfig, FlowInfo, FlowStats, FlowTable, PacketCtx, TableBytes};
pub use tcp::TcpTrack;
