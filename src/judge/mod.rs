//! judge stage.
