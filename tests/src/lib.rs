//! Cross-cutting tests live in `tests/`; this crate holds what they share
//! (reading the book's sources).

pub mod book;
