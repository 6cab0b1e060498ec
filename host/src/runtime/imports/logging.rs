//! `leasebox:provider/logging`: hands the module's messages to the call's
//! logger.

use crate::contract::v0_4::leasebox::provider::logging::{Host, Level};
use crate::runtime::instance::HostState;

/// Longest message passed on; a module that logs megabytes is cut here.
const MAX_MESSAGE_BYTES: usize = 16 << 10;

impl Host for HostState {
    fn log(&mut self, level: Level, context: String, message: String) -> wasmtime::Result<()> {
        self.emit_log(level, cut(&context, 256), cut(&message, MAX_MESSAGE_BYTES));
        Ok(())
    }
}

/// The longest prefix of `text` of at most `max` bytes, on a char boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cut_never_splits_a_character() {
        assert_eq!(cut("aé", 2), "a");
    }

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(cut("abc", 16), "abc");
    }
}
