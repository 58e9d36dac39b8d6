//! The bottom layer: plain helpers every stage may use, importing no stage.
//!
//! * [`json`] writes JSON field by field into a reused buffer (EVE lines, ECS).
//! * [`time`] writes and parses EVE timestamps.
//! * [`stack`] puts small fixed-shape texts together before one copy (hot EVE fields),
//!   and holds the two-digit table that numbers and timestamps are written with.
//! * [`lines`] turns byte offsets of a text into line numbers (file:line in errors).
//! * [`country`] is the ISO 3166 list that the catalog and the policy check against.
//! * [`progress`] holds the counters a progress bar reads while a pass over the inputs runs.
//! * [`stdio`]: print!/eprintln! that a closed pipe cannot crash (first, so
//!   its macros replace std's in every module of the crate).
//! * [`cpu`] reads a thread's or the process's CPU time (the bench's per-thread split).
//! * [`stop`] is the stop request (SIGTERM/SIGINT) a packet source honours, and the
//!   guard that keeps an exit at once from cutting an output line.
#[macro_use]
pub mod stdio;

pub mod budget;
pub mod country;
pub mod cpu;
pub mod json;
pub mod lines;
pub mod progress;
pub mod stack;
pub mod stop;
#[cfg(test)]
pub mod testdata;
pub mod time;

pub use progress::Progress;
