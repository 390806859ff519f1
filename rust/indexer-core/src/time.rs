//! Days and minutes of the proleptic Gregorian calendar, as Python's `datetime` and `time`
//! compute them for the stamps the native path takes (`indexer/route.py`).

/// The days of `month` (1-12) in `year` of the proleptic Gregorian calendar (Python's
/// `datetime`), or None for a month that does not exist.
pub fn days_in_month(year: i64, month: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => Some(31),
        4 | 6 | 9 | 11 => Some(30),
        2 if leap => Some(29),
        2 => Some(28),
        _ => None,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day since 1970-01-01 (`civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if month <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        month,
        day,
    )
}

/// A civil date, written `yyyy.MM.dd` as `strftime("%Y.%m.%d")` writes a date of year 1000 or
/// later (`Day::push_to`; kept as numbers so no text is allocated per event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    year: i64,
    month: i64,
    day: i64,
}

impl Day {
    /// Appends `yyyy.MM.dd` (`{year:04}.{month:02}.{day:02}`).
    pub fn push_to(&self, out: &mut String) {
        let (year, month, day) = (self.year, self.month, self.day);
        if (0..=9999).contains(&year) && (0..=99).contains(&month) && (0..=99).contains(&day) {
            let digit = |value: i64| char::from(b'0' + (value % 10) as u8);
            out.push(digit(year / 1000));
            out.push(digit(year / 100));
            out.push(digit(year / 10));
            out.push(digit(year));
            out.push('.');
            out.push(digit(month / 10));
            out.push(digit(month));
            out.push('.');
            out.push(digit(day / 10));
            out.push(digit(day));
        } else {
            // Never for the times the native path is given; written exactly all the same.
            out.push_str(&format!("{year:04}.{month:02}.{day:02}"));
        }
    }

    /// `yyyy.MM.dd` as a new string.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(10);
        self.push_to(&mut out);
        out
    }
}

/// `yyyy.MM.dd`, as `strftime("%Y.%m.%d")` writes a date of year 1000 or later.
pub fn civil_day(year: i64, month: i64, day: i64) -> Day {
    Day { year, month, day }
}

/// `route.day_of_epoch`: the UTC day of `seconds` (`time.gmtime` floors), for the times the
/// native path is given (Kafka times in 0..=253402300799.999 s).
pub fn day_of_seconds(seconds: f64) -> Day {
    let days = (seconds.floor() as i64).div_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    civil_day(year, month, day)
}

fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// `DayResolver._parse_minute` for the strict ASCII shape `YYYY-MM-DDTHH:MM` with a year from
/// 1000 (the epoch seconds of the minute's start and its `yyyy.MM.dd`), or None for anything
/// else, including what `strptime` would still accept (`2026-1-5T…`, Unicode digits): the
/// caller then declines.
pub fn minute_start(text: &[u8]) -> Option<(f64, Day)> {
    if text.len() != 16
        || text[4] != b'-'
        || text[7] != b'-'
        || text[10] != b'T'
        || text[13] != b':'
    {
        return None;
    }
    let year = digits(&text[0..4])?;
    let month = digits(&text[5..7])?;
    let day = digits(&text[8..10])?;
    let hour = digits(&text[11..13])?;
    let minute = digits(&text[14..16])?;
    let month_days = days_in_month(year, month)?;
    if year < 1000 || day < 1 || day > month_days || hour > 23 || minute > 59 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60;
    Some((seconds as f64, civil_day(year, month, day)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(day_of_seconds(0.0).text(), "1970.01.01");
        assert_eq!(day_of_seconds(253_402_300_799.999).text(), "9999.12.31");
        assert_eq!(day_of_seconds(951_782_400.0).text(), "2000.02.29");
        // Beyond the times the core is given, still written as strftime's format would.
        assert_eq!(civil_day(10_000, 1, 2).text(), "10000.01.02");
        assert_eq!(civil_day(-5, 1, 2).text(), "-005.01.02");
        assert_eq!(civil_day(999, 1, 2).text(), "0999.01.02");
    }

    #[test]
    fn minutes() {
        assert_eq!(
            minute_start(b"2026-11-26T12:30").map(|(s, d)| (s, d.text())),
            Some((1_795_696_200.0, "2026.11.26".to_string()))
        );
        assert_eq!(
            minute_start(b"2024-02-29T00:00").map(|m| m.1.text()),
            Some("2024.02.29".into())
        );
        for bad in [
            &b"2023-02-29T00:00"[..],
            b"2026-13-01T00:00",
            b"2026-00-01T00:00",
            b"2026-01-00T00:00",
            b"2026-01-01T24:00",
            b"2026-01-01T00:60",
            b"0999-01-01T00:00",
            b"2026-01- 5T00:00",
            b"2026/01/01T00:00",
            b"2026-01-01",
        ] {
            assert_eq!(minute_start(bad), None);
        }
    }
}
