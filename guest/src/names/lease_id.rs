//! Lease ids: `lb-` + a 26-char lowercase Crockford base32 ULID. The host
//! mints them (`host/src/lease_id.rs`); a module only checks one.

/// Prefix of every lease id.
pub const LEASE_ID_PREFIX: &str = "lb-";
/// Length of the ULID part.
pub const ULID_LEN: usize = 26;
/// Lowercase Crockford base32 (no `i`, `l`, `o`, `u`).
pub const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Checks a lease id: `lb-` + 26 lowercase Crockford base32 characters.
pub fn check_lease_id(lease_id: &str) -> Result<(), String> {
    let expected = "expected `lb-` followed by 26 lowercase Crockford base32 characters \
                    (0-9 and a-z without i, l, o, u), the first at most `7`, \
                    e.g. `lb-01j9zsxk6q8m4v2r7t5w3y1n0c`";
    let Some(ulid) = lease_id.strip_prefix(LEASE_ID_PREFIX) else {
        return Err(format!("lease id `{lease_id}` is not valid: {expected}"));
    };
    if ulid.chars().count() != ULID_LEN {
        return Err(format!(
            "lease id `{lease_id}` is not valid: has {} characters after `lb-`; {expected}",
            ulid.chars().count()
        ));
    }
    let is_crockford = |c: char| c.is_ascii() && CROCKFORD.contains(&(c as u8));
    if let Some(bad) = ulid.chars().find(|c| !is_crockford(*c)) {
        return Err(format!(
            "lease id `{lease_id}` is not valid: `{bad}` is not lowercase Crockford base32; {expected}"
        ));
    }
    if ulid.as_bytes().first().is_some_and(|b| *b > b'7') {
        return Err(format!(
            "lease id `{lease_id}` is not valid: its ULID overflows 128 bits (first character above `7`); {expected}"
        ));
    }
    Ok(())
}
