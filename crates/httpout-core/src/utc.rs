//! UTC calendar fields of a time: one place for what writes dates other
//! than HTTP's (`httpdate` does those): access log lines, Icecast's stamps,
//! dump file names, the `--utc_timing` clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC calendar time, to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// The year.
    pub year: i64,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59.
    pub second: u8,
    /// 0 to 999.
    pub millis: u16,
}

impl From<SystemTime> for Utc {
    /// Howard Hinnant's `civil_from_days` (proleptic Gregorian); times
    /// before 1970 read as 1970.
    fn from(at: SystemTime) -> Self {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        // Every value below is in range by construction.
        let small = |v: i64| u8::try_from(v).unwrap_or(0);
        Self {
            year,
            month: small(month),
            day: small(day),
            hour: small(rem / 3_600),
            minute: small(rem % 3_600 / 60),
            second: small(rem % 60),
            millis: u16::try_from(since.subsec_millis()).unwrap_or(0),
        }
    }
}

impl Utc {
    /// `2000-10-10T13:55:36.123Z`: RFC 3339, and the body DASH's
    /// `http-iso` and `http-xsdate` clocks expect.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn calendar_time() {
        // 2000-10-10T13:55:36.250Z, the Apache documentation's example day.
        let at = UNIX_EPOCH + Duration::from_millis(971_186_136_250);
        assert_eq!(Utc::from(at).rfc3339(), "2000-10-10T13:55:36.250Z");
        assert_eq!(Utc::from(UNIX_EPOCH).rfc3339(), "1970-01-01T00:00:00.000Z");
        // A leap day, and the last second of a year.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(Utc::from(leap).rfc3339(), "2000-02-29T00:00:00.000Z");
        let eoy = UNIX_EPOCH + Duration::from_secs(1_704_067_199);
        assert_eq!(Utc::from(eoy).rfc3339(), "2023-12-31T23:59:59.000Z");
        let dec = UNIX_EPOCH + Duration::from_secs(1_796_458_939);
        assert_eq!(Utc::from(dec).rfc3339(), "2026-12-05T08:22:19.000Z");
    }
}
