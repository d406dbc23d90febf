//! Property tests of every parser a request reaches: compact JWS and JWK, national identity
//! and organisation numbers, ISO 8601 durations and FHIR search instants, FHIR search
//! parameters and paging, PTS bodies. Each runs a bounded number of cases, in seconds.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike as _, NaiveDate, TimeDelta, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::ids::{NationalId, NationalIdError, OrgNr, birth_date};
use crate::jose::{PublicJwk, UnverifiedJws};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object whose members are the ones a parser looks at, with values of any type.
fn object_with(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(keys), any_json()), 0..keys.len() + 2).prop_map(
        |pairs| {
            let map: Map<String, Value> =
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(map)
        },
    )
}

/// The two control digits of nine digits, as Skatteetaten computes them (None: no valid
/// number has these nine digits).
fn control_digits(nine: &[u32]) -> Option<(u32, u32)> {
    let k = |digits: &[u32], weights: &[u32]| match 11
        - digits.iter().zip(weights).map(|(a, b)| a * b).sum::<u32>() % 11
    {
        11 => Some(0),
        10 => None,
        k => Some(k),
    };
    let k1 = k(nine, &[3, 7, 6, 1, 8, 9, 4, 5, 2])?;
    let mut ten = nine.to_vec();
    ten.push(k1);
    Some((k1, k(&ten, &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2])?))
}

/// An individual number that gives `year`'s century (None: no such number for that year).
fn individual_for(year: i32, pick: u32) -> Option<u32> {
    let ranges: &[(u32, u32)] = match year {
        1854..=1899 => &[(500, 749)],
        1900..=1939 => &[(0, 499)],
        1940..=1999 => &[(0, 499), (900, 999)],
        2000..=2039 => &[(500, 999)],
        _ => return None,
    };
    let (low, high) = ranges[(pick as usize) % ranges.len()];
    Some(low + pick % (high - low + 1))
}

fn digits_of(text: &str) -> Vec<u32> {
    text.bytes().map(|b| u32::from(b - b'0')).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever a client sends as a JWT, reading it never panics.
    #[test]
    fn any_text_is_read_as_a_jws_or_refused(text in ".{0,200}") {
        let _ = UnverifiedJws::parse(&text);
    }

    /// A compact JWS of any JSON objects is read back as those objects.
    #[test]
    fn a_jws_reads_back_its_header_and_claims(
        header in prop::collection::btree_map("[a-z]{1,5}", any_json(), 0..4),
        claims in prop::collection::btree_map("[a-z]{1,5}", any_json(), 0..4),
        signature in "[A-Za-z0-9_-]{1,40}",
    ) {
        let header: Map<String, Value> = header.into_iter().collect();
        let claims: Map<String, Value> = claims.into_iter().collect();
        let encode =
            |m: &Map<String, Value>| URL_SAFE_NO_PAD.encode(Value::Object(m.clone()).to_string());
        let token = format!("{}.{}.{signature}", encode(&header), encode(&claims));
        let jws = UnverifiedJws::parse(&token).unwrap();
        prop_assert_eq!(jws.header, header);
        prop_assert_eq!(jws.claims, claims);
    }

    /// Any JWK-shaped JSON is parsed or refused with a message, never a panic.
    #[test]
    fn any_jwk_is_parsed_or_refused(
        jwk in object_with(&["kty", "crv", "x", "y", "n", "e", "d", "kid", "alg", "use"]),
    ) {
        let _ = PublicJwk::parse(&jwk);
    }

    /// Every real date from 1854 to 2039, with an individual number of its century and valid
    /// control digits, is a fødselsnummer — also as a D-number and as a synthetic test person
    /// (month + 40, + 65, + 80) — and gives back its date.
    #[test]
    fn every_real_date_makes_a_national_identity_number(
        days in 0_i64..(186 * 366),
        pick in 0_u32..1000,
        dnr in any::<bool>(),
        synthetic in prop::sample::select(vec![0_u32, 40, 65, 80]),
    ) {
        let date = NaiveDate::from_ymd_opt(1854, 1, 1).unwrap() + TimeDelta::days(days);
        prop_assume!(date.year() <= 2039);
        let individual = individual_for(date.year(), pick).unwrap();
        let day = date.day() + if dnr { 40 } else { 0 };
        let month = date.month() + synthetic;
        let nine = format!("{day:02}{month:02}{:02}{individual:03}", date.year() % 100);
        let Some((k1, k2)) = control_digits(&digits_of(&nine)) else {
            return Ok(());
        };
        let id = format!("{nine}{k1}{k2}");
        prop_assert!(NationalId::parse(&id).is_ok(), "{}", id);
        prop_assert_eq!(birth_date(&digits_of(&id)), Some(date));
    }

    /// A day that does not exist in its month and year (per chrono) is refused as a date,
    /// whatever the control digits.
    #[test]
    fn an_impossible_date_is_never_a_national_identity_number(
        year in 1854_i32..=2039,
        month in 1_u32..=12,
        day in 29_u32..=32,
        pick in 0_u32..1000,
    ) {
        prop_assume!(NaiveDate::from_ymd_opt(year, month, day).is_none());
        let individual = individual_for(year, pick).unwrap();
        let nine = format!("{day:02}{month:02}{:02}{individual:03}", year % 100);
        let Some((k1, k2)) = control_digits(&digits_of(&nine)) else {
            return Ok(());
        };
        let id = format!("{nine}{k1}{k2}");
        prop_assert_eq!(NationalId::parse(&id), Err(NationalIdError::Date(id.clone())));
    }

    /// Any eleven characters: accepted exactly when they are digits, a date and the control
    /// digits; never a panic.
    #[test]
    fn any_text_is_a_national_identity_number_only_when_every_check_passes(
        text in "[0-9]{11}|.{0,14}",
    ) {
        let accepted = NationalId::parse(&text).is_ok();
        let expected = text.len() == 11
            && text.bytes().all(|b| b.is_ascii_digit())
            && birth_date(&digits_of(&text)).is_some()
            && control_digits(&digits_of(&text[..9]))
                .is_some_and(|(k1, k2)| text.ends_with(&format!("{k1}{k2}")));
        prop_assert_eq!(accepted, expected, "{}", text);
    }

    /// An organisation number is nine ASCII digits, nothing else.
    #[test]
    fn an_organisation_number_is_nine_digits(text in "[0-9]{9}|.{0,12}") {
        let expected = text.len() == 9 && text.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(OrgNr::parse(&text).is_ok(), expected);
        if let Ok(orgnr) = OrgNr::parse(&text) {
            let _ = orgnr.has_valid_check_digit();
        }
    }

    /// Any text sent as a clock move is read or refused, never a panic.
    #[test]
    fn any_text_is_a_duration_or_refused(text in "-?P?T?[0-9YMWDTHS.,]{0,30}|.{0,20}") {
        let _ = crate::admin::clock::parse_duration(&text);
    }

    /// A duration written from its parts reads back as exactly those parts, negated by `-`.
    #[test]
    fn a_duration_reads_back_exactly(
        days in 0_u32..100_000, hours in 0_u32..1000, minutes in 0_u32..1000,
        seconds in 0_u32..100_000, negative in any::<bool>(),
    ) {
        let text = format!(
            "{}P{days}DT{hours}H{minutes}M{seconds}S",
            if negative { "-" } else { "" }
        );
        let expected = TimeDelta::days(i64::from(days))
            + TimeDelta::hours(i64::from(hours))
            + TimeDelta::minutes(i64::from(minutes))
            + TimeDelta::seconds(i64::from(seconds));
        let expected = if negative { -expected } else { expected };
        prop_assert_eq!(crate::admin::clock::parse_duration(&text), Ok(expected));
    }

    /// Any `_lastUpdated` value is read or refused, never a panic; an instant's own period
    /// holds it.
    #[test]
    fn instants_and_their_periods(
        text in "(gt|ge|lt|le|eq)?[0-9T:.+Z-]{0,30}",
        seconds in -62_000_000_000_i64..253_000_000_000,
    ) {
        let _ = crate::sfm::datadeling::query::LastUpdated::parse(&text);
        let at = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap();
        let value = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let period = crate::sfm::datadeling::query::LastUpdated::parse(&value);
        prop_assert!(period.is_some_and(|p| p.matches(at)), "{}", value);
    }

    /// Any query string is read as a FHIR search or refused with an OperationOutcome, whatever
    /// its `_count` and `_offset`.
    #[test]
    fn any_search_query_is_read_or_refused(
        query in "([a-z_:]{1,12}=[a-zA-Z0-9|,:.%-]{0,20}&?){0,5}",
        offset in any::<u64>(),
        count in any::<u64>(),
    ) {
        use crate::sfm::model::ResourceKind;
        let paged = format!("{query}&_offset={offset}&_count={count}");
        for text in [query.as_str(), paged.as_str()] {
            for kind in [ResourceKind::Patient, ResourceKind::Person, ResourceKind::Practitioner] {
                let _ = crate::sfm::fhir::search::parse(kind, text);
            }
            let _ = crate::sfm::datadeling::query::parse(
                "MedicationStatement",
                &["patientTicket", "_lastUpdated", "status"],
                text,
            );
        }
    }

    /// Any PTS body is read (leniently, as ASP.NET does) or refused with validation problems;
    /// a read request's delays are checked without a panic, and a sibling's delay is never past
    /// what .NET can hold.
    #[test]
    fn any_pts_body_is_read_or_refused(
        body in object_with(&[
            "patientSafetyObject", "confidentialityCode", "delayDays", "delayDeliveryUntil",
            "delayFromTime", "offId", "applicableOnly", "confidentialObjectId",
        ]),
        raw in prop::collection::vec(any::<u8>(), 0..64),
        days in any::<i64>(),
        from_seconds in -62_000_000_000_i64..253_000_000_000,
    ) {
        use crate::pts::{input, rules};
        let _ = input::parse(&raw);
        let text = body.to_string();
        let parsed = input::parse(text.as_bytes()).unwrap();
        let now = DateTime::<Utc>::from_timestamp(1_704_412_800, 0).unwrap();
        if let Ok(upsert) = input::Upsert::read(&parsed) {
            let _ = rules::check_delay(
                &upsert.code,
                &upsert.delay,
                upsert.object.parent.is_some(),
                now,
            );
        }
        let _ = input::Associate::read(&parsed);
        let _ = input::Search::read(&parsed);
        let from = DateTime::<Utc>::from_timestamp(from_seconds, 0).unwrap();
        if let Ok(until) = rules::sibling_delay(from, days, "DelayFromTime") {
            prop_assert!(until <= rules::max_date_time());
        }
    }
}
