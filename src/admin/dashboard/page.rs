//! The dashboard's HTML: a static shell (headings, empty containers, the stylesheet and the
//! script, all embedded). It carries no data: the script loads everything from the control
//! plane's JSON APIs, with the admin token when one is set, so the page can be served to anyone.

use std::sync::LazyLock;

use base64::Engine as _;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::service::Service;

/// The stylesheet, inlined.
pub const STYLE: &str = include_str!("dashboard.css");
/// The script, inlined.
pub const SCRIPT: &str = include_str!("dashboard.js");
/// The favicon: a data URI, so the browser asks the server for nothing but the APIs.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 \
                       32 32'%3E%3Crect width='32' height='32' rx='8' fill='%230a6aa1'/%3E%3Cpath \
                       d='M5 17h6l3-7 4 13 3-6h6' fill='none' stroke='white' stroke-width='2.6' \
                       stroke-linecap='round' stroke-linejoin='round'/%3E%3C/svg%3E";

fn sha256_source(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

/// The page's Content-Security-Policy: only its own inline script and stylesheet (by hash), and
/// requests to the same origin.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        sha256_source(SCRIPT),
        sha256_source(STYLE)
    )
});

/// The logo: a pulse line in a rounded square.
fn logo() -> Markup {
    html! {
        svg.logo viewBox="0 0 32 32" aria-hidden="true" width="30" height="30" {
            rect width="32" height="32" rx="8" fill="currentColor" {}
            path d="M5 17h6l3-7 4 13 3-6h6" fill="none" stroke="#fff" stroke-width="2.6"
                stroke-linecap="round" stroke-linejoin="round" {}
        }
    }
}

fn section_head(id: &str, title: &str, hint: &str) -> Markup {
    html! {
        div.section-head {
            h2 id=(format!("{id}-title")) { (title) }
            p.hint { (hint) }
        }
    }
}

/// The whole page. `locked`: the control plane wants `HELSESIM_ADMIN_TOKEN`, so the page asks
/// for it before calling an API (whether a token is set is no secret: every API says so).
pub fn shell(locked: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { "helsesim · dashboard" }
                link rel="icon" href=(FAVICON);
                style { (PreEscaped(STYLE)) }
            }
            body data-admin-token=(if locked { "required" } else { "none" }) {
                (top_bar())
                (unlock_form())
                main #app {
                    section #services {
                        (section_head("services", "Services", "Point your EHR's test configuration \
                            at these base URLs instead of NHN's test hosts."))
                        div.grid.services #service-list {}
                        div.tools #tools {}
                    }
                    div.split {
                        (journal_card())
                        aside.side {
                            section.card #messages {
                                div.card-head {
                                    h2 #messages-title { "SFM messages" }
                                    span.count #messages-count {}
                                }
                                ol.messages #message-list {}
                                p.empty #messages-empty {
                                    "No messages yet: " code { "$sendMedication" }
                                    " sends M1 (prescription), M5 (withdrawal) and M25.1 (PLL)."
                                }
                            }
                            (faults_card())
                            (scenarios_card())
                            (advice_card())
                        }
                    }
                    (configuration_section())
                    section #patients {
                        (section_head("patients", "Patients", "The national systems' patients and \
                            every SFM instance's register: kjernejournal status (helseindikator \
                            0–4), valid SFM patient tickets, medication and allergies."))
                        p.muted #patients-shown hidden {}
                        div.patients #patient-list {}
                    }
                    section #clients {
                        (section_head("clients", "Clients", "HelseID clients with their published \
                            test keys: paste a command to get a system token."))
                        div.card.table-wrap { table.list #client-table {
                            thead { tr {
                                th { "Client" } th { "Organisation" } th { "helsesim token" }
                            } }
                            tbody {}
                        } }
                    }
                    (users_and_instances())
                }
                footer.foot #footer {
                    span { "helsesim simulates NHN's test services. Its keys are published test \
                            keys: never use it with real data." }
                    span #settings {}
                }
                div.toasts #toasts aria-live="polite" {}
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

/// The bar on top: the sections, the clock and the state buttons.
fn top_bar() -> Markup {
    html! {
        header.top {
            div.bar {
                a.brand href="#" {
                    (logo())
                    span.word { "helsesim" }
                    span.tag { "dashboard" }
                }
                nav.jump aria-label="Sections" {
                    a href="#services" { "Services" }
                    a href="#journal" { "Requests" }
                    a href="#configuration" { "Config" }
                    a href="#patients" { "Patients" }
                    a href="#clients" { "Clients" }
                    a href="/epj/" title="A small web EHR doing the clinician's whole flow" {
                        "Demo EHR"
                    }
                }
                div.clock #clock aria-label="helsesim's clock" {
                    div.clock-read {
                        span.clock-time #clock-time { "--:--:--" }
                        span.clock-meta {
                            span #clock-date { "" }
                            span.offset #clock-offset { "" }
                        }
                    }
                    div.clock-buttons role="group" aria-label="Move the clock" {
                        button.ghost type="button" data-advance="PT1H"
                            title="Advance the clock by one hour" { "+1 h" }
                        button.ghost type="button" data-advance="PT4H"
                            title="Advance the clock by four hours" { "+4 h" }
                        button.ghost type="button" data-advance="P1D"
                            title="Advance the clock by one day" { "+1 day" }
                        button.ghost #clock-reset type="button"
                            title="Back to the real time" { "Now" }
                    }
                }
                div.actions {
                    button.ghost #state-save type="button" title="Download the whole state as a \
                        JSON document (GET /_admin/state)" { "Save state" }
                    label.button.ghost #state-load-label for="state-load" title="Replace the whole \
                        state with a saved document (PUT /_admin/state)" { "Load state" }
                    input #state-load type="file" accept="application/json,.json" hidden;
                    button.danger #reset type="button" title="Every service back to the fixtures \
                        (the clock, fault rules and the journal stay)" { "Reset state" }
                }
            }
        }
    }
}

/// Where a locked control plane's token is entered.
fn unlock_form() -> Markup {
    html! {
        section.unlock #unlock hidden {
            div.card.unlock-card {
                h2 { "This control plane is locked" }
                p { "helsesim runs with " code { "HELSESIM_ADMIN_TOKEN" } ". Enter the token to \
                    use the dashboard; it is kept for this tab only." }
                form #unlock-form {
                    label for="unlock-token" { "Admin token" }
                    div.row {
                        input #unlock-token type="password" autocomplete="off" required;
                        button.primary type="submit" { "Unlock" }
                    }
                    p.error #unlock-error hidden {}
                }
            }
        }
    }
}

/// The live request journal.
fn journal_card() -> Markup {
    html! {
        section.card.journal #journal {
            div.card-head {
                h2 #journal-title { "Live requests" }
                span.live #live title="The page refreshes every 2 seconds while it is \
                                       visible" { span.dot {} span #live-text { "connecting" } }
                div.tools-inline {
                    select #journal-service aria-label="Only requests to" {
                        option value="" { "All services" }
                        @for service in Service::ALL {
                            option value=(service.name()) { (service.display_name()) }
                        }
                        option value="none" { "Unknown paths" }
                    }
                    button.ghost #journal-pause type="button" aria-pressed="false" { "Pause" }
                    button.ghost #journal-clear type="button" { "Clear" }
                }
            }
            div.table-wrap {
                table.requests {
                    thead { tr {
                        th.c-time { "Time" } th.c-service { "Service" } th.c-method { "Method" }
                        th.c-path { "Path" } th.c-status { "Status" } th.c-latency { "Latency" }
                    } }
                    tbody #journal-rows {}
                }
            }
            p.empty #journal-empty { "No requests yet. Call a service — its request shows up \
                                      here within two seconds (bodies redacted; click a row)." }
        }
    }
}

/// The integration advisor's findings.
fn advice_card() -> Markup {
    html! {
        section.card #advice {
            div.card-head {
                h2 #advice-title { "Integration advisor" }
                span.count #advice-count {}
                button.ghost.small #advice-clear type="button" { "Forget all" }
            }
            ul.advice #advice-list {}
            p.empty #advice-empty { "No findings: nothing the services' documentation forbids or \
                                    discourages (so far)." }
        }
    }
}

/// The fault rules and the form that adds one.
fn faults_card() -> Markup {
    html! {
        section.card #faults {
            div.card-head {
                h2 #faults-title { "Fault rules" }
                button.ghost.small #faults-clear type="button" { "Remove all" }
            }
            ul.faults #fault-list {}
            p.empty #faults-empty { "No fault rules: every service answers normally." }
            form.fault-form #fault-form {
                div.fields {
                    label { "Service"
                        select name="service" {
                            option value="" { "any" }
                            @for service in Service::ALL {
                                option value=(service.name()) { (service.display_name()) }
                            }
                        }
                    }
                    label { "Method"
                        select name="method" {
                            option value="" { "any" }
                            option { "GET" } option { "POST" } option { "PUT" } option { "DELETE" }
                        }
                    }
                    label.wide { "Path (glob)"
                        input name="path" type="text" value="/sfm/fhir/**" required
                            spellcheck="false";
                    }
                    label { "Fault"
                        select name="mode" {
                            option value="status" { "status" }
                            option value="delay" { "delay" }
                            option value="drop" { "drop connection" }
                        }
                    }
                    label.when-status { "Status"
                        input name="status" type="number" min="100" max="599" value="503";
                    }
                    label.when-delay { "Delay (ms)"
                        input name="delay_ms" type="number" min="0" step="100" value="2000";
                    }
                    label { "Times"
                        input name="times" type="number" min="1" placeholder="∞";
                    }
                }
                button.primary type="submit" { "Add rule" }
            }
        }
    }
}

/// The scenario presets with a button each, the failures they started and what they did.
fn scenarios_card() -> Markup {
    html! {
        section.card #scenarios {
            div.card-head {
                h2 #scenarios-title { "Scenarios" }
                button.ghost.small #scenarios-clear type="button" hidden
                    title="End every failure a scenario started (events stay until a reset)" {
                    "End failures"
                }
            }
            ul.presets #preset-list {}
            p.empty #presets-empty { "No presets: put scenario files in "
                code { "fixtures/scenarios/" } "." }
            h3.sub { "Applied" }
            ol.applied #applied-list {}
            p.empty #applied-empty { "Nothing applied yet: the national side stands still until \
                                       a scenario moves it." }
        }
    }
}

/// Every service's settings as one snippet.
fn configuration_section() -> Markup {
    html! {
        section #configuration {
            (section_head("configuration", "Configuration", "Every service's settings in one file, \
                for your EHR's test environment."))
            div.card.config #config {
                div.card-head {
                    h3 { "HelseID · SFM · Kjernejournal · PTS" }
                    div.seg #config-format role="group" aria-label="Snippet format" {
                        button type="button" data-format="env" aria-pressed="true" { ".env" }
                        button type="button" data-format="appsettings" aria-pressed="false" {
                            "appsettings.json"
                        }
                    }
                    span #config-copy {}
                }
                pre.snippet #config-snippet {}
            }
        }
    }
}

/// The test users and the SFM instances side by side.
fn users_and_instances() -> Markup {
    html! {
        div.split.even {
            section #users {
                (section_head("users", "Test users", "Pick them on the login page or name them in \
                                                      login_hint."))
                div.card.table-wrap { table.list #user-table {
                    thead { tr { th { "Name" } th { "pid" } th { "HPR" } th { "Level" } } }
                    tbody {}
                } }
            }
            section #instances {
                (section_head("instances", "SFM instances", "Tenants by sfm-id / journal-id."))
                div.card.table-wrap { table.list #instance-table {
                    thead { tr {
                        th { "Organisation" } th { "Users" } th { "Patients" } th { "Tickets" }
                    } }
                    tbody {}
                } }
            }
        }
    }
}
