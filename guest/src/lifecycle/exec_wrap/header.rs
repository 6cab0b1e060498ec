//! What reaches the wrapper on stdin, and how it is spelled: the env
//! header (names checked as shell identifiers, values as `printf %b`
//! octal escapes) and the frames of the caller's stdin.

use super::scripts::RESERVED_PREFIX;
use crate::error::PolicyError;
use crate::lease::EnvVar;

/// True for a shell identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_shell_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks env names and values: names are shell identifiers outside the
/// wrapper's own prefix, values hold no NUL byte (no environment can).
pub fn check_env(env: &[EnvVar]) -> Result<(), PolicyError> {
    for var in env {
        if !is_shell_identifier(&var.name) {
            return Err(PolicyError::BadRequest(format!(
                "env `{}`: not a shell identifier; use letters, digits and `_`, not starting \
                 with a digit",
                var.name
            )));
        }
        if var.name.starts_with(RESERVED_PREFIX) {
            return Err(PolicyError::BadRequest(format!(
                "env `{}`: names starting with `{RESERVED_PREFIX}` are reserved for the exec \
                 wrapper; rename the variable",
                var.name
            )));
        }
        if var.value.contains('\0') {
            return Err(PolicyError::BadRequest(format!(
                "env `{}`: the value contains a NUL byte, which no environment variable can \
                 hold; remove it",
                var.name
            )));
        }
    }
    Ok(())
}

/// One value as `printf %b` input: ASCII letters and digits as is, every
/// other byte as `\0NNN` (always three octal digits, so a following digit
/// is never taken into the escape).
pub fn encode_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("\\0{byte:03o}"));
        }
    }
    out
}

/// The stdin header: `NAME=<encoded>\n` per variable, then an empty line.
pub fn encode_header(env: &[EnvVar]) -> Vec<u8> {
    let mut header = String::new();
    for var in env {
        header.push_str(&var.name);
        header.push('=');
        header.push_str(&encode_value(&var.value));
        header.push('\n');
    }
    header.push('\n');
    header.into_bytes()
}

/// Frames `data` the way the host frames the caller's stdin: decimal
/// length, newline, bytes. An empty chunk is the end of input.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{}\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out
}
