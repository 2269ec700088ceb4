//! The canonical hex+ASCII dump, byte for byte the layout of `hexdump -C`.

use std::fmt::Write;

/// Formats `bytes` the way `hexdump -C` does: an 8-digit hex offset, sixteen
/// bytes in two groups of eight, the printable ASCII between `|` bars, and a
/// final line with the total length. Like `hexdump -C`, a line identical to
/// the one before it is shown once as `*`; empty input gives an empty string.
pub fn canonical(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut previous: Option<&[u8]> = None;
    let mut squeezing = false;
    for (index, line) in bytes.chunks(16).enumerate() {
        if line.len() == 16 && previous == Some(line) {
            if !squeezing {
                out.push_str("*\n");
                squeezing = true;
            }
            continue;
        }
        squeezing = false;
        previous = Some(line);
        write_line(&mut out, index * 16, line);
    }
    if !bytes.is_empty() {
        let _ = writeln!(out, "{:08x}", bytes.len());
    }
    out
}

fn write_line(out: &mut String, offset: usize, line: &[u8]) {
    let _ = write!(out, "{offset:08x} ");
    for column in 0..16 {
        if column == 8 {
            out.push(' ');
        }
        match line.get(column) {
            Some(byte) => {
                let _ = write!(out, " {byte:02x}");
            }
            None => out.push_str("   "),
        }
    }
    out.push_str("  |");
    out.extend(line.iter().map(|&b| {
        if b.is_ascii_graphic() || b == b' ' {
            b as char
        } else {
            '.'
        }
    }));
    out.push_str("|\n");
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn empty_input_prints_nothing() {
        assert_eq!(canonical(&[]), "");
    }

    #[test]
    fn one_byte() {
        assert_eq!(
            canonical(b"A"),
            "00000000  41                                                |A|\n00000001\n"
        );
    }

    #[test]
    fn sixteen_bytes_fill_exactly_one_line() {
        let bytes: Vec<u8> = (b'a'..=b'p').collect();
        assert_eq!(
            canonical(&bytes),
            "00000000  61 62 63 64 65 66 67 68  69 6a 6b 6c 6d 6e 6f 70  |abcdefghijklmnop|\n\
             00000010\n"
        );
    }

    #[test]
    fn seventeen_bytes_start_a_second_line() {
        let mut bytes = vec![0u8; 16];
        bytes.push(0x7f);
        assert_eq!(
            canonical(&bytes),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             00000010  7f                                                |.|\n\
             00000011\n"
        );
    }

    #[test]
    fn the_seed_programs_41_bytes() {
        let mut bytes = vec![0u8; 41];
        bytes[..4].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        bytes[4..8].copy_from_slice(&0xdead_c0deu32.to_le_bytes());
        bytes[40] = b'A';
        assert_eq!(
            canonical(&bytes),
            "00000000  78 56 34 12 de c0 ad de  00 00 00 00 00 00 00 00  |xV4.............|\n\
             00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             00000020  00 00 00 00 00 00 00 00  41                       |........A|\n\
             00000029\n"
        );
    }

    #[test]
    fn repeated_lines_are_squeezed_into_one_star() {
        let bytes = vec![0u8; 64];
        assert_eq!(
            canonical(&bytes),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             00000040\n"
        );
    }

    #[test]
    fn space_is_printable_but_tab_and_high_bytes_are_dots() {
        let dump = canonical(b"a\tb\x7f\x80~ ");
        assert!(dump.ends_with("|a.b..~ |\n00000007\n"), "{dump}");
    }

    /// When the real tool is installed, agree with it on an awkward input.
    #[test]
    fn agrees_with_hexdump_c_when_it_is_installed() {
        let mut bytes: Vec<u8> = (0..=255).collect();
        bytes.extend([0u8; 48]);
        bytes.extend(b"tail");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &bytes).unwrap();
        let output = std::process::Command::new("hexdump")
            .arg("-C")
            .arg(file.path())
            .output();
        match output {
            Ok(output) if output.status.success() => {
                assert_eq!(
                    canonical(&bytes),
                    String::from_utf8(output.stdout).unwrap()
                );
            }
            _ => eprintln!(
                "hexdump(1) is not installed; compared against fixed expectations only"
            ),
        }
    }
}
