//! Where [`crate::spawn`]'s bounded runs used to live, kept for the grader
//! (xtask's `grade` and `class` modules and their tests), which is reviewed
//! on its own. New code imports [`crate::spawn`], or [`crate::fork`] in a
//! walkthrough.

pub use crate::spawn::{Captured, output_bounded};
