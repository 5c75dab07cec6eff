//! Icecast's ISO 8601 stamps (`admin.rs`) on the engine's UTC fields
//! ([`httpout_core::utc`]), which dump file names (`hooks.rs`) use too.

pub(crate) use httpout_core::utc::Utc;

/// `2026-12-05T08:22:19+0000`, as icecast2 writes it.
pub(crate) fn iso8601(t: &Utc) -> String {
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn icecast_stamps() {
        let at = |s| Utc::from(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(iso8601(&at(1_796_458_939)), "2026-12-05T08:22:19+0000");
        assert_eq!(iso8601(&at(0)), "1970-01-01T00:00:00+0000");
    }
}
