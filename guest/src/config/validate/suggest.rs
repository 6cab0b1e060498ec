//! "Did you mean" for unknown fields: the valid field closest to a typo.

/// The valid field an unknown one was probably meant to be.
pub(super) fn suggestion<'f>(unknown: &str, fields: &[&'f str]) -> Option<&'f str> {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let wanted = squash(unknown);
    if let Some(f) = fields.iter().find(|f| squash(f) == wanted) {
        return Some(f);
    }
    if unknown.len() < 4 {
        return None;
    }
    fields
        .iter()
        .map(|f| (edit_distance(&squash(f), &wanted), *f))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::schema_lists::TOP_FIELDS;
    use rstest::rstest;

    #[rstest]
    #[case::snake_case("in_cluster", Some("inCluster"))]
    #[case::wrong_case("namespaceprefix", Some("namespacePrefix"))]
    #[case::typo("egresMode", Some("egressMode"))]
    #[case::unrelated("colour", None)]
    fn unknown_field_suggests_the_closest_valid_one(
        #[case] unknown: &str,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(suggestion(unknown, TOP_FIELDS), expected);
    }
}
