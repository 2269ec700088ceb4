//! Passes the opt-level this package is built with to its code, so that the
//! lesson can refuse to print a speed measured in unoptimised code.
//! (`cfg!(debug_assertions)` says nothing about optimisation: a release
//! build may keep debug assertions, and a dev build may be optimised, as the
//! workspace's `[profile.dev.package.page-cache]` makes this one.)

fn main() {
    let level = std::env::var("OPT_LEVEL").unwrap_or_else(|_| "unknown".into());
    println!("cargo::rustc-env=PAGE_CACHE_OPT_LEVEL={level}");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
}
