//! What the lessons' tests and the workbook's tooling share; a lesson's
//! program never links it (its runtime is `support`).
//!
//! - [`grading`]: the graded tests' side of the grader's proof of a verdict
//!   (with [`assert_yours!`] and [`assert_bytes!`]); xtask's grader reads
//!   the other side.
//! - [`reach`]: places another user (`nobody`, the grader's throwaway users)
//!   can reach.
//! - [`snapshot`]: the redaction filters every snapshot test applies.
//! - `judge` (feature `testing`): the graded test that starts the runner
//!   (`support::exercise`), sends it inputs and judges its replies in a
//!   process of its own.
//! - `testing` (feature `testing`): how the lessons' tests run a lesson, and
//!   the hostile situations every lesson meets.
//! - `layout` (feature `layout`): where lessons, exercises and graded tests
//!   are, for xtask and the cross-cutting tests.
//!
//! The two features keep the two users apart: a lesson's tests turn on
//! `testing` (insta, fastrand, roxmltree), xtask turns on `layout` (toml).

pub mod grading;
#[cfg(feature = "testing")]
pub mod judge;
#[cfg(feature = "layout")]
pub mod layout;
pub mod reach;
pub mod snapshot;
#[cfg(feature = "testing")]
pub mod testing;
