//! Sent and refused messages over time, from the tenant's audit records (every accepted message
//! and every refusal is one), drawn as inline SVG bar charts: geometry computed here, drawn by
//! the template, no script and no style attribute (the page's CSP allows neither).

use crate::store::AuditRecord;

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// Chart area in SVG user units.
pub const WIDTH: u32 = 480;
pub const HEIGHT: u32 = 120;

/// One bucket: two stacked bars (sent below, refused above).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    pub x: u32,
    pub width: u32,
    pub sent_y: u32,
    pub sent_height: u32,
    pub refused_y: u32,
    pub refused_height: u32,
    /// Axis label (only every few bars carry one).
    pub label: String,
    /// Hover text: the bucket and its figures.
    pub title: String,
    pub sent: u64,
    pub refused: u64,
}

/// A chart: its bars and the largest bucket total (the top of the scale).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    pub bars: Vec<Bar>,
    pub max: u64,
    pub total_sent: u64,
    pub total_refused: u64,
}

/// What an audit record counts as.
enum Outcome {
    Sent,
    Refused,
}

fn outcome(record: &AuditRecord) -> Option<Outcome> {
    if record.actor != "policy" {
        return None;
    }
    match record.action.as_str() {
        "accept" => Some(Outcome::Sent),
        "reject" | "defer" | "disconnect" => Some(Outcome::Refused),
        _ => None,
    }
}

/// Per-hour buckets (UTC hours) over the last 24 hours, the last one the current hour.
pub fn hourly(records: &[AuditRecord], now: u64) -> Chart {
    chart(records, now, HOUR_MS, 24, |start| {
        let (_, hour, _) = civil(start);
        format!("{hour:02}h")
    })
}

/// Per-day buckets (UTC days) over the last 7 days, the last one today.
pub fn daily(records: &[AuditRecord], now: u64) -> Chart {
    chart(records, now, DAY_MS, 7, |start| {
        let (date, _, _) = civil(start);
        date[5..].to_string()
    })
}

fn chart(records: &[AuditRecord], now: u64, size: u64, count: u64, label: impl Fn(u64) -> String) -> Chart {
    // Calendar buckets (UTC hours or days), the last one the current, still filling one, so a
    // bar's label is the hour or day its mail was sent in.
    let end = (now / size + 1) * size;
    let first = end.saturating_sub(size * count);
    let mut buckets = vec![(0u64, 0u64); count as usize];
    for record in records {
        if record.at < first || record.at >= end || record.at > now {
            continue;
        }
        let index = ((record.at - first) / size).min(count - 1) as usize;
        match outcome(record) {
            Some(Outcome::Sent) => buckets[index].0 += 1,
            Some(Outcome::Refused) => buckets[index].1 += 1,
            None => {}
        }
    }
    let max = buckets.iter().map(|(s, r)| s + r).max().unwrap_or(0);
    let slot = WIDTH / count as u32;
    let scale = |n: u64| -> u32 { (n * u64::from(HEIGHT)).checked_div(max).unwrap_or(0) as u32 };
    let every = (count / 6).max(1);
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, &(sent, refused))| {
            let start = first + i as u64 * size;
            let sent_height = scale(sent);
            let refused_height = scale(sent + refused) - sent_height;
            let (date, hour, minute) = civil(start);
            Bar {
                x: i as u32 * slot + 1,
                width: slot.saturating_sub(2).max(1),
                sent_y: HEIGHT - sent_height,
                sent_height,
                refused_y: HEIGHT - sent_height - refused_height,
                refused_height,
                label: if (i as u64).is_multiple_of(every) || i as u64 == count - 1 {
                    label(start)
                } else {
                    String::new()
                },
                title: format!("from {date} {hour:02}:{minute:02} UTC: {sent} sent, {refused} refused"),
                sent,
                refused,
            }
        })
        .collect();
    Chart {
        bars,
        max,
        total_sent: buckets.iter().map(|b| b.0).sum(),
        total_refused: buckets.iter().map(|b| b.1).sum(),
    }
}

/// Sent and refused in the 24 hours before `now`.
pub fn last_day(records: &[AuditRecord], now: u64) -> (u64, u64) {
    let from = now.saturating_sub(DAY_MS);
    records
        .iter()
        .filter(|r| r.at > from && r.at <= now)
        .fold((0, 0), |(sent, refused), r| match outcome(r) {
            Some(Outcome::Sent) => (sent + 1, refused),
            Some(Outcome::Refused) => (sent, refused + 1),
            None => (sent, refused),
        })
}

/// `(YYYY-MM-DD, hour, minute)` in UTC of unix ms `at` (days to civil date: Howard Hinnant's
/// algorithm).
pub fn civil(at: u64) -> (String, u64, u64) {
    let secs = at / 1000;
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (format!("{year:04}-{month:02}-{day:02}"), hour, minute)
}

/// `YYYY-MM-DD HH:MM:SS UTC` of unix ms `at`.
pub fn timestamp(at: u64) -> String {
    let (date, hour, minute) = civil(at);
    format!("{date} {hour:02}:{minute:02}:{:02} UTC", (at / 1000) % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: u64, action: &str) -> AuditRecord {
        AuditRecord {
            at,
            actor: "policy".into(),
            action: action.into(),
            target: String::new(),
            reason: String::new(),
            detail: serde_json::Value::Null,
        }
    }

    #[test]
    fn records_land_in_their_hour_and_the_scale_fits_the_largest() {
        let now = 1_765_000_000_000;
        let records = vec![
            record(now, "accept"),
            record(now - 10, "accept"),
            record(now - 20, "reject"),
            record(now - HOUR_MS - 1, "accept"),
            record(now - DAY_MS, "accept"), // this hour yesterday: outside
            record(now - 5, "block.add"),   // not a message
        ];
        let chart = hourly(&records, now);
        assert_eq!(chart.bars.len(), 24);
        let last = &chart.bars[23];
        assert_eq!((last.sent, last.refused), (2, 1));
        assert_eq!(chart.bars[22].sent, 1);
        assert_eq!(chart.max, 3);
        assert_eq!(last.sent_height + last.refused_height, HEIGHT);
        assert_eq!((chart.total_sent, chart.total_refused), (3, 1));
        assert_eq!(last_day(&records, now), (3, 1));
        assert_eq!(daily(&records, now).total_sent, 4);
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(civil(0), ("1970-01-01".to_string(), 0, 0));
        assert_eq!(timestamp(1_765_000_000_000), "2025-12-06 05:46:40 UTC");
    }
}
