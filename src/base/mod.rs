//! The bottom layer: plain helpers every stage may use, importing no stage.
//!
//! * [`json`] writes JSON field by field into a reused buffer (EVE lines, ECS).
//! * [`time`] writes and parses EVE timestamps.
//! * [`lines`] turns byte offsets of a text into line numbers (file:line in errors).
//! * [`country`] is the ISO 3166 list that the catalog and the policy check against.
//! * [`progress`] holds the counters a progress bar reads while a pass over the inputs runs.
//! * [`stdio`]: print!/eprintln! that a closed pipe cannot crash (first, so
//!   its macros replace std's in every module of the crate).
#[macro_use]
pub mod stdio;

pub mod country;
pub mod json;
pub mod lines;
pub mod progress;
#[cfg(test)]
pub mod testdata;
pub mod time;

pub use progress::Progress;
