//! The UTC calendar fields of a time, for what the live sink writes with a
//! date in it: Icecast's ISO 8601 stamps (`admin.rs`) and dump file names
//! (`hooks.rs`).

use std::time::SystemTime;

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utc {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

impl Utc {
    /// The fields of `t` (times before 1970 read as 1970).
    pub(crate) fn of(t: SystemTime) -> Self {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
        // Days to a civil date (H. Hinnant's algorithm, proleptic Gregorian).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year,
            month,
            day,
            hour: (rest / 3600) as u32,
            minute: (rest % 3600 / 60) as u32,
            second: (rest % 60) as u32,
        }
    }

    /// `2026-12-05T08:22:19+0000`, as icecast2 writes it.
    pub(crate) fn iso8601(&self) -> String {
        format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn calendar_fields() {
        let at = |s| Utc::of(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(1_796_458_939).iso8601(), "2026-12-05T08:22:19+0000");
        assert_eq!(at(0).iso8601(), "1970-01-01T00:00:00+0000");
        // A leap day, and the last second of a year.
        assert_eq!(at(951_782_400).iso8601(), "2000-02-29T00:00:00+0000");
        assert_eq!(at(1_735_689_599).iso8601(), "2024-12-31T23:59:59+0000");
    }
}
