//! Parsing of the human-written units the config uses: durations (`"30s"`, `"24h"`, `"5d"`) and
//! byte sizes (`"25MiB"`, `"512KiB"`, `"1000"`). Parsed once at load; never on the hot path.

use std::time::Duration;

/// Parses `"<number><unit>"` with units `ms`, `s`, `m`, `h`, `d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (expected e.g. \"30s\", \"5m\", \"24h\")"))?;
    let millis_per_unit: u64 = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use ms, s, m, h, d)"
            ))
        }
    };
    value
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration `{text}` is too large"))
}

/// Parses a rate `"<count>/<duration>"` (`"10/10m"`; a unit alone is one of it: `"100/h"`).
pub fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let text = text.trim();
    let Some((count, window)) = text.split_once('/') else {
        return Err(format!(
            "`{text}` is not a rate (expected e.g. \"10/10m\" or \"100/h\")"
        ));
    };
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: the count before `/` must be a whole number"))?;
    let window = window.trim();
    let window = if window.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(window)?
    } else {
        parse_duration(&format!("1{window}"))?
    };
    if window.is_zero() {
        return Err(format!("`{text}`: the window must be longer than 0"));
    }
    Ok((count, window))
}

/// Parses a size: a bare number of bytes or a number with `B`, `KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (expected e.g. \"25MiB\")"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}` (use B, KiB, MiB, GiB)"
            ))
        }
    };
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("5d"), Ok(Duration::from_secs(432_000)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10/10m"), Ok((10, Duration::from_secs(600))));
        assert_eq!(parse_rate("100/h"), Ok((100, Duration::from_secs(3_600))));
        assert_eq!(parse_rate(" 3 / 2s "), Ok((3, Duration::from_secs(2))));
        assert!(parse_rate("10").is_err());
        assert!(parse_rate("x/10m").is_err());
        assert!(parse_rate("-1/10m").is_err());
        assert!(parse_rate("10/0s").is_err());
        assert!(parse_rate("10/forever").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("25MiB"), Ok(25 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("2KB"), Ok(2000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5TB").is_err());
    }
}
