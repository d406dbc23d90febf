//! The portal's pages, server-rendered in Norwegian as the real portal is: the patient header,
//! the tabs Oversikt, Kritisk informasjon and Legemidler, the padlock and the access-basis
//! prompt of a module the patient restricted, and the refusal pages. Links are relative, so
//! the pages work under any public base URL.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::refusal::Refusal;
use crate::kjernejournal::consent::Samtykke;
use crate::kjernejournal::innlogging::sessions::{AccessBasis, PortalView};
use crate::national::{Allergy, KjModule, KjRecord, NationalPatient, RfStatus};

const STYLE: &str = include_str!("portal.css");

/// A tab of the patient page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Oversikt.
    Overview,
    /// Kritisk informasjon.
    Critical,
    /// Legemidler.
    Medications,
}

impl Tab {
    /// Every tab, in the portal's order.
    pub const ALL: [Tab; 3] = [Tab::Overview, Tab::Critical, Tab::Medications];

    /// The last path segment.
    pub fn slug(self) -> &'static str {
        match self {
            Tab::Overview => "oversikt",
            Tab::Critical => "kritisk-informasjon",
            Tab::Medications => "legemidler",
        }
    }

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Overview => "Oversikt",
            Tab::Critical => "Kritisk informasjon",
            Tab::Medications => "Legemidler",
        }
    }

    /// The tab a path segment names.
    pub fn parse(slug: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.slug() == slug)
    }

    /// The tab that shows a module.
    pub fn of(module: KjModule) -> Tab {
        match module {
            KjModule::KritiskInfo => Tab::Critical,
            KjModule::Legemidler => Tab::Medications,
        }
    }
}

/// What a patient page shows.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The portal session.
    pub session: &'a PortalView,
    /// The organisation's name, when kjernejournal knows it.
    pub organisation: Option<&'a str>,
    /// The patient's national data.
    pub patient: &'a NationalPatient,
    /// The patient's kjernejournal.
    pub record: &'a KjRecord,
    /// The tab shown.
    pub tab: Tab,
}

/// Whether a module may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleState {
    /// Not restricted.
    Open,
    /// Restricted, opened by the user with this basis.
    Opened(Samtykke),
    /// Restricted and not opened.
    Locked,
}

/// A module's state for this session: restricted modules open only once the user gave a basis.
pub fn module_state(
    record: &KjRecord,
    opened: &[(KjModule, Samtykke)],
    m: KjModule,
) -> ModuleState {
    if !record.blocked_modules.contains(&m) {
        return ModuleState::Open;
    }
    opened
        .iter()
        .find(|(o, _)| *o == m)
        .map_or(ModuleState::Locked, |(_, s)| ModuleState::Opened(*s))
}

/// A consent value in words.
pub fn samtykke_label(s: Samtykke) -> &'static str {
    match s {
        Samtykke::HpMottattSamtykke => "Samtykke fra pasienten",
        Samtykke::HpAkutt => "Akuttsituasjon",
        Samtykke::HpUnntak => "Unntak fra samtykke",
    }
}

/// A padlock (inline SVG: no emoji font needed), closed or open.
fn padlock(open: bool) -> Markup {
    let shackle = if open {
        "M5 7V5a3 3 0 0 1 6 0"
    } else {
        "M5 7V5a3 3 0 0 1 6 0v2"
    };
    html! {
        svg.padlock viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" {
            path d=(shackle) fill="none" stroke="currentColor" stroke-width="1.6" {}
            rect x="3" y="7" width="10" height="8" rx="1.5" fill="currentColor" {}
        }
        " "
    }
}

/// "Restricted by the patient", for the overview.
fn locked_note() -> Markup {
    html! { p { (padlock(false)) "Sperret av pasienten." } }
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%d.%m.%Y").to_string()
}

fn layout(title: &str, bar: Option<Markup>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="no" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – Kjernejournal (helsesim)" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.bar {
                    span.logo { "Kjernejournal" }
                    span.sim { "helsesim · test" }
                    @if let Some(bar) = bar { (bar) }
                }
                (body)
                footer { "helsesim simulerer kjernejournal-portalen for test. Ingen ekte \
                          pasientopplysninger." }
            }
        }
    }
}

/// An HTML response of the portal (which an EHR may show in an embedded browser or a frame).
fn response(status: StatusCode, body: Markup) -> HttpResponse {
    crate::errors::mark_formatted(
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(body.into_string()),
    )
}

/// A refusal page with the refusal's status.
pub fn refusal(refusal: Refusal) -> HttpResponse {
    refusal_with_status(refusal, refusal.status())
}

/// A refusal page (also the logged-out page, with 200).
pub fn refusal_with_status(refusal: Refusal, status: StatusCode) -> HttpResponse {
    let body = html! {
        main {
            div.refusal role="alert" {
                h1 { (refusal.title()) }
                p { (refusal.message()) }
                @if let Some(code) = refusal.code() {
                    p.code { "Feilkode: " (code) }
                }
            }
        }
    };
    response(status, layout(refusal.title(), None, body))
}

fn user_bar(ctx: &Context<'_>) -> Markup {
    let facts = &ctx.session.facts;
    html! {
        span.user {
            (facts.user_name.as_deref().unwrap_or("Helsepersonell"))
            @if let Some(hpr) = &facts.hpr { " · HPR " (hpr) }
            @if let Some(org) = ctx.organisation.or(facts.point_of_care.as_deref()) {
                " · " (org)
            }
            a href="../loggut" { "Logg ut" }
        }
    }
}

fn patient_header(ctx: &Context<'_>) -> Markup {
    let facts = &ctx.session.facts;
    let basis: AccessBasis = facts.access_basis;
    html! {
        section.patient {
            h1 { (ctx.record.name.as_deref().unwrap_or("Navn ikke registrert")) }
            div.facts {
                span { "Fødselsnummer " strong.fnr { (facts.patient) } }
                span { "Tilgangsgrunnlag: " (samtykke_label(basis.samtykke()))
                       " (" (basis.samtykke().as_str()) ")" }
                @if !ctx.patient.allergies.is_empty() {
                    span.badge.critical { "Kritisk informasjon" }
                }
                @for m in &ctx.record.blocked_modules {
                    span.badge.lock { (padlock(false)) (Tab::of(*m).label()) " sperret" }
                }
            }
        }
        nav.tabs aria-label="Kjernejournal" {
            @for tab in Tab::ALL {
                @if tab == ctx.tab {
                    a href=(tab.slug()) aria-current="page" { (tab.label()) }
                } @else {
                    a href=(tab.slug()) { (tab.label()) }
                }
            }
        }
    }
}

/// The patient page on its tab.
pub fn patient_page(ctx: &Context<'_>) -> HttpResponse {
    let content = match ctx.tab {
        Tab::Overview => overview(ctx),
        Tab::Critical => module(ctx, KjModule::KritiskInfo, critical),
        Tab::Medications => module(ctx, KjModule::Legemidler, medications),
    };
    let title = ctx.record.name.as_deref().unwrap_or("Pasient");
    let body = html! {
        (patient_header(ctx))
        main { (content) }
    };
    response(StatusCode::OK, layout(title, Some(user_bar(ctx)), body))
}

/// A module's tab: its content, or the padlock and the prompt.
fn module(ctx: &Context<'_>, m: KjModule, content: fn(&Context<'_>) -> Markup) -> Markup {
    match module_state(ctx.record, &ctx.session.opened, m) {
        ModuleState::Open => content(ctx),
        ModuleState::Opened(basis) => html! {
            p.opened { (padlock(true)) "Sperret del åpnet med grunnlag: " (samtykke_label(basis))
                       " (" (basis.as_str()) "). Åpningen er logget og vises for pasienten." }
            (content(ctx))
        },
        ModuleState::Locked => locked(ctx, m),
    }
}

/// The padlock and the access-basis prompt of a restricted module.
fn locked(ctx: &Context<'_>, m: KjModule) -> Markup {
    let suggested = match ctx.session.facts.access_basis {
        AccessBasis::Samtykke => Some(Samtykke::HpMottattSamtykke),
        AccessBasis::Akutt => Some(Samtykke::HpAkutt),
        AccessBasis::Unntak => None,
    };
    let label = Tab::of(m).label();
    html! {
        section.locked {
            h2 { (padlock(false)) (label) " er sperret av pasienten" }
            p { "Pasienten har sperret denne delen av kjernejournal. Den kan bare åpnes med \
                 pasientens samtykke eller i en akuttsituasjon. Åpningen logges og vises for \
                 pasienten." }
            @if suggested.is_none() {
                p.muted { "Tilgangsgrunnlaget fra journalsystemet er unntak fra samtykke \
                           (HPUNNTAK), som ikke åpner en sperret del: velg grunnlag." }
            }
            form method="post" action="apne" {
                input type="hidden" name="modul" value=(m.as_str());
                input type="hidden" name="csrf" value=(ctx.session.csrf);
                fieldset {
                    legend { "Grunnlag for å åpne " (label) }
                    @for s in [Samtykke::HpMottattSamtykke, Samtykke::HpAkutt] {
                        label {
                            input type="radio" name="grunnlag" value=(s.as_str())
                                  checked[suggested == Some(s)] required;
                            " " (samtykke_label(s)) " (" (s.as_str()) ")"
                        }
                    }
                }
                button type="submit" { "Åpne " (label) }
            }
        }
    }
}

fn overview(ctx: &Context<'_>) -> Markup {
    let opened = &ctx.session.opened;
    let critical = module_state(ctx.record, opened, KjModule::KritiskInfo);
    let medications = module_state(ctx.record, opened, KjModule::Legemidler);
    let active = ctx
        .patient
        .prescriptions
        .iter()
        .filter(|p| p.status.is_active() && !p.locked)
        .count();
    html! {
        @if critical == ModuleState::Locked {
            section.card { h2 { "Kritisk informasjon" } (locked_note()) }
        } @else if ctx.patient.allergies.is_empty() {
            section.card { h2 { "Kritisk informasjon" }
                           p.muted { "Ingen kritisk informasjon er registrert." } }
        } @else {
            section.card.critical {
                h2 { "Kritisk informasjon" }
                ul { @for a in &ctx.patient.allergies {
                    li { strong { (a.substance) } @if let Some(r) = &a.reaction { " – " (r) } }
                } }
            }
        }
        section.card {
            h2 { "Legemidler" }
            @if medications == ModuleState::Locked { (locked_note()) }
            @else {
                p { (active) " aktive resepter i Reseptformidleren." }
                @if let Some(pll) = &ctx.patient.pll {
                    p { "Legemiddelliste (PLL) sist oppdatert " (date(pll.date)) "." }
                }
            }
        }
        @if ctx.record.own_health_information {
            section.card { h2 { "Pasientens egne registreringer" }
                           p { "Pasienten har registrert egne helseopplysninger." } }
        }
    }
}

fn criticality(a: &Allergy) -> &'static str {
    match a.criticality.as_str() {
        "high" => "Høy",
        "low" => "Lav",
        _ => "Kan ikke vurderes",
    }
}

fn category(a: &Allergy) -> &'static str {
    match a.category() {
        "medication" => "Legemiddel",
        "food" => "Næringsmiddel",
        "biologic" => "Biologisk",
        _ => "Miljø",
    }
}

fn critical(ctx: &Context<'_>) -> Markup {
    html! {
        section.card.critical {
            h2 { "Allergier og reaksjoner" }
            @if ctx.patient.allergies.is_empty() {
                p.muted { "Ingen kritisk informasjon er registrert." }
            } @else {
                table {
                    thead { tr { th { "Gjelder" } th { "Type" } th { "Kritikalitet" }
                                 th { "Reaksjon" } th { "Registrert" } } }
                    tbody { @for a in &ctx.patient.allergies {
                        tr {
                            td { strong { (a.substance) } }
                            td { (category(a)) }
                            td { (criticality(a)) }
                            td { (a.reaction.as_deref().unwrap_or("")) }
                            td { (date(a.recorded)) }
                        }
                    } }
                }
            }
        }
    }
}

fn status_label(status: RfStatus) -> &'static str {
    match status {
        RfStatus::Ekspederbar => "Ekspederbar",
        RfStatus::UnderEkspedering => "Under ekspedering",
        RfStatus::Ekspedert => "Ekspedert",
        RfStatus::Tilbakekalt => "Tilbakekalt",
    }
}

fn dosage(statement: &serde_json::Value) -> &str {
    statement["dosage"][0]["text"].as_str().unwrap_or("")
}

fn medications(ctx: &Context<'_>) -> Markup {
    let shown: Vec<_> = ctx
        .patient
        .prescriptions
        .iter()
        .filter(|p| !p.locked)
        .collect();
    let hidden = ctx.patient.has_locked_prescriptions();
    html! {
        section.card {
            h2 { "Resepter" }
            @if shown.is_empty() { p.muted { "Ingen resepter." } } @else {
                table {
                    thead { tr { th { "Legemiddel" } th { "Dosering" } th { "Status" } } }
                    tbody { @for p in &shown {
                        tr { td { (p.entry.display()) } td { (dosage(&p.entry.statement)) }
                             td { (status_label(p.status)) } }
                    } }
                }
            }
            @if hidden { p.muted { "Pasienten har låste resepter som ikke vises." } }
        }
        @if let Some(pll) = &ctx.patient.pll {
            section.card {
                h2 { "Legemiddelliste (PLL), oppdatert " (date(pll.date)) }
                table {
                    thead { tr { th { "Legemiddel" } th { "Dosering" } } }
                    tbody { @for e in &pll.entries {
                        tr { td { (e.display()) } td { (dosage(&e.statement)) } }
                    } }
                }
            }
        }
        @if let Some(m) = &ctx.patient.multidose {
            section.card { h2 { "Multidose" }
                           p { "Lege: " (m.doctor.name) ". Apotek: " (m.pharmacy.name) "." } }
        }
    }
}
