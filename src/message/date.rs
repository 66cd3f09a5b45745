//! RFC 5322 dates: written for the fields the gateway adds (Date, Received) and its own
//! messages, and read back from a message's Date field. Pure arithmetic on unix seconds, UTC.

/// `Mon, 23 Nov 2026 15:37:12 +0000`.
pub fn rfc5322_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `20261206`: the UTC day of `unix_secs`, for names that sort by date.
pub fn yyyymmdd(unix_secs: u64) -> String {
    let (year, month, day) = civil_from_days((unix_secs / 86_400) as i64);
    format!("{year:04}{month:02}{day:02}")
}

/// Reads an RFC 5322 date-time (`Mon, 23 Nov 2026 15:37:12 +0100`, also without the weekday or
/// the seconds, with a comment after it, or with an obsolete zone name such as `GMT` or `EST`)
/// as unix seconds. `None` for anything else, or a time before 1970.
pub fn parse_rfc5322_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let text = text.split('(').next()?.trim();
    let text = text.split_once(',').map_or(text, |(_, rest)| rest);
    let mut parts = text.split_whitespace();
    let day: u32 = parts.next()?.parse().ok()?;
    let month = parts.next()?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let year: i64 = match parts.next()? {
        y if y.len() == 2 => 1900 + y.parse::<i64>().ok()? + if y < "50" { 100 } else { 0 },
        y => y.parse().ok()?,
    };
    let mut clock = parts.next()?.split(':');
    let hour = i64::from(clock.next()?.parse::<u8>().ok()?);
    let minute = i64::from(clock.next()?.parse::<u8>().ok()?);
    let second = i64::from(clock.next().map_or(Some(0), |s| s.parse::<u8>().ok())?);
    let offset_minutes: i64 = match parts.next().unwrap_or("-0000") {
        zone if zone.len() == 5 && (zone.starts_with('+') || zone.starts_with('-')) => {
            let value: i64 = zone[1..].parse().ok()?;
            let minutes = value / 100 * 60 + value % 100;
            if zone.starts_with('-') {
                -minutes
            } else {
                minutes
            }
        }
        zone => match zone.to_ascii_uppercase().as_str() {
            "UT" | "GMT" | "Z" => 0,
            "EDT" => -4 * 60,
            "EST" | "CDT" => -5 * 60,
            "CST" | "MDT" => -6 * 60,
            "MST" | "PDT" => -7 * 60,
            "PST" => -8 * 60,
            _ => 0,
        },
    };
    if !(1..=31).contains(&day) || !(1970..=9999).contains(&year) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    u64::try_from(secs).ok()
}

/// (year, month, day) to days since 1970-01-01, the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_795_448_232), "Mon, 23 Nov 2026 15:37:12 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn dates_are_read_back() {
        for secs in [0, 951_782_400, 1_795_448_232, 4_102_444_799] {
            assert_eq!(parse_rfc5322_date(&rfc5322_date(secs)), Some(secs), "{secs}");
        }
        let noon = parse_rfc5322_date("23 Nov 2026 12:00:00 +0000");
        assert_eq!(parse_rfc5322_date("Mon, 23 Nov 2026 13:00:00 +0100"), noon);
        assert_eq!(parse_rfc5322_date("Mon, 23 Nov 2026 07:00 -0500 (EST)"), noon);
        assert_eq!(parse_rfc5322_date("mon,  23 nov 2026 12:00:00 GMT"), noon);
        assert_eq!(parse_rfc5322_date("Mon, 23 Nov 2026 04:00:00 PST"), noon);
        assert_eq!(parse_rfc5322_date("23 Nov 26 12:00:00 +0000"), noon);
        for bad in [
            "",
            "yesterday",
            "Mon, 32 Nov 2026 12:00:00 +0000",
            "23 Foo 2026 12:00 +0000",
            "23 Nov 2026",
            "1 Jan 99999999999999 00:00 +0000",
            "1 Jan 2026 -1:00 +0000",
        ] {
            assert_eq!(parse_rfc5322_date(bad), None, "{bad}");
        }
    }
}
