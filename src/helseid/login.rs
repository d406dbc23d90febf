//! `/helseid/connect/authorize` and the test IdP's login page (`/helseid/login`).
//!
//! Errors before the redirect URI is known to be registered are shown on an error page; errors
//! after go back to the client as `error`/`error_description`/`state`/`iss`.

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

use super::State;
use super::flow::{
    AuthorizationCode, AuthorizationRequest, CODE_LIFETIME, LOGIN_LIFETIME, LoginTransaction,
    REQUEST_URI_PREFIX, ResponseMode, SESSION_LIFETIME, Session, TestLogin,
};
use super::form::{FormParams, browser_params};
use super::model::{ApiResources, Client, User, UserEntry};
use super::request::{self, RequestError};
use crate::errors::oauth::{OAuthError, OAuthErrorCode};
use crate::random;
use crate::ui::{self, LoginPage, TypedUser, UserRow};

/// The browser-session cookie (the `sid`), scoped to `/helseid`.
pub const SESSION_COOKIE: &str = "helsesim.session";
/// Where the login page posts.
pub const LOGIN_PATH: &str = "/helseid/login";

/// Who completes a login.
#[derive(Debug)]
enum LoginAs {
    /// The user of an existing session (single sign-on, `prompt=none`).
    Session(String),
    /// A user who just logged in (a new session).
    User(User),
}

#[derive(Debug)]
enum Next {
    ShowLoginPage(String, AuthorizationRequest),
    Complete(AuthorizationRequest, LoginAs),
}

/// `GET|POST /helseid/connect/authorize`.
pub async fn authorize(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    let params = match browser_params(&req, &body) {
        Ok(params) => params,
        Err(error) => return error_page(&error),
    };
    let now = state.clock.now();
    let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    match begin(&state, params, cookie.as_deref(), now) {
        Ok(Next::ShowLoginPage(transaction, request)) => render_login(
            &state,
            &transaction,
            &request,
            None,
            TypedUser::default(),
            StatusCode::OK,
        ),
        Ok(Next::Complete(request, login_as)) => complete(&state, &req, request, login_as, now),
        Err(RequestError::Page(error)) => error_page(&error),
        Err(RequestError::Redirect(redirect)) => respond_error(
            &state,
            &redirect.redirect_uri,
            redirect.response_mode,
            redirect.state,
            &redirect.error,
        ),
    }
}

/// The authorize request's steps: the client, the request (pushed, or validated here), then who
/// completes the login.
fn begin(
    state: &State,
    params: FormParams,
    cookie_sid: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Next, RequestError> {
    let (client, resources) = requesting_client(state, &params)?;
    let request = match params.get("request_uri") {
        Some(uri) => pushed_request(state, uri, &client, now)?,
        None => direct_request(state, params, &client, &resources, now)?,
    };
    let autologin = autologin_user(state, &request);
    let mut flows = state.flows(now);
    let session = cookie_sid
        .filter(|sid| flows.sessions.get(*sid).is_some_and(|s| s.expires > now))
        .map(str::to_owned);
    match who_completes(&request, session, autologin)? {
        Some(login_as) => Ok(Next::Complete(request, login_as)),
        None => {
            let transaction = random::url_token(24);
            flows.logins.insert(
                transaction.clone(),
                LoginTransaction {
                    request: request.clone(),
                    expires: crate::clock::after(now, LOGIN_LIFETIME),
                },
            );
            Ok(Next::ShowLoginPage(transaction, request))
        }
    }
}

fn page_error(code: OAuthErrorCode, message: impl Into<String>) -> RequestError {
    RequestError::Page(OAuthError::new(code, message))
}

/// The client named by `client_id`, and the API resources as they are now.
fn requesting_client(
    state: &State,
    params: &FormParams,
) -> Result<(Arc<Client>, Arc<ApiResources>), RequestError> {
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page_error(OAuthErrorCode::InvalidRequest, "client_id is missing"))?;
    let store = state.store();
    let client = store.clients.get(client_id).cloned().ok_or_else(|| {
        page_error(
            OAuthErrorCode::InvalidClient,
            format!("Unknown client '{client_id}'"),
        )
    })?;
    Ok((client, store.resources.clone()))
}

/// The request pushed to PAR under `uri` by this client: taken, so used once.
fn pushed_request(
    state: &State,
    uri: &str,
    client: &Client,
    now: DateTime<Utc>,
) -> Result<AuthorizationRequest, RequestError> {
    let gone = || {
        page_error(
            OAuthErrorCode::InvalidRequestUri,
            "The request_uri is unknown, expired or already used: push the request to \
             /connect/par again (request URIs are single use and live 60 seconds)",
        )
    };
    if !uri.starts_with(REQUEST_URI_PREFIX) {
        return Err(gone());
    }
    let (request, expires) = state.flows(now).pushed.remove(uri).ok_or_else(gone)?;
    if expires <= now {
        return Err(gone());
    }
    if request.client_id != client.id() {
        return Err(page_error(
            OAuthErrorCode::InvalidRequestUri,
            "The request_uri was pushed by another client",
        ));
    }
    Ok(request)
}

/// A request sent to `/connect/authorize` itself (clients that need not use PAR), validated.
fn direct_request(
    state: &State,
    mut params: FormParams,
    client: &Client,
    resources: &ApiResources,
    now: DateTime<Utc>,
) -> Result<AuthorizationRequest, RequestError> {
    if client.entry.require_par {
        let message = "This client must use PAR: push the authorization request to /connect/par \
                       and send only client_id and request_uri to /connect/authorize";
        return Err(match params.get("redirect_uri") {
            Some(uri) if client.allows_redirect_uri(uri, &state.endpoints.base) => {
                RequestError::redirect(
                    OAuthError::invalid_request(message),
                    uri,
                    params.get("state").map(str::to_owned),
                    ResponseMode::Query,
                )
            }
            _ => page_error(OAuthErrorCode::InvalidRequest, message),
        });
    }
    let details = request::apply_request_object(&mut params, client, &state.endpoints, now)
        .map_err(RequestError::Page)?;
    request::validate(
        &params,
        client,
        resources,
        details,
        None,
        &state.endpoints.base,
    )
}

/// Who logs in without the page: the person the test IdP's `test_pid` names (always), else the
/// fixture user the request's `login_hint` names, when auto-login is on.
fn autologin_user(state: &State, request: &AuthorizationRequest) -> Option<User> {
    if let Some(test) = &request.test_login {
        return test_idp_user(state.store().user(&test.pid).map(|u| &u.entry), test);
    }
    let hint = request.login_hint.as_deref().filter(|_| state.autologin)?;
    state.store().user(hint).map(|user| User::clone(user))
}

/// The test IdP's person: the fixture user with that pid (names, HPR number) or a "Test
/// Testesen" without HPR number, at the requested security level.
fn test_idp_user(fixture: Option<&UserEntry>, test: &TestLogin) -> Option<User> {
    let entry = match fixture {
        Some(entry) => UserEntry {
            security_level: test.security_level.clone(),
            ..entry.clone()
        },
        None => UserEntry {
            pid: test.pid.clone(),
            given_name: "Test".to_owned(),
            middle_name: None,
            family_name: "Testesen".to_owned(),
            hpr_number: None,
            security_level: test.security_level.clone(),
            description: None,
        },
    };
    // The request's pid and level were checked when it was validated.
    User::validate(entry).ok()
}

/// Who completes a valid request without the login page, if anyone: with `prompt=none` the
/// live `session` (else `login_required`), else the fixture user `login_hint` names when
/// auto-login is on (`autologin`), else the live session unless `prompt=login`.
fn who_completes(
    request: &AuthorizationRequest,
    session: Option<String>,
    autologin: Option<User>,
) -> Result<Option<LoginAs>, RequestError> {
    if request.prompt.as_deref() == Some("none") {
        return match session {
            Some(sid) => Ok(Some(LoginAs::Session(sid))),
            None => Err(RequestError::redirect(
                OAuthError::new(
                    OAuthErrorCode::LoginRequired,
                    "prompt=none, but nobody is logged in at HelseID",
                ),
                &request.redirect_uri,
                request.state.clone(),
                request.response_mode,
            )),
        };
    }
    if let Some(user) = autologin {
        return Ok(Some(LoginAs::User(user)));
    }
    Ok(session
        .filter(|_| request.prompt.as_deref() != Some("login"))
        .map(LoginAs::Session))
}

/// `POST /helseid/login`: the login page's forms.
pub async fn login(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let params = match FormParams::parse(&body) {
        Ok(params) => params,
        Err(error) => return error_page(&error),
    };
    let now = state.clock.now();
    let expired = || {
        error_page(&OAuthError::invalid_request(
            "The login has expired or is already completed: start again from the EHR",
        ))
    };
    let Some(transaction) = params.get("transaction") else {
        return expired();
    };
    let Some(pending) = state
        .flows(now)
        .logins
        .get(transaction)
        .filter(|t| t.expires > now)
        .cloned()
    else {
        return expired();
    };
    let request = pending.request;
    let typed = TypedUser {
        pid: params.get("custom_pid").unwrap_or_default(),
        hpr_number: params.get("custom_hpr").unwrap_or_default(),
        given_name: params.get("custom_given_name").unwrap_or_default(),
        family_name: params.get("custom_family_name").unwrap_or_default(),
        security_level: params.get("custom_security_level").unwrap_or("4"),
    };
    if params.get("action") == Some("cancel") {
        state.flows(now).logins.remove(transaction);
        let error = OAuthError::new(OAuthErrorCode::AccessDenied, "The user cancelled the login");
        return respond_error(
            &state,
            &request.redirect_uri,
            request.response_mode,
            request.state.clone(),
            &error,
        );
    }
    let chosen = if let Some(pid) = params.get("pid") {
        state
            .store()
            .user(pid)
            .map(|u| User::clone(u))
            .ok_or_else(|| format!("Det finnes ingen testbruker med fødselsnummer {pid}"))
    } else if !typed.pid.is_empty() {
        User::validate(UserEntry {
            pid: typed.pid.to_owned(),
            given_name: non_empty(typed.given_name, "Test"),
            middle_name: None,
            family_name: non_empty(typed.family_name, "Testesen"),
            hpr_number: (!typed.hpr_number.is_empty()).then(|| typed.hpr_number.to_owned()),
            security_level: typed.security_level.to_owned(),
            description: None,
        })
        .map_err(|e| norwegian(&e, typed))
    } else {
        Err("Velg en testbruker, eller skriv inn et fødselsnummer".to_owned())
    };
    match chosen {
        Ok(user) => {
            state.flows(now).logins.remove(transaction);
            complete(&state, &req, request, LoginAs::User(user), now)
        }
        Err(message) => render_login(
            &state,
            transaction,
            &request,
            Some(&message),
            typed,
            StatusCode::BAD_REQUEST,
        ),
    }
}

/// The login page speaks Norwegian: a typed user's problem in Norwegian.
fn norwegian(error: &crate::errors::FieldError, typed: TypedUser<'_>) -> String {
    match error.field.as_str() {
        "pid" => {
            use crate::ids::{NationalId, NationalIdError};
            let why = match NationalId::parse(typed.pid) {
                Err(NationalIdError::Format(_)) => "det må være 11 siffer",
                Err(NationalIdError::Date(_)) => {
                    "de seks første sifrene er ikke en dato (i hundreåret individnummeret gir)"
                }
                Err(NationalIdError::Control(_)) => "kontrollsifrene stemmer ikke",
                Ok(_) => "det kan ikke brukes",
            };
            format!(
                "«{}» er ikke et fødselsnummer eller D-nummer: {why}",
                typed.pid
            )
        }
        "hpr_number" => format!(
            "«{}» er ikke et gyldig HPR-nummer: ett til ni siffer",
            typed.hpr_number
        ),
        "security_level" => "Velg sikkerhetsnivå 3 eller 4".to_owned(),
        _ => format!("Brukeren kan ikke logges inn: {}", error.message),
    }
}

fn non_empty(value: &str, default: &str) -> String {
    if value.trim().is_empty() {
        default.to_owned()
    } else {
        value.trim().to_owned()
    }
}

fn render_login(
    state: &State,
    transaction: &str,
    request: &AuthorizationRequest,
    error: Option<&str>,
    typed: TypedUser<'_>,
    status: StatusCode,
) -> HttpResponse {
    let store = state.store();
    let client = store
        .clients
        .get(&request.client_id)
        .and_then(|c| c.entry.name.clone())
        .unwrap_or_else(|| request.client_id.clone());
    let users: Vec<UserRow> = store
        .users
        .iter()
        .map(|u| UserRow {
            name: u.name(),
            pid: u.pid().to_owned(),
            pid_label: match u.pid_kind {
                crate::ids::NationalIdKind::Dnr => "D-nummer",
                crate::ids::NationalIdKind::Fnr => "Fødselsnummer",
            },
            hpr_number: u.entry.hpr_number.clone(),
            security_level: u.entry.security_level.clone(),
            description: u.entry.description.clone(),
        })
        .collect();
    let organisation = store
        .clients
        .get(&request.client_id)
        .and_then(|c| login_organisation(c, request.details.as_ref()));
    drop(store);
    let action = format!("{}/login", state.endpoints.issuer);
    let page = LoginPage {
        client: &client,
        organisation: organisation.as_deref(),
        scopes: &request.scopes,
        action: &action,
        transaction,
        users: &users,
        error,
        typed,
    };
    ui::html_response(status, ui::login_page(&page))
}

/// Which organisation the login is for, as the page shows it: the request's organisation
/// details, else the client's own organisation.
fn login_organisation(
    client: &crate::helseid::model::Client,
    details: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<String> {
    let empty = serde_json::Map::new();
    let org = super::tenancy::resolve(client, details.unwrap_or(&empty)).ok()?;
    let parent = org.parent?;
    Some(match org.child {
        Some(child) => format!("organisasjonsnummer {parent}, underenhet {child}"),
        None => format!("organisasjonsnummer {parent}"),
    })
}

/// Issues the code (and the session) and sends the browser back to the client.
fn complete(
    state: &State,
    req: &HttpRequest,
    request: AuthorizationRequest,
    login_as: LoginAs,
    now: DateTime<Utc>,
) -> HttpResponse {
    let mut flows = state.flows(now);
    let (sid, session, new_session) = match login_as {
        LoginAs::Session(sid) => match flows.sessions.get(&sid) {
            Some(session) => (sid, session.clone(), false),
            None => {
                return error_page(&OAuthError::invalid_request(
                    "The session ended during the login: start again from the EHR",
                ));
            }
        },
        LoginAs::User(user) => {
            let session = Session {
                user,
                auth_time: now,
                expires: crate::clock::after(now, SESSION_LIFETIME),
            };
            let sid = random::hex_id();
            flows.known_users.insert(
                super::tokens::subject(session.user.pid()),
                session.user.clone(),
            );
            flows.sessions.insert(sid.clone(), session.clone());
            (sid, session, true)
        }
    };
    let code = format!("{}{}-1", random::hex_id(), random::hex_id());
    flows.codes.insert(
        code.clone(),
        AuthorizationCode {
            request: request.clone(),
            user: session.user,
            auth_time: session.auth_time,
            sid: sid.clone(),
            expires: crate::clock::after(now, CODE_LIFETIME),
            redeemed: None,
        },
    );
    drop(flows);
    let mut fields = vec![("code", code)];
    if let Some(client_state) = &request.state {
        fields.push(("state", client_state.clone()));
    }
    fields.push(("iss", state.endpoints.issuer.clone()));
    fields.push(("session_state", random::url_token(24)));
    let mut response = respond(&request.redirect_uri, request.response_mode, &fields);
    if new_session {
        let secure = req.connection_info().scheme() == "https";
        let cookie = Cookie::build(SESSION_COOKIE, sid)
            .path("/helseid")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .finish();
        if let Err(e) = response.add_cookie(&cookie) {
            log::warn!("could not set the session cookie: {e}");
        }
    }
    response
}

/// An error sent back to the client's (registered) redirect URI.
fn respond_error(
    state: &State,
    redirect_uri: &str,
    mode: ResponseMode,
    client_state: Option<String>,
    error: &OAuthError,
) -> HttpResponse {
    let mut fields = vec![
        ("error", error.code.as_str().to_owned()),
        ("error_description", error.description.clone()),
    ];
    if let Some(client_state) = client_state {
        fields.push(("state", client_state));
    }
    fields.push(("iss", state.endpoints.issuer.clone()));
    respond(redirect_uri, mode, &fields)
}

fn respond(redirect_uri: &str, mode: ResponseMode, fields: &[(&str, String)]) -> HttpResponse {
    match mode {
        ResponseMode::FormPost => ui::form_post(redirect_uri, fields),
        ResponseMode::Query | ResponseMode::Fragment => match url::Url::parse(redirect_uri) {
            Ok(mut url) => {
                if mode == ResponseMode::Query {
                    url.query_pairs_mut()
                        .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())));
                } else {
                    let fragment = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
                        .finish();
                    url.set_fragment(Some(&fragment));
                }
                HttpResponse::Found()
                    .insert_header((header::LOCATION, url.as_str()))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish()
            }
            // Registered redirect URIs are validated as absolute URLs.
            Err(e) => error_page(&OAuthError::new(OAuthErrorCode::ServerError, e.to_string())),
        },
    }
}

fn error_page(error: &OAuthError) -> HttpResponse {
    let status = if error.code == OAuthErrorCode::ServerError {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    ui::error_page(status, error.code.as_str(), &error.description)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(prompt: Option<&str>) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "c".to_owned(),
            redirect_uri: "https://ehr.example/cb".to_owned(),
            scopes: vec!["openid".to_owned()],
            resources: Vec::new(),
            state: Some("s".to_owned()),
            nonce: None,
            code_challenge: "x".repeat(43),
            prompt: prompt.map(str::to_owned),
            login_hint: None,
            test_login: None,
            response_mode: ResponseMode::Query,
            dpop_jkt: None,
            details: None,
        }
    }

    fn user() -> User {
        User::testesen("17056600574")
    }

    #[test]
    fn the_test_idp_logs_in_a_fixture_user_or_a_test_testesen_at_the_level_asked() {
        let level_3 = |pid: &str| TestLogin {
            pid: pid.to_owned(),
            security_level: "3".to_owned(),
        };
        let mut fixture = user().entry;
        fixture.hpr_number = Some("431001110".to_owned());
        let known = test_idp_user(Some(&fixture), &level_3("17056600574")).unwrap();
        assert_eq!(known.entry.hpr_number.as_deref(), Some("431001110"));
        assert_eq!(known.entry.security_level, "3");
        let typed = test_idp_user(None, &level_3("12050050295")).unwrap();
        assert_eq!(typed.pid(), "12050050295");
        assert_eq!(typed.entry.family_name, "Testesen");
        assert_eq!(typed.entry.hpr_number, None);
        assert_eq!(typed.entry.security_level, "3");
    }

    fn who(prompt: Option<&str>, session: Option<&str>, autologin: bool) -> String {
        let autologin = autologin.then(user);
        match who_completes(&request(prompt), session.map(str::to_owned), autologin) {
            Ok(Some(LoginAs::Session(sid))) => format!("session {sid}"),
            Ok(Some(LoginAs::User(user))) => format!("user {}", user.pid()),
            Ok(None) => "login page".to_owned(),
            Err(RequestError::Redirect(redirect)) => format!("redirect {}", redirect.error.code),
            Err(RequestError::Page(error)) => format!("page {}", error.code),
        }
    }

    #[test]
    fn prompt_none_takes_the_session_or_answers_login_required() {
        assert_eq!(who(Some("none"), Some("s1"), true), "session s1");
        assert_eq!(who(Some("none"), None, true), "redirect login_required");
    }

    #[test]
    fn auto_login_comes_before_the_session_and_prompt_login_skips_the_session() {
        assert_eq!(who(None, Some("s1"), true), "user 17056600574");
        assert_eq!(who(Some("login"), None, true), "user 17056600574");
        assert_eq!(who(None, Some("s1"), false), "session s1");
        assert_eq!(who(Some("login"), Some("s1"), false), "login page");
        assert_eq!(who(None, None, false), "login page");
    }
}
