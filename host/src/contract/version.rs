//! The contract versions this host loads, and which of them a module's
//! version string is.

/// Package name of the contract.
pub const PACKAGE: &str = "leasebox:provider";

/// One version of the contract the host loads. Each has its bindings
/// module (`v0_4.rs`, `v0_3.rs`, `v0_2.rs`, `v0_1.rs`); a call on a policy module is one
/// `match` over this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contract {
    /// `leasebox:provider@0.4.0`, the current contract.
    V0_4,
    /// `leasebox:provider@0.3.0`, frozen (`wit/v0.3.0/`).
    V0_3,
    /// `leasebox:provider@0.2.0`, frozen (`wit/v0.2.0/`).
    V0_2,
    /// `leasebox:provider@0.1.0`, frozen (`wit/v0.1.0/`).
    V0_1,
}

impl Contract {
    /// The version the default module and new modules are built against.
    pub const CURRENT: Contract = Contract::V0_4;

    /// Every version the host loads, newest first.
    pub const ALL: [Contract; 4] = [
        Contract::V0_4,
        Contract::V0_3,
        Contract::V0_2,
        Contract::V0_1,
    ];

    /// `major.minor.patch`.
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_4 => "0.4.0",
            Contract::V0_3 => "0.3.0",
            Contract::V0_2 => "0.2.0",
            Contract::V0_1 => "0.1.0",
        }
    }

    /// The version `found` (a module's) is compatible with: same major and
    /// minor (the 0.x rule of semver: a minor bump is a break).
    pub fn matching(found: &str) -> Option<Contract> {
        Contract::ALL
            .into_iter()
            .find(|contract| same_minor(found, contract.version()))
    }

    /// Every version the host loads, for an error: `0.4.0, 0.3.0, 0.2.0, 0.1.0`.
    pub fn supported() -> String {
        Contract::ALL.map(Contract::version).join(", ")
    }
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.version())
    }
}

/// Whether two `major.minor.patch` versions share major and minor.
fn same_minor(a: &str, b: &str) -> bool {
    let key = |v: &str| {
        let mut parts = v.split('.');
        (
            parts.next().map(str::to_string),
            parts.next().map(str::to_string),
        )
    };
    let (a, b) = (key(a), key(b));
    a.0.is_some() && a.1.is_some() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_versions_are_compatible() {
        assert_eq!(Contract::matching("0.1.3"), Some(Contract::V0_1));
    }

    #[test]
    fn minor_bump_is_incompatible() {
        assert!(!same_minor("0.2.0", "0.1.0"));
        assert_eq!(Contract::matching("0.5.0"), None);
        assert_eq!(Contract::matching("0.3.2"), Some(Contract::V0_3));
        assert_eq!(Contract::matching("0.2.1"), Some(Contract::V0_2));
    }

    #[test]
    fn missing_version_is_incompatible() {
        assert_eq!(Contract::matching(""), None);
    }

    #[test]
    fn current_is_the_newest() {
        assert_eq!(Contract::ALL[0], Contract::CURRENT);
    }
}
