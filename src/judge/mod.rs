//! judge stage.
pub mod policy;
