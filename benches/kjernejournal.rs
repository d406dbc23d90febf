//! Benchmarks of kjernejournal's per-request work: sealing and opening a ticket, computing
//! helseindikator's answer, and adding the random extra field to an answer.
#![expect(clippy::unwrap_used, reason = "benchmark setup fails loudly")]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use helsesim::Clock;
use helsesim::kjernejournal::consent::Samtykke;
use helsesim::kjernejournal::envelope::add_extra_field;
use helsesim::kjernejournal::indicator::indicator;
use helsesim::kjernejournal::ticket::{TicketFacts, TicketSealer};
use serde_json::{Value, json};

/// Kari Kritisk: status 4, two allergies, a prescription.
const KARI: &str = "13116900216";

fn benches(c: &mut Criterion) {
    let sealer = TicketSealer::generate().unwrap();
    let facts = TicketFacts {
        orgnr: "987654325".to_owned(),
        fnr: KARI.to_owned(),
        samtykke: Some(Samtykke::HpMottattSamtykke),
        issued: Clock::system().now().timestamp(),
    };
    let ticket = sealer.seal(&facts).unwrap();
    c.bench_function("ticket/seal", |b| {
        b.iter(|| sealer.seal(black_box(&facts)).unwrap())
    });
    c.bench_function("ticket/open", |b| {
        b.iter(|| sealer.open(black_box(&ticket)).unwrap())
    });

    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let loaded = helsesim::fixtures::load_dir(&fixtures, Clock::system().now()).unwrap();
    let patient = loaded.national.patient(KARI);
    c.bench_function("indicator/status_4", |b| {
        b.iter(|| indicator(black_box(KARI), patient, None))
    });

    let answer = json!({
        "eksistererBlokkertHelsepersonell": false, "harLasteResepter": false, "harLegemidler": true,
        "returTekst": "OBS: Kritisk informasjon i kjernejournal",
        "sistEndretKritiskInfo": [{"kategori": "OVER_REAK",
                                   "sistEndret": "2020-03-03T10:00:00.000Z"}],
        "sistEndretKritiskInfoDato": "2020-03-03T10:00:00.000Z",
        "sperringDetaljer": [{"erSperret": false, "modul": "KRITISKINFO"},
                             {"erSperret": false, "modul": "LEGEMIDLER"}],
        "status": 4, "ticket": ticket
    })
    .to_string();
    c.bench_function("extra_field/reparse_add_serialise", |b| {
        b.iter(|| {
            let Value::Object(mut object) = serde_json::from_str(black_box(&answer)).unwrap()
            else {
                unreachable!()
            };
            add_extra_field(&mut object, &mut rand::rng());
            serde_json::to_vec(&object).unwrap()
        })
    });
}

criterion_group!(kjernejournal, benches);
criterion_main!(kjernejournal);
