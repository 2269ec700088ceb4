//! A zip archive of stored (uncompressed) files, enough for Gradescope's
//! autograder upload; keeps each file's Unix mode so scripts stay executable,
//! and marks names as UTF-8 (general purpose flag bit 11), so `héllo.txt`
//! reads back as `héllo.txt`, not in the old DOS code page.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tooling::Result;

/// General purpose flag bit 11: the name (and comment) are UTF-8.
const UTF8_NAMES: u16 = 1 << 11;

/// The zip of `entries` (paths relative to `root`, files only).
pub fn store(root: &Path, entries: &[PathBuf]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let path = root.join(entry);
        let data = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mode = fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .permissions()
            .mode();
        let name = entry.to_string_lossy().into_owned();
        let size = u32::try_from(data.len())
            .map_err(|_| format!("{} is too large for a zip", path.display()))?;
        let offset = u32::try_from(out.len()).map_err(|_| "the zip would be too large")?;
        let crc = crc32(&data);
        let name_len = u16::try_from(name.len()).map_err(|_| format!("{name}: name too long"))?;
        // Local file header, then the data.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for half in [20u16, UTF8_NAMES, 0, 0, 0x21] {
            out.extend_from_slice(&half.to_le_bytes()); // version, flags, stored, time, date
        }
        for word in [crc, size, size] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        // Its central directory record: made by Unix (3), mode in the high half.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for half in [(3u16 << 8) | 20, 20, UTF8_NAMES, 0, 0, 0x21] {
            central.extend_from_slice(&half.to_le_bytes());
        }
        for word in [crc, size, size] {
            central.extend_from_slice(&word.to_le_bytes());
        }
        for half in [name_len, 0, 0, 0, 0] {
            central.extend_from_slice(&half.to_le_bytes());
        }
        central.extend_from_slice(&((mode & 0xffff) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(entries.len()).map_err(|_| "too many files for a zip")?;
    let central_at = u32::try_from(out.len()).map_err(|_| "the zip would be too large")?;
    let central_len = u32::try_from(central.len()).map_err(|_| "the zip would be too large")?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for half in [0u16, 0, count, count] {
        out.extend_from_slice(&half.to_le_bytes());
    }
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&central_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

/// CRC-32 (IEEE), as zip uses it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_zip_is_read_back_by_another_program() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("run"), "#!/bin/sh\necho hi\n").unwrap();
        fs::set_permissions(dir.path().join("run"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.path().join("sub/data"), [0u8, 1, 2, 255]).unwrap();
        fs::write(dir.path().join("héllo.txt"), "é").unwrap();
        let entries = [
            PathBuf::from("run"),
            PathBuf::from("sub/data"),
            PathBuf::from("héllo.txt"),
        ];
        let zip = store(dir.path(), &entries).unwrap();
        // Every local header says its name is UTF-8 (flag bit 11), here
        // where no reader is needed: the first is at offset 0.
        assert_eq!(&zip[..4], b"PK\x03\x04");
        assert_ne!(u16::from_le_bytes([zip[6], zip[7]]) & UTF8_NAMES, 0);
        let path = dir.path().join("out.zip");
        fs::write(&path, zip).unwrap();
        let checker = "import sys, zipfile\n\
            z = zipfile.ZipFile(sys.argv[1])\n\
            assert z.testzip() is None\n\
            assert z.read('sub/data') == bytes([0, 1, 2, 255])\n\
            assert (z.getinfo('run').external_attr >> 16) & 0o777 == 0o755\n\
            assert z.read('h\\u00e9llo.txt') == '\\u00e9'.encode()\n\
            print(ascii(z.namelist()))\n";
        match std::process::Command::new("python3")
            .args(["-c", checker])
            .arg(&path)
            .output()
        {
            Ok(output) => {
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                assert_eq!(
                    String::from_utf8_lossy(&output.stdout).trim(),
                    r"['run', 'sub/data', 'h\xe9llo.txt']"
                );
            }
            Err(_) => eprintln!("python3 is not installed: the zip was not read back"),
        }
    }
}
