//! What a checker reads from outside the runner, in `/proc`: which shm
//! objects it holds open.

/// The shm objects process `pid` has open now: (descriptor, name, flags).
pub fn open_shm_objects(pid: nix::unistd::Pid) -> Vec<(String, String, u32)> {
    let dir = format!("/proc/{pid}/fd");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let fd = entry.file_name().to_string_lossy().into_owned();
        let Ok(link) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let link = link.to_string_lossy().into_owned();
        if let Some(name) = link.strip_prefix("/dev/shm") {
            let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
                .unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .unwrap_or(0);
            found.push((fd, name.to_owned(), flags));
        }
    }
    found
}
