//! `file-mapping --exercises`: the grader's runner for this lesson's
//! exercises. It reads each request's inputs, calls your function, and says
//! what it returned; the graded tests (`tests/graded.rs`) judge that in a
//! process of their own (see `support::exercise`).
//!
//! Before your code touches a file, the runner installs a seccomp filter
//! (`support::seccomp::install_mapping_only`): reading or writing a file's
//! bytes other than through a mapping then fails with "Operation not
//! supported", so "through a mapping" is checked by the kernel.

use support::exercise::{Handler, io_result, returned};
use support::seccomp::install_mapping_only;

use crate::exercises;

/// Each exercise by name, with how its inputs are read.
pub const EXERCISES: &[(&str, Handler)] = &[
    ("write_u32s_through_mapping", |args| {
        let (path, values) = (args.path()?, args.list::<u32>()?);
        install_mapping_only()?;
        io_result(exercises::write_u32s_through_mapping(&path, &values))
    }),
    ("hexdump_through_mapping", |args| {
        let path = args.path()?;
        install_mapping_only()?;
        io_result(exercises::hexdump_through_mapping(&path))
    }),
    ("bytes_really_mapped", |args| {
        let (len, page_size) = (args.num()?, args.num()?);
        returned(exercises::bytes_really_mapped(len, page_size))
    }),
    ("find_all_through_mapping", |args| {
        let (path, pattern) = (args.path()?, args.bytes()?);
        install_mapping_only()?;
        io_result(exercises::find_all_through_mapping(&path, &pattern))
    }),
];
