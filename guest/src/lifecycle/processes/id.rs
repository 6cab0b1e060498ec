//! Process ids: `p-` and 16 lowercase base32 letters (80 random bits),
//! minted by the module from the random source WASI gives it (std's
//! `RandomState` is seeded from it). An id becomes a directory name in the
//! pod, so an id from a caller is checked before any exec.

use std::hash::BuildHasher;

use crate::error::PolicyError;

/// Prefix of every process id.
const PREFIX: &str = "p-";
/// Letters after the prefix.
const LETTERS: usize = 16;
/// RFC 4648 base32, lowercase.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new random process id.
pub(crate) fn mint() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let high = state.hash_one(1u8);
    let low = state.hash_one(2u8);
    let bits = (u128::from(high) << 64) | u128::from(low);
    let mut id = String::from(PREFIX);
    for i in 0..LETTERS {
        let index = (bits >> (5 * i)) & 0x1f;
        id.push(char::from(ALPHABET[index as usize]));
    }
    id
}

/// Checks an id a caller gave.
pub(crate) fn check(id: &str) -> Result<(), PolicyError> {
    let letters = id.strip_prefix(PREFIX).unwrap_or("");
    if letters.len() == LETTERS && letters.bytes().all(|b| ALPHABET.contains(&b)) {
        return Ok(());
    }
    Err(PolicyError::BadRequest(format!(
        "process `{id}`: not a process id; pass the id start-process or list-processes gave \
         (`p-` and 16 letters a-z or digits 2-7)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn minted_ids_are_valid_and_never_repeat() {
        let ids: std::collections::HashSet<String> = (0..256).map(|_| mint()).collect();
        assert_eq!(ids.len(), 256);
        for id in &ids {
            assert!(check(id).is_ok(), "{id}");
        }
    }

    #[rstest]
    #[case::path_traversal("p-../../etc/passwd")]
    #[case::uppercase("p-ABCDEFGHIJKLMNOP")]
    #[case::too_short("p-abc")]
    #[case::no_prefix("abcdefghijklmnopqr")]
    #[case::digit_outside_base32("p-abcdefghijklmno1")]
    #[case::empty("")]
    fn ids_that_are_no_process_id_are_bad_requests(#[case] id: &str) {
        assert!(matches!(check(id), Err(PolicyError::BadRequest(_))));
    }
}
