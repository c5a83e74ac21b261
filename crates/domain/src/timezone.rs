//! IANA time zones: the only kind a clinic location may have.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A real IANA time-zone name such as `America/Bogota`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(chrono_tz::Tz);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IANA time-zone name (e.g. America/Bogota)")]
pub struct TimeZoneError(pub String);

impl TimeZone {
    /// Every name [`FromStr`] accepts, in the IANA database's order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl From<chrono_tz::Tz> for TimeZone {
    fn from(tz: chrono_tz::Tz) -> Self {
        Self(tz)
    }
}

impl FromStr for TimeZone {
    type Err = TimeZoneError;

    /// Exact, case-sensitive IANA names only: `america/bogota` or `GMT+5` style
    /// offsets typed by hand are refused so that every stored zone is canonical.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let tz: chrono_tz::Tz = s.parse().map_err(|_| TimeZoneError(s.to_owned()))?;
        if tz.name() != s {
            return Err(TimeZoneError(s.to_owned()));
        }
        Ok(Self(tz))
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZone({})", self.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TimeZone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("IANA time-zone name"))
            .examples([serde_json::json!("America/Bogota")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TimeZone {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iana_names() {
        for name in [
            "America/Bogota",
            "Europe/Madrid",
            "America/New_York",
            "Asia/Kolkata",
            "UTC",
        ] {
            assert_eq!(name.parse::<TimeZone>().unwrap().name(), name);
        }
    }

    #[test]
    fn rejects_anything_else() {
        for name in [
            "",
            "Bogota",
            "america/bogota",
            "GMT+5:00",
            "Mars/Olympus_Mons",
            "-05:00",
            "America/Bogota ",
        ] {
            assert!(name.parse::<TimeZone>().is_err(), "{name:?} accepted");
        }
    }

    #[test]
    fn serde_uses_the_name() {
        let tz: TimeZone = serde_json::from_str("\"Europe/Madrid\"").unwrap();
        assert_eq!(serde_json::to_string(&tz).unwrap(), "\"Europe/Madrid\"");
        assert!(serde_json::from_str::<TimeZone>("\"Europe/Madri\"").is_err());
    }
}
