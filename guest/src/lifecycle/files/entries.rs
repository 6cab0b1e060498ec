//! The records of the stat and list scripts (`scripts::PRELUDE`'s
//! `record`), read back as [`FileEntry`]s: `<mode-hex> <size> <mtime>`,
//! the name and the link target, each ended by a NUL byte.

use crate::lease::{FileEntry, FileType};

/// `S_IFMT` and the kinds of `st_mode` that the contract names.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// The entries of `output`, each named by `path_of(name)`; an error names
/// what did not read.
pub(crate) fn parse(
    output: &[u8],
    path_of: impl Fn(&str) -> String,
) -> Result<Vec<FileEntry>, String> {
    let mut fields: Vec<&[u8]> = output.split(|b| *b == 0).collect();
    // The output ends with a NUL, which leaves one empty piece.
    if fields.last().is_some_and(|last| last.is_empty()) {
        fields.pop();
    }
    if !fields.len().is_multiple_of(3) {
        return Err(format!(
            "{} NUL-separated fields, not records of three",
            fields.len()
        ));
    }
    fields
        .chunks(3)
        .map(|record| entry(record[0], record[1], record[2], &path_of))
        .collect()
}

fn entry(
    stat: &[u8],
    name: &[u8],
    link: &[u8],
    path_of: &impl Fn(&str) -> String,
) -> Result<FileEntry, String> {
    let stat = String::from_utf8_lossy(stat);
    let mut words = stat.split_whitespace();
    let (Some(mode), Some(size), Some(modified), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(format!("`{stat}` is not `<mode> <size> <mtime>`"));
    };
    let mode = u32::from_str_radix(mode, 16).map_err(|_| format!("mode `{mode}` is not hex"))?;
    let size = size
        .parse::<u64>()
        .map_err(|_| format!("size `{size}` is not a number"))?;
    let modified = modified
        .parse::<i64>()
        .map_err(|_| format!("mtime `{modified}` is not a number"))?;
    let file_type = match mode & S_IFMT {
        S_IFREG => FileType::File,
        S_IFDIR => FileType::Directory,
        S_IFLNK => FileType::Symlink,
        _ => FileType::Other,
    };
    // `readlink` ends its line with a newline, which is not the target's.
    let link = link.strip_suffix(b"\n").unwrap_or(link);
    Ok(FileEntry {
        path: path_of(&String::from_utf8_lossy(name)),
        file_type,
        size,
        mode: mode & 0o7777,
        modified,
        link_target: (file_type == FileType::Symlink)
            .then(|| String::from_utf8_lossy(link).into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn in_workspace(name: &str) -> String {
        format!("/workspace/{name}")
    }

    #[test]
    fn regular_file_directory_and_link_read_back() {
        let output = b"81a4 3 1796652891\0f\0\0\
                       41ed 4096 1796652000\0d\0\0\
                       a1ff 4 1796652891\0l\0/etc\n\0";
        let entries = parse(output, in_workspace).expect("parsed");
        assert_eq!(
            entries,
            [
                FileEntry {
                    path: "/workspace/f".into(),
                    file_type: FileType::File,
                    size: 3,
                    mode: 0o644,
                    modified: 1796652891,
                    link_target: None,
                },
                FileEntry {
                    path: "/workspace/d".into(),
                    file_type: FileType::Directory,
                    size: 4096,
                    mode: 0o755,
                    modified: 1796652000,
                    link_target: None,
                },
                FileEntry {
                    path: "/workspace/l".into(),
                    file_type: FileType::Symlink,
                    size: 4,
                    mode: 0o777,
                    modified: 1796652891,
                    link_target: Some("/etc".into()),
                },
            ]
        );
    }

    #[rstest]
    #[case::newline_in_the_name("a\nb", "x")]
    #[case::spaces_and_quotes("a 'b' \"c\"", "x")]
    #[case::leading_dash("-rf", "x")]
    #[case::link_target_with_newlines("l", "two\nlines\n")]
    #[case::backslashes_and_globs("\\*?[a]", "x")]
    fn hostile_names_and_targets_round_trip(#[case] name: &str, #[case] target: &str) {
        let mut output = b"a1ff 4 1\0".to_vec();
        output.extend_from_slice(name.as_bytes());
        output.push(0);
        output.extend_from_slice(target.as_bytes());
        output.extend_from_slice(b"\n\0");
        let entries = parse(&output, in_workspace).expect("parsed");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, format!("/workspace/{name}"));
        assert_eq!(entries[0].link_target.as_deref(), Some(target));
    }

    #[test]
    fn setuid_and_sticky_bits_stay_in_the_mode() {
        let entries = parse(b"43ff 4096 1\0tmp\0\0", in_workspace).expect("parsed");
        assert_eq!(entries[0].mode, 0o1777);
        assert_eq!(entries[0].file_type, FileType::Directory);
    }

    #[rstest]
    #[case::two_fields(b"81a4 3 1\0f\0".as_slice())]
    #[case::bad_mode(b"zz 3 1\0f\0\0".as_slice())]
    #[case::missing_mtime(b"81a4 3\0f\0\0".as_slice())]
    fn malformed_records_are_errors_not_guesses(#[case] output: &[u8]) {
        assert!(parse(output, in_workspace).is_err());
    }

    #[test]
    fn empty_directory_is_no_entries() {
        assert_eq!(parse(b"", in_workspace), Ok(Vec::new()));
    }
}
