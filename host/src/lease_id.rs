//! Lease ids: `lb-` + a 26-character lowercase Crockford-base32 ULID
//! (48-bit millisecond timestamp, then 80 random bits), so ids sort by
//! creation time and never repeat in practice.

use std::time::{SystemTime, UNIX_EPOCH};

/// Prefix of every lease id.
pub const PREFIX: &str = "lb-";

/// Crockford's base32 alphabet, lowercased (no i, l, o, u).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Why a lease id could not be minted.
#[derive(Debug, thiserror::Error)]
#[error("failed to mint a lease id: the system random source failed: {0}")]
pub struct MintError(String);

/// Mints a new lease id from the current time and the system's random
/// source.
pub fn mint() -> Result<String, MintError> {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut random = [0u8; 10];
    getrandom::fill(&mut random).map_err(|e| MintError(e.to_string()))?;
    Ok(format(millis, random))
}

/// The lease id of a ULID made of `millis` (only the low 48 bits are used)
/// and `random`.
pub fn format(millis: u128, random: [u8; 10]) -> String {
    let mut value: u128 = (millis & 0xffff_ffff_ffff) << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= u128::from(*byte) << (8 * (9 - i));
    }
    let mut id = String::with_capacity(PREFIX.len() + 26);
    id.push_str(PREFIX);
    // 26 digits of 5 bits = 130 bits; the first digit carries the top 3.
    for digit in (0..26).rev() {
        let index = ((value >> (5 * digit)) & 0x1f) as usize;
        id.push(char::from(ALPHABET[index]));
    }
    id
}

/// Whether `id` has the shape of a lease id.
pub fn is_valid(id: &str) -> bool {
    let Some(ulid) = id.strip_prefix(PREFIX) else {
        return false;
    };
    ulid.len() == 26 && ulid.bytes().all(|b| ALPHABET.contains(&b)) && ulid.as_bytes()[0] <= b'7'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_id_is_lb_and_26_crockford_chars() {
        let id = mint().expect("random source works");
        assert!(is_valid(&id), "{id}");
        assert_eq!(id.len(), 29);
    }

    #[test]
    fn two_minted_ids_differ() {
        assert_ne!(mint().ok(), mint().ok());
    }

    #[test]
    fn zero_ulid_is_all_zeros() {
        assert_eq!(format(0, [0; 10]), "lb-00000000000000000000000000");
    }

    #[test]
    fn all_ones_ulid_is_the_largest_ulid() {
        assert_eq!(
            format(0xffff_ffff_ffff, [0xff; 10]),
            "lb-7zzzzzzzzzzzzzzzzzzzzzzzzz"
        );
    }

    #[test]
    fn timestamp_fills_the_first_ten_characters() {
        // 1469918176385 ms is the example of the ULID specification.
        let id = format(1_469_918_176_385, [0; 10]);
        assert_eq!(&id[3..13], "01aryz6s41");
    }

    #[test]
    fn ids_sort_by_time() {
        assert!(format(1000, [0xff; 10]) < format(1001, [0; 10]));
    }

    #[test]
    fn uppercase_is_not_a_lease_id() {
        assert!(!is_valid("lb-01ARYPKK410000000000000000"));
    }
}
