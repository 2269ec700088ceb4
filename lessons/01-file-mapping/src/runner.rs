//! `file-mapping --exercises`: the grader's runner for this lesson's
//! exercises. It reads each request's inputs, calls your function, and says
//! what it returned; the graded tests (`tests/graded.rs`) judge that in a
//! process of their own (see `support::exercise`).

use support::exercise::{Handler, io_result, returned};

use crate::exercises;

/// Each exercise by name, with how its inputs are read.
pub const EXERCISES: &[(&str, Handler)] = &[
    ("write_u32s_through_mapping", |args| {
        let (path, values) = (args.path()?, args.list::<u32>()?);
        io_result(exercises::write_u32s_through_mapping(&path, &values))
    }),
    ("hexdump_through_mapping", |args| {
        io_result(exercises::hexdump_through_mapping(&args.path()?))
    }),
    ("bytes_really_mapped", |args| {
        let (len, page_size) = (args.num()?, args.num()?);
        returned(exercises::bytes_really_mapped(len, page_size))
    }),
    ("find_all_through_mapping", |args| {
        let (path, pattern) = (args.path()?, args.bytes()?);
        io_result(exercises::find_all_through_mapping(&path, &pattern))
    }),
];
