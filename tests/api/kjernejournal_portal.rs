//! The Kjernejournal portal stand-in: `hentpasient.html?code=…&ehr_code_verifier=…` redeems
//! Innlogging's code once, sets the portal cookie and shows the patient's kjernejournal with the
//! data APIs' rules; every refusal shows the portal's own page and code.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::kjernejournal_innlogging::{
    HENRIK_NO_HPR, KARI, LARS_LEVEL_3, Opened, Tweak, User, call, create, didrik, mint_user,
};

const PORTAL: &str = "/kjernejournal/hpp-webapp";
const PER_LEGEMIDLER_SPERRET: &str = "14019800513";
const SIRI_KRITISK_SPERRET: &str = "03859243036";
const BENTE_BLOCKED_LARS: &str = "21878540058";
const DMITRI_NO_KJ: &str = "42038540003";

/// Opens the portal as the EHR does.
async fn open(app: &TestApp, code: &str, verifier: &str) -> Reply {
    let request = app
        .http
        .get(app.url(&format!("{PORTAL}/hentpasient.html")))
        .query(&[("code", code), ("ehr_code_verifier", verifier)]);
    Reply::read(request.send().await.unwrap()).await
}

/// The portal cookie a redemption set, as a `Cookie` header value.
#[track_caller]
fn portal_cookie(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    assert_eq!(reply.header("location"), Some("pasient/oversikt"));
    let set = reply.header("set-cookie").expect("Set-Cookie");
    assert!(set.starts_with("KJ_PORTAL_SESSION="), "{set}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/kjernejournal/hpp-webapp"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    set.split(';').next().unwrap().to_owned()
}

async fn page(app: &TestApp, cookie: &str, tab: &str) -> Reply {
    let request = app
        .http
        .get(app.url(&format!("{PORTAL}/pasient/{tab}")))
        .header("Cookie", cookie);
    Reply::read(request.send().await.unwrap()).await
}

/// Creates a session and opens the portal; the cookie.
async fn opened_portal(app: &TestApp, user: &User, patient: &str, basis: &str) -> String {
    let opened = create(app, user, patient, basis).await;
    portal_cookie(&open(app, &opened.code, &opened.pkce.verifier).await)
}

/// Asserts a portal page: HTML, the status, and each text in it.
#[track_caller]
fn assert_page(reply: &Reply, status: u16, texts: &[&str]) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    for text in texts {
        assert!(reply.text.contains(text), "{text:?} in {}", reply.text);
    }
}

#[actix_web::test]
async fn a_status_4_patient_opens_with_the_critical_information() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let opened = create(&app, &user, KARI, "SAMTYKKE").await;
    let redeemed = open(&app, &opened.code, &opened.pkce.verifier).await;
    let cookie = portal_cookie(&redeemed);

    let overview = page(&app, &cookie, "oversikt").await;
    assert_page(
        &overview,
        200,
        &[
            "<h1>Kari Kritisk</h1>",
            "13116900216",
            "Tilgangsgrunnlag: Samtykke fra pasienten (HPMOTTATTSAMTYKKE)",
            "class=\"badge critical\">Kritisk informasjon",
            "Jodholdige kontrastmidler",
            "Peanøtter",
            "Fjellheim legesenter",
            "HPR 431001110",
            "aria-current=\"page\">Oversikt",
        ],
    );
    let critical = page(&app, &cookie, "kritisk-informasjon").await;
    assert_page(
        &critical,
        200,
        &[
            "Allergier og reaksjoner",
            "Anafylaksi",
            "Næringsmiddel",
            "Høy",
        ],
    );
    let medications = page(&app, &cookie, "legemidler").await;
    assert_page(&medications, 200, &["Resepter", "Legemiddelliste (PLL)"]);

    // The code is single-use.
    let again = open(&app, &opened.code, &opened.pkce.verifier).await;
    assert_page(
        &again,
        400,
        &["Billetten er allerede brukt.", "Feilkode: KJF-000011"],
    );
    assert!(again.header("set-cookie").is_none());
    let unknown_tab = page(&app, &cookie, "besokshistorikk").await;
    assert_page(&unknown_tab, 404, &["Siden finnes ikke"]);
}

#[actix_web::test]
async fn code_problems_show_the_portals_error_pages() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let missing = app.get(&format!("{PORTAL}/hentpasient.html")).await;
    assert_page(
        &missing,
        400,
        &["Det mangler en billett", "Feilkode: AUT_105"],
    );
    let unknown = open(&app, "no-such-code", &Pkce::new().verifier).await;
    assert_page(
        &unknown,
        400,
        &["Billetten er ugyldig.", "Feilkode: KJF-000011"],
    );

    let opened = create(&app, &user, KARI, "SAMTYKKE").await;
    let wrong = open(&app, &opened.code, &Pkce::new().verifier).await;
    assert_page(
        &wrong,
        400,
        &["Billetten er ugyldig.", "Feilkode: KJF-000011"],
    );
    let after_wrong = open(&app, &opened.code, &opened.pkce.verifier).await;
    assert_page(&after_wrong, 400, &["Billetten er allerede brukt."]);

    let late = create(&app, &user, KARI, "SAMTYKKE").await;
    advance(&app, 120);
    let expired = open(&app, &late.code, &late.pkce.verifier).await;
    assert_page(
        &expired,
        403,
        &["Billetten er utløpt.", "Feilkode: AUT_002"],
    );

    let ended = create(&app, &user, KARI, "SAMTYKKE").await;
    let body = json!({"sessionId": ended.session_id});
    let reply = call(&app, "end", &user, &body, Tweak::default()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let after_end = open(&app, &ended.code, &ended.pkce.verifier).await;
    assert_page(&after_end, 403, &["Du er logget ut av kjernejournal"]);
}

#[actix_web::test]
async fn a_restricted_module_asks_for_consent_or_emergency() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let cookie = opened_portal(&app, &user, PER_LEGEMIDLER_SPERRET, "UNNTAK").await;
    let locked = page(&app, &cookie, "legemidler").await;
    assert_page(
        &locked,
        200,
        &[
            "Legemidler er sperret av pasienten",
            "Tilgangsgrunnlaget fra journalsystemet er unntak fra samtykke (HPUNNTAK)",
            "value=\"HPMOTTATTSAMTYKKE\"",
            "value=\"HPAKUTT\"",
        ],
    );
    assert!(!locked.text.contains("checked"), "UNNTAK suggests no basis");
    assert!(!locked.text.contains("Resepter"), "{}", locked.text);
    let csrf = locked
        .text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();

    let post = |form: Vec<(&'static str, String)>| {
        let request = app
            .http
            .post(app.url(&format!("{PORTAL}/pasient/apne")))
            .header("Cookie", cookie.clone())
            .form(&form);
        async move { Reply::read(request.send().await.unwrap()).await }
    };
    let forged = post(vec![
        ("modul", "LEGEMIDLER".into()),
        ("grunnlag", "HPAKUTT".into()),
        ("csrf", "forged".into()),
    ])
    .await;
    assert_page(&forged, 400, &["Skjemaet er ugyldig."]);
    let unntak = post(vec![
        ("modul", "LEGEMIDLER".into()),
        ("grunnlag", "HPUNNTAK".into()),
        ("csrf", csrf.clone()),
    ])
    .await;
    assert_page(&unntak, 400, &["Skjemaet er ugyldig."]);
    let akutt = post(vec![
        ("modul", "LEGEMIDLER".into()),
        ("grunnlag", "HPAKUTT".into()),
        ("csrf", csrf),
    ])
    .await;
    assert_eq!(akutt.status, StatusCode::SEE_OTHER, "{}", akutt.text);
    assert_eq!(akutt.header("location"), Some("legemidler"));
    let open_now = page(&app, &cookie, "legemidler").await;
    assert_page(
        &open_now,
        200,
        &[
            "Sperret del åpnet med grunnlag: Akuttsituasjon (HPAKUTT)",
            "Resepter",
            "Pasienten har låste resepter som ikke vises.",
        ],
    );

    // Consent from the EHR is suggested for restricted critical information.
    let siri = opened_portal(&app, &user, SIRI_KRITISK_SPERRET, "SAMTYKKE").await;
    let prompt = page(&app, &siri, "kritisk-informasjon").await;
    assert_page(
        &prompt,
        200,
        &[
            "Kritisk informasjon er sperret av pasienten",
            "value=\"HPMOTTATTSAMTYKKE\" checked",
        ],
    );
    assert!(
        !prompt.text.contains("Hevelse i svelget"),
        "{}",
        prompt.text
    );
    let overview = page(&app, &siri, "oversikt").await;
    assert_page(&overview, 200, &["Sperret av pasienten."]);
}

#[actix_web::test]
async fn a_blocked_professional_sees_nothing_others_see_the_record() {
    let app = spawn_app().await;
    let lars = mint_user(
        &app,
        LARS_LEVEL_3,
        json!({"claims": {"helseid://claims/identity/security_level": "4"}}),
    )
    .await;
    let opened = create(&app, &lars, BENTE_BLOCKED_LARS, "AKUTT").await;
    let refused = open(&app, &opened.code, &opened.pkce.verifier).await;
    assert_page(
        &refused,
        403,
        &[
            "Pasienten har sperret deg som helsepersonell",
            "også i akuttsituasjoner",
        ],
    );
    assert!(!refused.text.contains("Lateks"), "{}", refused.text);
    assert!(refused.header("set-cookie").is_none());

    let didrik = didrik(&app).await;
    let cookie = opened_portal(&app, &didrik, BENTE_BLOCKED_LARS, "SAMTYKKE").await;
    let critical = page(&app, &cookie, "kritisk-informasjon").await;
    assert_page(&critical, 200, &["Bente Blokkert", "Lateks"]);
}

/// Creates a session with `user` for `patient` (a D-nummer needs its own system) and opens it.
pub(crate) async fn try_open(app: &TestApp, user: &User, patient: &str) -> Reply {
    let pkce = Pkce::new();
    let mut body =
        crate::kjernejournal_innlogging::create_body(patient, "SAMTYKKE", &pkce.challenge);
    if patient.starts_with('4') {
        body["claims"]["patient_identifier"]["system"] = json!("urn:oid:2.16.578.1.12.4.1.4.2");
    }
    let reply = call(app, "create", user, &body, Tweak::default()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let opened = Opened {
        code: reply.json["code"].as_str().unwrap().to_owned(),
        session_id: reply.json["sessionId"].as_str().unwrap().to_owned(),
        pkce,
    };
    open(app, &opened.code, &opened.pkce.verifier).await
}

#[actix_web::test]
async fn the_portal_refuses_users_organisations_and_patients_as_documented() {
    let app = spawn_app().await;
    let henrik = mint_user(&app, HENRIK_NO_HPR, json!({})).await;
    assert_page(
        &try_open(&app, &henrik, KARI).await,
        403,
        &[
            "ikke registrert i Helsepersonellregisteret",
            "Feilkode: AUT_108",
        ],
    );
    let no_org = mint_user(
        &app,
        DIDRIK,
        json!({"claims": {"helseid://claims/client/claims/orgnr_parent": null,
                          "helseid://claims/client/claims/orgnr_child": null}}),
    )
    .await;
    assert_page(
        &try_open(&app, &no_org, KARI).await,
        403,
        &["ikke tilknyttet en virksomhet", "Feilkode: AUT_104"],
    );
    let unknown_org = mint_user(
        &app,
        DIDRIK,
        json!({"organization": {"parent": "974600951"}}),
    )
    .await;
    assert_page(
        &try_open(&app, &unknown_org, KARI).await,
        403,
        &[
            "Virksomheten er ukjent for kjernejournal.",
            "Feilkode: KJF-000013",
        ],
    );
    let no_access = mint_user(
        &app,
        DIDRIK,
        json!({"organization": {"parent": "917897468"}}),
    )
    .await;
    assert_page(
        &try_open(&app, &no_access, KARI).await,
        403,
        &[
            "Virksomheten har ikke tilgang til kjernejournal.",
            "Feilkode: KJF-000022",
        ],
    );

    let didrik = didrik(&app).await;
    assert_page(
        &try_open(&app, &didrik, DMITRI_NO_KJ).await,
        404,
        &["Pasienten har ikke kjernejournal"],
    );
    for (fnr, kj, texts) in [
        (
            "01018010018",
            json!({"name": "Ada Adressesperre", "address_protected": true}),
            [
                "Pasienten har adressesperre i Folkeregisteret.",
                "Kjernejournal kan ikke vises",
            ],
        ),
        (
            "15027510091",
            json!({"name": "Ivar Inaktiv", "inactive": true}),
            [
                "Pasienten er ikke aktiv i Folkeregisteret.",
                "Feilkode: KJF-000017",
            ],
        ),
    ] {
        let added = app
            .post_json(
                "/_admin/sfm/national",
                &json!({"patient": fnr, "kjernejournal": kj}),
            )
            .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        assert_page(&try_open(&app, &didrik, fnr).await, 403, &texts);
    }
}

#[actix_web::test]
async fn session_end_loggut_and_expiry_end_the_portal_session() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let opened = create(&app, &user, KARI, "SAMTYKKE").await;
    let cookie = portal_cookie(&open(&app, &opened.code, &opened.pkce.verifier).await);

    // Patient switch: end, then create again for the next patient.
    let body = json!({"sessionId": opened.session_id});
    let ended = call(&app, "end", &user, &body, Tweak::default()).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    assert_page(
        &page(&app, &cookie, "oversikt").await,
        403,
        &["Du er logget ut av kjernejournal", "Økten er avsluttet."],
    );
    let next = opened_portal(&app, &user, PER_LEGEMIDLER_SPERRET, "SAMTYKKE").await;
    assert_page(&page(&app, &next, "oversikt").await, 200, &["Per Pasient"]);

    let request = app
        .http
        .get(app.url(&format!("{PORTAL}/loggut")))
        .header("Cookie", next.clone());
    let loggut = Reply::read(request.send().await.unwrap()).await;
    assert_page(&loggut, 200, &["Du er logget ut av kjernejournal"]);
    let removal = loggut.header("set-cookie").unwrap();
    assert!(removal.starts_with("KJ_PORTAL_SESSION=;"), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_page(
        &page(&app, &next, "oversikt").await,
        403,
        &["Du er logget ut av kjernejournal"],
    );
    assert_page(
        &page(&app, "KJ_PORTAL_SESSION=unknown", "oversikt").await,
        403,
        &["Du er ikke logget inn i kjernejournal"],
    );

    let last = opened_portal(&app, &user, KARI, "SAMTYKKE").await;
    let (_, claims) = decode_jwt(&user.token);
    advance(
        &app,
        claims["exp"].as_i64().unwrap() - app.now().timestamp(),
    );
    assert_page(
        &page(&app, &last, "oversikt").await,
        403,
        &["Økten er utløpt"],
    );
}
