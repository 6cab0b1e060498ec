//! The table a cluster bench prints: one row per figure, leasebox's series
//! against the peer's, with the ratio and its target.

use std::time::Duration;

use super::Summary;

/// One line of the table: leasebox's series against the peer's.
pub struct Row {
    pub id: &'static str,
    pub what: &'static str,
    pub leasebox: Summary,
    pub peer: Summary,
    pub ratio: f64,
    pub target: f64,
}

impl Row {
    pub fn new(
        id: &'static str,
        what: &'static str,
        leasebox: &[Duration],
        peer: &[Duration],
        target: f64,
    ) -> Row {
        let leasebox = Summary::of(leasebox);
        let peer = Summary::of(peer);
        Row {
            id,
            what,
            ratio: super::ratio(&leasebox, &peer),
            leasebox,
            peer,
            target,
        }
    }
}

/// Prints `rows` as the table of a bench, then what each row is.
pub fn print_table(rows: &[Row]) {
    println!(
        "{:<9} | {:<28} | {:<28} | {:>6} | {:>7} | met?",
        "id", "leasebox median [min–max]", "kubectl median [min–max]", "ratio", "target"
    );
    println!("{}", "-".repeat(98));
    for row in rows {
        println!(
            "{:<9} | {:<28} | {:<28} | {:>5.2}x | <= {:>3.1}x | {}",
            row.id,
            row.leasebox.display(),
            row.peer.display(),
            row.ratio,
            row.target,
            if row.ratio <= row.target { "yes" } else { "no" }
        );
    }
    println!();
    for row in rows {
        println!(
            "{}: {} ({} samples each)",
            row.id, row.what, row.leasebox.samples
        );
    }
}
