//! Kubernetes resource quantities (`250m`, `2`, `512Mi`, `1e3`).
//!
//! The grammar is the one of `k8s.io/apimachinery/pkg/api/resource`:
//! a non-negative decimal number (`2`, `0.5`, `.5`, `1.`) followed by a
//! binary suffix (`Ki` .. `Ei`), a decimal suffix (`m`, `k`, `M` .. `E`) or
//! a decimal exponent (`e3`, `E-2`). Negative quantities are refused: no
//! configuration value of leasebox can be negative.

use std::fmt;

/// What a valid quantity looks like, appended to every parse error.
const HINT: &str = "write a non-negative number with an optional suffix, like `250m`, `2`, \
                    `0.5`, `512Mi`, `4Gi` or `1e3`";

/// Longest accepted number (digits before and after the point): enough for
/// any real resource amount, small enough that the milli value fits `i128`.
const MAX_DIGITS: usize = 24;

/// Largest accepted decimal exponent magnitude (`1e18` is an exabyte).
const MAX_EXPONENT: i32 = 24;

/// A parsed quantity, in thousandths of the base unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    /// Value × 1000 (so `250m` is 250 and `1Ki` is 1_024_000).
    pub milli: i128,
}

/// The multiplier a suffix stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// `10^n` (`m` is `10^-3`, `k` is `10^3`, `e3` is `10^3`).
    Decimal(i32),
    /// `2^n` (`Ki` is `2^10`).
    Binary(u32),
}

impl Quantity {
    /// Parses a quantity.
    ///
    /// Values finer than a thousandth are rounded up, as Kubernetes does
    /// (`0.0001` is `1m`).
    pub fn parse(s: &str) -> Result<Quantity, String> {
        let bad = |why: &str| format!("`{s}` is not a valid quantity ({why}): {HINT}");
        if s.is_empty() {
            return Err(format!("the quantity is empty: {HINT}"));
        }
        if s.starts_with('-') {
            return Err(bad("negative quantities are not allowed"));
        }
        let body = s.strip_prefix('+').unwrap_or(s);
        let number_len = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let (number, suffix) = body.split_at(number_len);
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number, ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad("it does not start with a number"));
        }
        if fraction.contains('.') {
            return Err(bad("more than one decimal point"));
        }
        if whole.len() + fraction.len() > MAX_DIGITS {
            return Err(bad("too many digits"));
        }
        let scale = parse_suffix(suffix).map_err(|why| bad(&why))?;
        let mut mantissa: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa * 10 + i128::from(digit - b'0');
        }
        let fraction_digits = i32::try_from(fraction.len()).map_err(|_| bad("too many digits"))?;
        to_milli(mantissa, fraction_digits, scale)
            .map(|milli| Quantity { milli })
            .ok_or_else(|| bad("too large"))
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.milli == 0
    }
}

impl fmt::Display for Quantity {
    /// Renders the value in base units (`0.25`, `2`, `536870912`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.milli / 1000;
        let rest = self.milli % 1000;
        if rest == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{rest:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// The scale of a suffix: empty, decimal SI, binary SI or a decimal exponent.
fn parse_suffix(suffix: &str) -> Result<Scale, String> {
    let scale = match suffix {
        "" => Scale::Decimal(0),
        "m" => Scale::Decimal(-3),
        "k" => Scale::Decimal(3),
        "M" => Scale::Decimal(6),
        "G" => Scale::Decimal(9),
        "T" => Scale::Decimal(12),
        "P" => Scale::Decimal(15),
        "E" => Scale::Decimal(18),
        "Ki" => Scale::Binary(10),
        "Mi" => Scale::Binary(20),
        "Gi" => Scale::Binary(30),
        "Ti" => Scale::Binary(40),
        "Pi" => Scale::Binary(50),
        "Ei" => Scale::Binary(60),
        _ => {
            let exponent = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))
                .ok_or_else(|| format!("unknown suffix `{suffix}`"))?;
            let digits = exponent
                .strip_prefix('+')
                .or_else(|| exponent.strip_prefix('-'))
                .unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3
            {
                return Err(format!("unknown suffix `{suffix}`"));
            }
            let magnitude: i32 = digits
                .parse()
                .map_err(|_| format!("unknown suffix `{suffix}`"))?;
            if magnitude > MAX_EXPONENT {
                return Err(format!("exponent `{suffix}` is out of range"));
            }
            if exponent.starts_with('-') {
                Scale::Decimal(-magnitude)
            } else {
                Scale::Decimal(magnitude)
            }
        }
    };
    Ok(scale)
}

/// `mantissa × 10^-fraction_digits × scale × 1000`, rounded up; `None` on
/// overflow.
fn to_milli(mantissa: i128, fraction_digits: i32, scale: Scale) -> Option<i128> {
    let mut numerator = mantissa.checked_mul(1000)?;
    let mut ten_power = -fraction_digits;
    match scale {
        Scale::Decimal(n) => ten_power += n,
        Scale::Binary(n) => numerator = numerator.checked_mul(1i128.checked_shl(n)?)?,
    }
    let mut denominator: i128 = 1;
    if ten_power >= 0 {
        numerator = numerator.checked_mul(10i128.checked_pow(ten_power.unsigned_abs())?)?;
    } else {
        denominator = 10i128.checked_pow(ten_power.unsigned_abs())?;
    }
    let quotient = numerator / denominator;
    if numerator % denominator == 0 {
        Some(quotient)
    } else {
        quotient.checked_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain_integer("2", 2_000)]
    #[case::zero("0", 0)]
    #[case::millis("250m", 250)]
    #[case::fraction("0.5", 500)]
    #[case::leading_point(".5", 500)]
    #[case::trailing_point("1.", 1_000)]
    #[case::plus_sign("+1", 1_000)]
    #[case::kilo("1k", 1_000_000)]
    #[case::mega("3M", 3_000_000_000)]
    #[case::giga("1G", 1_000_000_000_000)]
    #[case::tera("1T", 1_000_000_000_000_000)]
    #[case::peta("1P", 1_000_000_000_000_000_000)]
    #[case::exa("1E", 1_000_000_000_000_000_000_000)]
    #[case::kibi("1Ki", 1_024_000)]
    #[case::mebi("512Mi", 512 * 1_048_576 * 1000)]
    #[case::gibi("4Gi", 4 * 1_073_741_824 * 1000)]
    #[case::fractional_gibi("1.5Gi", 1_610_612_736_000)]
    #[case::tebi("1Ti", (1i128 << 40) * 1000)]
    #[case::pebi("1Pi", (1i128 << 50) * 1000)]
    #[case::exbi("1Ei", (1i128 << 60) * 1000)]
    #[case::exponent("1e3", 1_000_000)]
    #[case::upper_exponent("2E2", 200_000)]
    #[case::negative_exponent("5e-1", 500)]
    #[case::plus_exponent("1e+3", 1_000_000)]
    #[case::sub_milli_rounds_up("0.0001", 1)]
    #[case::fractional_millis_round_up("1.5m", 2)]
    fn parses_valid_quantities(#[case] text: &str, #[case] milli: i128) {
        assert_eq!(Quantity::parse(text), Ok(Quantity { milli }));
    }

    #[rstest]
    #[case::empty("", "empty")]
    #[case::negative("-1", "negative")]
    #[case::no_number("Gi", "number")]
    #[case::only_point(".", "number")]
    #[case::two_points("1.2.3", "decimal point")]
    #[case::unknown_suffix("1GB", "suffix")]
    #[case::lowercase_binary("1gi", "suffix")]
    #[case::space_inside("1 Gi", "suffix")]
    #[case::exponent_without_digits("1e", "suffix")]
    #[case::exponent_with_fraction("1e1.5", "suffix")]
    #[case::huge_exponent("1e99", "out of range")]
    #[case::too_many_digits("1234567890123456789012345", "digits")]
    fn rejects_invalid_quantities(#[case] text: &str, #[case] word: &str) {
        let err = Quantity::parse(text).err().unwrap_or_default();
        assert!(err.contains(word), "{text:?}: {err}");
        assert!(err.contains("like `250m`"), "{text:?} has no hint: {err}");
    }

    #[test]
    fn binary_and_decimal_forms_compare_by_value() {
        let a = Quantity::parse("1Gi").ok();
        let b = Quantity::parse("1G").ok();
        assert!(a > b);
        assert_eq!(Quantity::parse("1000m"), Quantity::parse("1"));
        assert_eq!(Quantity::parse("1e3"), Quantity::parse("1k"));
    }

    #[rstest]
    #[case::whole("2", "2")]
    #[case::millis("250m", "0.25")]
    #[case::binary("1Ki", "1024")]
    fn displays_in_base_units(#[case] text: &str, #[case] shown: &str) {
        let q = Quantity::parse(text).map(|q| q.to_string());
        assert_eq!(q.as_deref(), Ok(shown));
    }
}
