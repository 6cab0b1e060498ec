//! A line diff (longest common subsequence) for golden-file failures.

#![allow(dead_code)]

/// Lines of context kept around each change.
const CONTEXT: usize = 3;

/// One line of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// A unified-style diff from `expected` to `actual` (`-` expected only,
/// `+` actual only), with a few lines of context; empty when equal.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    let lines = diff_lines(&old, &new);
    if lines.iter().all(|l| matches!(l, Line::Same(_))) {
        return String::new();
    }
    let near_change: Vec<bool> = (0..lines.len())
        .map(|i| {
            let from = i.saturating_sub(CONTEXT);
            let to = (i + CONTEXT + 1).min(lines.len());
            lines[from..to].iter().any(|l| !matches!(l, Line::Same(_)))
        })
        .collect();
    let mut out = String::new();
    let mut old_line = 1;
    let mut new_line = 1;
    let mut skipped = false;
    for (line, keep) in lines.iter().zip(near_change) {
        if keep {
            if skipped || out.is_empty() {
                out.push_str(&format!(
                    "@@ expected line {old_line}, actual line {new_line} @@\n"
                ));
                skipped = false;
            }
            match line {
                Line::Same(text) => out.push_str(&format!(" {text}\n")),
                Line::Removed(text) => out.push_str(&format!("-{text}\n")),
                Line::Added(text) => out.push_str(&format!("+{text}\n")),
            }
        } else {
            skipped = true;
        }
        match line {
            Line::Same(_) => {
                old_line += 1;
                new_line += 1;
            }
            Line::Removed(_) => old_line += 1,
            Line::Added(_) => new_line += 1,
        }
    }
    out
}

/// The edit script of a longest common subsequence of the two line lists.
fn diff_lines<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Line<'a>> {
    // lcs[i][j]: length of an LCS of old[i..] and new[j..].
    let mut lcs = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(old.len().max(new.len()));
    while i < old.len() && j < new.len() {
        if old[i] == new[j] {
            out.push(Line::Same(old[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(Line::Removed(old[i]));
            i += 1;
        } else {
            out.push(Line::Added(new[j]));
            j += 1;
        }
    }
    out.extend(old[i..].iter().map(|l| Line::Removed(l)));
    out.extend(new[j..].iter().map(|l| Line::Added(l)));
    out
}
