//! Server-rendered pages: HelseID's test-IdP login page, error pages, the `form_post` response
//! and the logged-out page. HTML is escaped by maud; the stylesheet is embedded (no CDN), so the
//! pages work offline.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = include_str!("style.css");

/// A test user as the login page lists it.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Full name.
    pub name: String,
    /// National identity number.
    pub pid: String,
    /// `Fødselsnummer` or `D-nummer`.
    pub pid_label: &'static str,
    /// HPR number.
    pub hpr_number: Option<String>,
    /// Security level.
    pub security_level: String,
    /// Note.
    pub description: Option<String>,
}

/// What the login page shows.
#[derive(Debug, Clone)]
pub struct LoginPage<'a> {
    /// The client asking for the login (its name or id).
    pub client: &'a str,
    /// The organisation the login is for, when known ("organisasjonsnummer 917897468").
    pub organisation: Option<&'a str>,
    /// Requested scopes.
    pub scopes: &'a [String],
    /// Where the form posts.
    pub action: &'a str,
    /// The login transaction.
    pub transaction: &'a str,
    /// The fixture users.
    pub users: &'a [UserRow],
    /// A message about the last attempt (invalid typed pid...).
    pub error: Option<&'a str>,
    /// The typed values, kept after an error.
    pub typed: TypedUser<'a>,
}

/// The "another user" form's values.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypedUser<'a> {
    /// pid.
    pub pid: &'a str,
    /// HPR number.
    pub hpr_number: &'a str,
    /// Given name.
    pub given_name: &'a str,
    /// Family name.
    pub family_name: &'a str,
    /// `3` or `4`.
    pub security_level: &'a str,
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="no" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – helsesim" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    div.brand { span.logo { "HelseID" } span.sim { "helsesim · test" } }
                }
                main { (body) }
                footer {
                    "helsesim simulerer HelseID for test. Ingen ekte identiteter, ingen ekte \
                     innlogging."
                }
            }
        }
    }
}

/// The test IdP's login page.
pub fn login_page(page: &LoginPage<'_>) -> Markup {
    let typed = page.typed;
    layout(
        "Logg inn",
        html! {
            h1 { "Logg inn" }
            p.lead {
                "Testinnlogging (" code { "idp:testidp-oidc" } ") for "
                strong { (page.client) }
                @if let Some(organisation) = page.organisation {
                    ", på vegne av " strong { (organisation) }
                }
                "."
            }
            details.scopes {
                summary { "Forespurte scopes (" (page.scopes.len()) ")" }
                ul { @for scope in page.scopes { li { code { (scope) } } } }
            }
            @if let Some(error) = page.error {
                p.error role="alert" { (error) }
            }
            h2 { "Velg en testbruker" }
            ul.users {
                @for user in page.users {
                    li.user {
                        form method="post" action=(page.action) {
                            input type="hidden" name="transaction" value=(page.transaction);
                            input type="hidden" name="pid" value=(user.pid);
                            button type="submit" name="action" value="login" data-pid=(user.pid) {
                                span.name { (user.name) }
                                span.facts {
                                    (user.pid_label) " " (user.pid)
                                    @match &user.hpr_number {
                                        Some(hpr) => { " · HPR " (hpr) }
                                        None => { " · uten HPR-nummer" }
                                    }
                                    " · sikkerhetsnivå " (user.security_level)
                                }
                                @if let Some(description) = &user.description {
                                    span.note { (description) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Eller en annen bruker" }
            form.custom method="post" action=(page.action) {
                input type="hidden" name="transaction" value=(page.transaction);
                label { "Fødselsnummer eller D-nummer"
                    input type="text" name="custom_pid" inputmode="numeric" pattern="[0-9]{11}"
                        required value=(typed.pid) autocomplete="off"; }
                label { "HPR-nummer (valgfritt)"
                    input type="text" name="custom_hpr" inputmode="numeric"
                        value=(typed.hpr_number); }
                label { "Fornavn"
                    input type="text" name="custom_given_name" value=(typed.given_name); }
                label { "Etternavn"
                    input type="text" name="custom_family_name" value=(typed.family_name); }
                label { "Sikkerhetsnivå"
                    select name="custom_security_level" {
                        option value="4" selected[typed.security_level != "3"] { "4 (høyt)" }
                        option value="3" selected[typed.security_level == "3"] { "3 (betydelig)" }
                    }
                }
                button type="submit" name="action" value="login" { "Logg inn" }
            }
            form.cancel method="post" action=(page.action) {
                input type="hidden" name="transaction" value=(page.transaction);
                button.secondary type="submit" name="action" value="cancel" {
                    "Avbryt innloggingen"
                }
            }
        },
    )
}

/// An error page (never a redirect: the redirect URI could not be trusted).
pub fn error_page(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    let body = layout(
        "Feil",
        html! {
            h1 { "Innloggingen kan ikke fortsette" }
            p.error role="alert" { code { (error) } ": " (description) }
            p { "Start innloggingen på nytt fra journalsystemet." }
        },
    );
    html_response(status, body)
}

/// The `form_post` response: a form that posts the parameters to the client.
pub fn form_post(action: &str, fields: &[(&str, String)]) -> HttpResponse {
    let body = html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; title { "Sender…" } }
            body onload="document.forms[0].submit()" {
                form method="post" action=(action) {
                    @for (name, value) in fields {
                        input type="hidden" name=(name) value=(value);
                    }
                    noscript { button type="submit" { "Fortsett" } }
                }
            }
        }
    };
    html_response(StatusCode::OK, body)
}

/// The page after logout when there is nowhere to go back to.
pub fn logged_out() -> HttpResponse {
    let body = layout(
        "Logget ut",
        html! {
            h1 { "Du er logget ut" }
            p { "Sesjonen hos HelseID (helsesim) er avsluttet." }
        },
    );
    html_response(StatusCode::OK, body)
}

/// An HTML response.
pub fn html_response(status: StatusCode, body: Markup) -> HttpResponse {
    crate::errors::mark_formatted(
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("X-Frame-Options", "DENY"))
            .body(body.into_string()),
    )
}
