//! Allow-list globs: whole-string, case-sensitive, `*` and `?` never match
//! `/`.

/// Whole-string glob match; `*` (any run) and `?` (one character) never
/// match `/`; every other character is literal.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    // `row[j]`: the pattern read so far matches the first `j` value chars.
    let mut row = vec![false; value.len() + 1];
    row[0] = true;
    for p in &pattern {
        let mut next = vec![false; value.len() + 1];
        match p {
            '*' => {
                next[0] = row[0];
                for j in 1..=value.len() {
                    next[j] = row[j] || (value[j - 1] != '/' && next[j - 1]);
                }
            }
            '?' => {
                for j in 1..=value.len() {
                    next[j] = row[j - 1] && value[j - 1] != '/';
                }
            }
            literal => {
                for j in 1..=value.len() {
                    next[j] = row[j - 1] && value[j - 1] == *literal;
                }
            }
        }
        row = next;
    }
    row[value.len()]
}
