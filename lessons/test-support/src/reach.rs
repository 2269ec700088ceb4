//! Places another user can reach. As root, the tests run a lesson as
//! `nobody`, and the grader runs each test as a throwaway user; neither can
//! pass through a directory with mode 0700, such as root's home or one made
//! by `mktemp -d`, where a checkout (or TMPDIR) often lives in a container.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Whether every directory on the way to `path` (and `path` itself) lets
/// other users through: each has the execute bit for others.
pub fn reachable_by_others(path: &Path) -> bool {
    let Ok(real) = std::fs::canonicalize(path) else {
        return false;
    };
    real.ancestors().all(|dir| {
        std::fs::metadata(dir)
            .is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o001 != 0)
    })
}

/// Where to make a directory for another user: TMPDIR when other users can
/// reach it, else `/tmp`, else `/dev/shm`; `None` when none of them is.
pub fn temp_base_for_others() -> Option<PathBuf> {
    let tmpdir = std::env::temp_dir();
    [tmpdir, PathBuf::from("/tmp"), PathBuf::from("/dev/shm")]
        .into_iter()
        .find(|dir| reachable_by_others(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_0700_directory_stops_others_and_0755_does_not() {
        let base = tempfile::Builder::new()
            .tempdir_in(temp_base_for_others().expect("a reachable /tmp or /dev/shm"))
            .unwrap();
        let inner = base.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert!(reachable_by_others(&inner));
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        assert!(!reachable_by_others(&inner));
        assert!(!reachable_by_others(&base.path().join("missing")));
    }
}
