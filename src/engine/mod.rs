//! engine stage.
