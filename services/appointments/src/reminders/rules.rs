//! When reminders are due: the rules of `REMINDER_RULES` and the rest of the scheduler's
//! configuration, and the due times they give for an appointment.

use std::{fmt, time::Duration};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use prm_platform::{ConfigError, Settings};

/// One reminder before an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderRule {
    /// `Nd@HH:MM`: N days before the appointment's local date, at that local time.
    DaysBefore { days: u32, at: NaiveTime },
    /// `Nh` or `Nm`: that long before the start.
    Before(TimeDelta),
}

impl fmt::Display for ReminderRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DaysBefore { days, at } => write!(f, "{days}d@{}", at.format("%H:%M")),
            Self::Before(d) if d.num_minutes() % 60 == 0 => write!(f, "{}h", d.num_hours()),
            Self::Before(d) => write!(f, "{}m", d.num_minutes()),
        }
    }
}

/// The most a rule may reach back (a reminder a month ahead is no reminder).
const MAX_DAYS: u32 = 30;

impl ReminderRule {
    /// One rule: `1d@10:00`, `2h`, `30m`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let number = |digits: &str| {
            digits
                .parse::<u32>()
                .map_err(|_| format!("`{text}`: expected a whole number before its unit"))
        };
        let rule = if let Some((days, at)) = text.split_once('@') {
            let days =
                number(days.strip_suffix('d').ok_or_else(|| {
                    format!("`{text}`: a local time goes with days (`1d@10:00`)")
                })?)?;
            let at = NaiveTime::parse_from_str(at, "%H:%M")
                .map_err(|_| format!("`{text}`: the time must be HH:MM"))?;
            if days > MAX_DAYS {
                return Err(format!("`{text}`: at most {MAX_DAYS} days before"));
            }
            Self::DaysBefore { days, at }
        } else if let Some(hours) = text.strip_suffix('h') {
            let hours = number(hours)?;
            if hours == 0 || hours > MAX_DAYS * 24 {
                return Err(format!("`{text}`: between 1 and {} hours", MAX_DAYS * 24));
            }
            Self::Before(TimeDelta::hours(i64::from(hours)))
        } else if let Some(minutes) = text.strip_suffix('m') {
            let minutes = number(minutes)?;
            if minutes == 0 || minutes > MAX_DAYS * 24 * 60 {
                return Err(format!(
                    "`{text}`: between 1 and {} minutes",
                    MAX_DAYS * 24 * 60
                ));
            }
            Self::Before(TimeDelta::minutes(i64::from(minutes)))
        } else {
            return Err(format!(
                "`{text}`: expected days before at a local time (`1d@10:00`), hours (`2h`) or minutes (`30m`)"
            ));
        };
        Ok(rule)
    }

    /// Comma-separated rules; `none` for no reminder at all.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(Vec::new());
        }
        let mut rules = Vec::new();
        for part in text.split(',') {
            let rule = Self::parse(part)?;
            if rules.contains(&rule) {
                return Err(format!("`{}` is given twice", part.trim()));
            }
            rules.push(rule);
        }
        Ok(rules)
    }

    /// When this rule's reminder of an appointment starting at `start` (at a location in
    /// `zone`) is due. A local time that a daylight-saving change skips is taken an hour
    /// later; one it repeats, at its first occurrence.
    pub fn due(&self, start: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        match self {
            Self::Before(d) => start - *d,
            Self::DaysBefore { days, at } => {
                let day =
                    start.with_timezone(&zone).date_naive() - TimeDelta::days(i64::from(*days));
                local_instant(zone, day, *at)
            }
        }
    }
}

/// `day` at `time` in `zone`, as an instant (see [`ReminderRule::due`] for DST).
pub fn local_instant(zone: Tz, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let wall = day.and_time(time);
    match zone.from_local_datetime(&wall) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        chrono::LocalResult::None => {
            let later = wall + TimeDelta::hours(1);
            zone.from_local_datetime(&later)
                .earliest()
                .map_or_else(|| wall.and_utc(), |t| t.with_timezone(&Utc))
        }
    }
}

/// The scheduler's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderSettings {
    /// `REMINDER_RULES` (default `1d@10:00`).
    pub rules: Vec<ReminderRule>,
    /// `FOLLOW_UP_TIME` (default 09:00, location-local).
    pub follow_up_time: NaiveTime,
    /// `REMINDER_LATE_WINDOW_MINUTES` (default 120): a job found later than this after
    /// its due time is skipped as `late`.
    pub late_window: TimeDelta,
    /// `REMINDER_POLL_INTERVAL_MS` (default 5000): how often the runner looks for due jobs.
    pub poll_every: Duration,
    /// How long a claimed job is reserved for the runner that claimed it.
    pub lease: TimeDelta,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self {
            rules: vec![ReminderRule::DaysBefore {
                days: 1,
                at: NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default(),
            }],
            follow_up_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            late_window: TimeDelta::minutes(120),
            poll_every: Duration::from_secs(5),
            lease: TimeDelta::minutes(2),
        }
    }
}

impl ReminderSettings {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let env = settings.env();
        let defaults = Self::default();
        let rules = match env.var("REMINDER_RULES") {
            Some(text) => ReminderRule::parse_list(&text)
                .map_err(|e| ConfigError::new("REMINDER_RULES", e))?,
            None => defaults.rules,
        };
        let follow_up_time = match env.var("FOLLOW_UP_TIME") {
            Some(text) => NaiveTime::parse_from_str(&text, "%H:%M")
                .map_err(|_| ConfigError::new("FOLLOW_UP_TIME", "must be a local time HH:MM"))?,
            None => defaults.follow_up_time,
        };
        let late_minutes: i64 = env.parse_or("REMINDER_LATE_WINDOW_MINUTES", 120)?;
        if !(1..=60 * 24).contains(&late_minutes) {
            return Err(ConfigError::new(
                "REMINDER_LATE_WINDOW_MINUTES",
                "must be between 1 and 1440",
            ));
        }
        let poll_ms: u64 = env.parse_or("REMINDER_POLL_INTERVAL_MS", 5000)?;
        if !(10..=600_000).contains(&poll_ms) {
            return Err(ConfigError::new(
                "REMINDER_POLL_INTERVAL_MS",
                "must be between 10 and 600000",
            ));
        }
        Ok(Self {
            rules,
            follow_up_time,
            late_window: TimeDelta::minutes(late_minutes),
            poll_every: Duration::from_millis(poll_ms),
            lease: defaults.lease,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn time(hh: u32, mm: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hh, mm, 0).unwrap_or_default()
    }

    fn settings(vars: &[(&str, &str)]) -> Result<ReminderSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ReminderSettings::from_settings(&Settings::from_map(8003, &map)?)
    }

    #[test]
    fn rules_read_as_written_and_print_back() {
        assert_eq!(
            ReminderRule::parse_list("1d@10:00, 2h,30m"),
            Ok(vec![
                ReminderRule::DaysBefore {
                    days: 1,
                    at: time(10, 0)
                },
                ReminderRule::Before(TimeDelta::hours(2)),
                ReminderRule::Before(TimeDelta::minutes(30)),
            ])
        );
        assert_eq!(ReminderRule::parse_list("none"), Ok(Vec::new()));
        for text in ["1d@10:00", "0d@07:30", "2h", "30m", "90m"] {
            assert_eq!(
                ReminderRule::parse(text).map(|r| r.to_string()),
                Ok(text.to_owned())
            );
        }
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        for text in [
            "",
            "1d",
            "1x",
            "d@10:00",
            "1d@25:00",
            "2h@10:00",
            "0m",
            "-5m",
            "31d@10:00",
            "30m,30m",
            "soon",
        ] {
            let error = ReminderRule::parse_list(text);
            assert!(error.is_err(), "{text:?} accepted");
        }
        let error = settings(&[("REMINDER_RULES", "1d@10:00,tomorrow")]).map_err(|e| e.to_string());
        assert!(
            error
                .as_ref()
                .is_err_and(|e| e.contains("REMINDER_RULES") && e.contains("tomorrow")),
            "{error:?}"
        );
        assert_eq!(
            settings(&[("FOLLOW_UP_TIME", "9am")]).map_err(|e| e.variable),
            Err("FOLLOW_UP_TIME")
        );
        assert_eq!(
            settings(&[("REMINDER_LATE_WINDOW_MINUTES", "0")]).map_err(|e| e.variable),
            Err("REMINDER_LATE_WINDOW_MINUTES")
        );
    }

    #[test]
    fn the_defaults_are_the_day_before_at_ten_and_follow_ups_at_nine() {
        assert_eq!(settings(&[]), Ok(ReminderSettings::default()));
        let defaults = ReminderSettings::default();
        assert_eq!(defaults.rules[0].to_string(), "1d@10:00");
        assert_eq!(defaults.follow_up_time, time(9, 0));
        assert_eq!(defaults.late_window, TimeDelta::minutes(120));
    }

    #[test]
    fn days_before_count_local_days_and_keep_the_local_time_across_dst() {
        let ny = chrono_tz::America::New_York;
        // Monday 2030-03-11 09:00 in New York (EDT since Sunday 02:00): the reminder
        // is Sunday at 10:00 EDT, 14:00 UTC, not 15:00.
        let start = local_instant(
            ny,
            NaiveDate::from_ymd_opt(2030, 3, 11).unwrap_or_default(),
            time(9, 0),
        );
        let rule = ReminderRule::DaysBefore {
            days: 1,
            at: time(10, 0),
        };
        assert_eq!(
            rule.due(start, ny).to_rfc3339(),
            "2030-03-10T14:00:00+00:00"
        );
        // An appointment at 00:30 Bogotá (05:30 UTC): the day before is the local one.
        let bogota = chrono_tz::America::Bogota;
        let start = local_instant(
            bogota,
            NaiveDate::from_ymd_opt(2030, 1, 15).unwrap_or_default(),
            time(0, 30),
        );
        assert_eq!(
            rule.due(start, bogota).to_rfc3339(),
            "2030-01-14T15:00:00+00:00"
        );
        // A skipped local time is taken an hour later.
        let skipped = local_instant(
            ny,
            NaiveDate::from_ymd_opt(2030, 3, 10).unwrap_or_default(),
            time(2, 30),
        );
        assert_eq!(skipped.to_rfc3339(), "2030-03-10T07:30:00+00:00");
        assert_eq!(
            ReminderRule::Before(TimeDelta::minutes(30)).due(start, bogota),
            start - TimeDelta::minutes(30)
        );
    }
}
