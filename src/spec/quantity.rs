//! Kubernetes `resource.Quantity`: "64Mi", "1Gi", "500M", "1e3", "250m", "0.5", "2".
//!
//! A quantity is held exactly as an integer number of nano-units (`i128`), plus the format it
//! was written in, so that it prints back in the same family of suffixes (k8s canonical form:
//! `1024Mi` → `1Gi`, `0.5` → `500m`, `1000m` → `1`). Precision finer than `1n` is rounded up,
//! as upstream does. Equality and ordering compare values only (`1Gi == 1073741824`).

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

const NANO: i128 = 1_000_000_000;

/// How a quantity was written; it decides the suffixes used when printing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
    BinarySI,
    /// `n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`.
    #[default]
    DecimalSI,
    /// `1e3`, `5E-3`.
    DecimalExponent,
}

/// A parsed quantity. See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

/// The upstream message, so users recognise it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Syntax,
    #[error("quantity is too large")]
    TooLarge,
}

fn pow10(k: u32) -> Option<i128> {
    10i128.checked_pow(k)
}

/// `m / 10^k`, rounded away from zero (upstream rounds sub-nano precision up).
fn div_pow10_up(m: i128, k: u32) -> i128 {
    match pow10(k) {
        Some(d) => {
            let q = m / d;
            if m % d == 0 {
                q
            } else {
                q + m.signum()
            }
        }
        None => m.signum(),
    }
}

impl Quantity {
    /// Parses the Kubernetes quantity syntax (no surrounding whitespace).
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        let b = s.as_bytes();
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &s[int_start..i];
        let mut frac_digits = "";
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let f = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            frac_digits = &s[f..i];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(QuantityError::Syntax);
        }
        let (format, exp10, bin_pow) = match &s[i..] {
            "" => (Format::DecimalSI, 0, 0),
            "n" => (Format::DecimalSI, -9, 0),
            "u" => (Format::DecimalSI, -6, 0),
            "m" => (Format::DecimalSI, -3, 0),
            "k" => (Format::DecimalSI, 3, 0),
            "M" => (Format::DecimalSI, 6, 0),
            "G" => (Format::DecimalSI, 9, 0),
            "T" => (Format::DecimalSI, 12, 0),
            "P" => (Format::DecimalSI, 15, 0),
            "E" => (Format::DecimalSI, 18, 0),
            "Ki" => (Format::BinarySI, 0, 10),
            "Mi" => (Format::BinarySI, 0, 20),
            "Gi" => (Format::BinarySI, 0, 30),
            "Ti" => (Format::BinarySI, 0, 40),
            "Pi" => (Format::BinarySI, 0, 50),
            "Ei" => (Format::BinarySI, 0, 60),
            suffix => {
                let rest = suffix.strip_prefix(['e', 'E']).ok_or(QuantityError::Syntax)?;
                let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(QuantityError::Syntax);
                }
                let e: i64 = rest.parse().map_err(|_| QuantityError::TooLarge)?;
                if !(-1000..=1000).contains(&e) {
                    return Err(QuantityError::TooLarge);
                }
                (Format::DecimalExponent, e, 0)
            }
        };
        // Mantissa: all digits, with trailing fraction zeros dropped so "1.000…0" cannot overflow.
        let frac = frac_digits.trim_end_matches('0');
        let mut mantissa: i128 = 0;
        for c in int_digits.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(c - b'0')))
                .ok_or(QuantityError::TooLarge)?;
        }
        mantissa = mantissa.checked_mul(1i128 << bin_pow).ok_or(QuantityError::TooLarge)?;
        // value = mantissa * 10^(exp10 - frac.len()); nanos = value * 10^9.
        let shift = exp10 + 9 - frac.len() as i64;
        let mut nanos = if shift >= 0 {
            let p = u32::try_from(shift).ok().and_then(pow10).ok_or(QuantityError::TooLarge);
            if mantissa == 0 {
                0
            } else {
                mantissa.checked_mul(p?).ok_or(QuantityError::TooLarge)?
            }
        } else {
            div_pow10_up(mantissa, u32::try_from(-shift).unwrap_or(u32::MAX))
        };
        if negative {
            nanos = -nanos;
        }
        Ok(Quantity { nanos, format })
    }

    /// An integer quantity (`2`, `512`), DecimalSI.
    pub fn from_int(v: i64) -> Self {
        Quantity { nanos: i128::from(v) * NANO, format: Format::DecimalSI }
    }

    /// A quantity of milli-units (`250` → `250m`), DecimalSI.
    pub fn from_millis(v: i64) -> Self {
        Quantity { nanos: i128::from(v) * 1_000_000, format: Format::DecimalSI }
    }

    /// The exact value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// `nanos / per_unit`, rounded away from zero.
    fn ceil_units(&self, per_unit: i128) -> i128 {
        self.nanos / per_unit + i128::from(self.nanos % per_unit != 0) * self.nanos.signum()
    }

    fn scaled_up(&self, per_unit: i128) -> i64 {
        let v = self.ceil_units(per_unit);
        i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
    }

    /// The value rounded up to an integer (upstream `Value()`), saturating. Memory → bytes.
    pub fn value(&self) -> i64 {
        self.scaled_up(NANO)
    }

    /// The value in thousandths, rounded up (upstream `MilliValue()`), saturating. CPU → millicores.
    pub fn milli_value(&self) -> i64 {
        self.scaled_up(1_000_000)
    }

    /// Bytes for a memory or storage quantity, rounded up: `None` when negative or above `u64::MAX`.
    pub fn bytes(&self) -> Option<u64> {
        u64::try_from(self.ceil_units(NANO)).ok()
    }

    /// Millicores for a CPU quantity, rounded up: `None` when negative or above `u64::MAX`.
    pub fn millicores(&self) -> Option<u64> {
        u64::try_from(self.ceil_units(1_000_000)).ok()
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

/// Largest `k` (up to `max`) such that `v` is divisible by `base^k`.
fn largest_power(v: i128, base: i128, max: u32) -> u32 {
    let mut k = 0;
    let mut d = 1i128;
    while k < max {
        match d.checked_mul(base) {
            Some(next) if v % next == 0 => {
                d = next;
                k += 1;
            }
            _ => break,
        }
    }
    k
}

impl fmt::Display for Quantity {
    /// The canonical form: the largest suffix of the quantity's family that keeps an integer
    /// mantissa. BinarySI values that are not whole numbers print as DecimalSI, like upstream.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        if self.format == Format::BinarySI && self.nanos % NANO == 0 {
            let units = self.nanos / NANO;
            let k = largest_power(units, 1024, 6);
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k as usize];
            return write!(f, "{}{}", units >> (10 * k), suffix);
        }
        // Decimal: exponent e in nano-units, a multiple of 3, at most 10^27 (= "E").
        let k = largest_power(self.nanos, 1000, 9);
        let Some(div) = pow10(3 * k) else { return write!(f, "{}n", self.nanos) };
        let mantissa = self.nanos / div;
        let exp = 3 * k as i64 - 9;
        if self.format == Format::DecimalExponent {
            return if exp == 0 { write!(f, "{mantissa}") } else { write!(f, "{mantissa}e{exp}") };
        }
        let suffix = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"][k as usize];
        write!(f, "{mantissa}{suffix}")
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct QuantityVisitor;

impl Visitor<'_> for QuantityVisitor {
    type Value = Quantity;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quantity such as \"64Mi\", \"250m\" or 2")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        Ok(Quantity::from_int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        Ok(Quantity { nanos: i128::from(v) * NANO, format: Format::DecimalSI })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("invalid value {v}: {}", QuantityError::Syntax)));
        }
        self.visit_str(&v.to_string())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        Quantity::parse(v).map_err(|e| E::custom(format!("invalid value {v:?}: {e}")))
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(QuantityVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn memory_suffixes() {
        assert_eq!(q("64Mi").bytes(), Some(64 << 20));
        assert_eq!(q("1Gi").bytes(), Some(1 << 30));
        assert_eq!(q("500M").bytes(), Some(500_000_000));
        assert_eq!(q("1e3").bytes(), Some(1000));
        assert_eq!(q("1E3").bytes(), Some(1000));
        assert_eq!(q("2").bytes(), Some(2));
        assert_eq!(q("1.5Gi").bytes(), Some(3 << 29));
        assert_eq!(q("8Ei").bytes(), Some(1 << 63));
        assert_eq!(q("0.5").bytes(), Some(1), "rounded up");
        assert_eq!(q("-1").bytes(), None);
    }

    #[test]
    fn cpu_millicores() {
        assert_eq!(q("250m").millicores(), Some(250));
        assert_eq!(q("0.5").millicores(), Some(500));
        assert_eq!(q(".5").millicores(), Some(500));
        assert_eq!(q("2").millicores(), Some(2000));
        assert_eq!(q("1.0001").millicores(), Some(1001), "rounded up");
        assert_eq!(q("100u").millicores(), Some(1));
        assert_eq!(q("+3").millicores(), Some(3000));
    }

    #[test]
    fn canonical_display() {
        for (input, want) in [
            ("1024Mi", "1Gi"),
            ("64Mi", "64Mi"),
            ("1536Mi", "1536Mi"),
            ("0.5", "500m"),
            ("1000m", "1"),
            ("250m", "250m"),
            ("1e3", "1e3"),
            ("1500", "1500"),
            ("1.5k", "1500"),
            ("12e6", "12e6"),
            ("0.5Ki", "512"),
            ("0.1Ki", "102400m"),
            ("0", "0"),
            ("0Mi", "0"),
            ("-1Gi", "-1Gi"),
            ("500M", "500M"),
            ("1n", "1n"),
            ("0.0000000001", "1n"),
            ("2000000k", "2G"),
            ("+5", "5"),
            ("5.", "5"),
            ("1e-3", "1e-3"),
        ] {
            assert_eq!(q(input).to_string(), want, "{input}");
        }
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in
            ["", " 1", "1 ", "Mi", "1MB", "1.2.3", "--1", "1e", "1e+", "1ei", "0x10", "1Ki2", ".", "-", "1e99999999999"]
        {
            assert!(Quantity::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Quantity::parse("99999999999999999999999999999999999999999"), Err(QuantityError::TooLarge));
        assert_eq!(Quantity::parse(&format!("1.{}", "0".repeat(10_000))).map(|q| q.value()), Ok(1));
        assert_eq!(Quantity::parse(&format!("{}1", "0".repeat(10_000))).map(|q| q.value()), Ok(1));
    }

    #[test]
    fn equality_is_by_value() {
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("1"), q("1000m"));
        assert!(q("500m") < q("1"));
        assert!(q("1Gi") > q("1G"));
    }

    #[test]
    fn serde_accepts_numbers_and_strings() {
        let v: Vec<Quantity> = serde_json::from_str(r#"["64Mi", 2, 0.5, -3]"#).unwrap();
        assert_eq!(v, vec![q("64Mi"), q("2"), q("500m"), q("-3")]);
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"["64Mi","2","500m","-3"]"#);
        let err = serde_json::from_str::<Quantity>(r#""64MB""#).unwrap_err().to_string();
        assert!(err.starts_with(r#"invalid value "64MB": quantities must match"#), "{err}");
        assert!(serde_json::from_str::<Quantity>("true").is_err());
    }

    /// A tiny xorshift generator: property tests without a proptest dependency.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn property_display_round_trips() {
        let suffixes =
            ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "e3", "e-2", "E6"];
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let int = rng(&mut seed) % 100_000;
            let frac = rng(&mut seed) % 1000;
            let sign = if rng(&mut seed) % 4 == 0 { "-" } else { "" };
            let suffix = suffixes[(rng(&mut seed) % suffixes.len() as u64) as usize];
            let text = if rng(&mut seed) % 2 == 0 {
                format!("{sign}{int}{suffix}")
            } else {
                format!("{sign}{int}.{frac:03}{suffix}")
            };
            let a = q(&text);
            let shown = a.to_string();
            let b = Quantity::parse(&shown).unwrap_or_else(|e| panic!("{text} -> {shown}: {e}"));
            assert_eq!(a, b, "{text} -> {shown}");
            assert_eq!(shown, b.to_string(), "canonical form is a fixed point: {text}");
        }
    }

    #[test]
    fn property_parse_is_total() {
        let alphabet = b"0123456789.+-eEinumkKMGTP Ei\xff";
        let mut seed = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            let len = (rng(&mut seed) % 12) as usize;
            let bytes: Vec<u8> =
                (0..len).map(|_| alphabet[(rng(&mut seed) % alphabet.len() as u64) as usize]).collect();
            let s = String::from_utf8_lossy(&bytes);
            if let Ok(v) = Quantity::parse(&s) {
                let _ = (v.value(), v.milli_value(), v.bytes(), v.to_string());
            }
        }
    }
}
