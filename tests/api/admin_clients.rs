//! The control plane's `/_admin/helseid/clients`: list, add or replace, inspect and remove
//! HelseID clients at run time, in the fixture JSON shape, with the fixtures' validation.

use std::collections::BTreeSet;

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const SFM: &str = "e-helse:sfm.api/sfm.api";
const CLIENTS: &str = "/_admin/helseid/clients";

/// A valid single-tenant SFM client registered with `key` under kid `k1`.
fn entry(client_id: &str, key: &TestKey) -> Value {
    json!({
        "client_id": client_id,
        "name": "test-ehr",
        "jwks": {"keys": [key.public_jwk_with_kid("k1")]},
        "tenancy": "single-tenant",
        "orgnr_parent": "917897468",
        "scopes": [SFM],
    })
}

/// An entry that needs no key of its own (refused before or regardless of its key).
fn entry_with_fixture_key(client_id: &str) -> Value {
    entry(client_id, &TestKey::fixture(SFM_READY))
}

fn shipped_clients() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures_dir().join("helseid/clients.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

impl TestApp {
    async fn admin_post(&self, content_type: &str, body: impl Into<reqwest::Body>) -> Reply {
        Reply::read(
            self.http
                .post(self.url(CLIENTS))
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn admin_send(&self, method: reqwest::Method, path: &str) -> Reply {
        Reply::read(
            self.http
                .request(method, self.url(path))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn token_with_key(&self, client_id: &str, key: TestKey) -> Reply {
        let assertion = Assertion::with_key(self, client_id, key, Some("k1")).sign();
        self.client_credentials(client_id, SFM, &assertion, &[])
            .await
    }
}

/// Asserts helsesim's own `{error, message}` body with a status and exact message.
#[track_caller]
fn assert_admin_error(reply: &Reply, status: StatusCode, error: &str, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.json,
        json!({"error": error, "message": message}),
        "{}",
        reply.text
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{:?}",
        reply.headers
    );
}

#[track_caller]
fn assert_invalid_entry(reply: &Reply, message: &str) {
    assert_admin_error(
        reply,
        StatusCode::BAD_REQUEST,
        "invalid_client_entry",
        message,
    );
}

#[actix_web::test]
async fn list_has_the_shipped_clients_in_the_fixture_shape() {
    let app = spawn_app().await;
    let reply = app.get(CLIENTS).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let listed = reply.json.as_array().expect("a JSON array");
    let ids: BTreeSet<&str> = listed
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            SFM_NEW_TENANT,
            SFM_READY,
            MULTI_TENANT,
            KJERNEJOURNAL,
            PTS,
            EPJ_DEMO
        ])
    );
    assert_eq!(listed.len(), 6);

    let by_id = |id: &str| listed.iter().find(|c| c["client_id"] == id).unwrap();
    let shipped = shipped_clients();
    let fixture = |id: &str| shipped.iter().find(|c| c["client_id"] == id).unwrap();

    let sfm = by_id(SFM_NEW_TENANT);
    assert_eq!(sfm["name"], "sfm-new-tenant");
    assert_eq!(sfm["tenancy"], "single-tenant");
    assert_eq!(sfm["orgnr_parent"], "917897468");
    assert_eq!(sfm["sfm_id"], "a99abfb4-2bea-4e0a-bb03-38e37febbd2c");
    assert_eq!(sfm["jwks"]["keys"][0]["kid"], "U9J3J509Ln4gpmwf");
    assert_eq!(sfm["scopes"], fixture(SFM_NEW_TENANT)["scopes"]);

    let multi = by_id(MULTI_TENANT);
    assert_eq!(multi["tenancy"], "multi-tenant");
    assert_eq!(multi["orgnr_supplier"], "994598759");
    assert!(multi.get("orgnr_parent").is_none(), "{multi}");
    assert_eq!(multi["jwks"]["keys"][0]["kid"], "8nXefXYwpq7RNGgU");

    let pts = by_id(PTS);
    assert_eq!(pts["require_dpop"], true);
    assert_eq!(pts["scopes"], json!(["nhn:pts/api"]));
    // Every listed entry is exactly its fixture record: the same JSON in and out.
    for id in [SFM_NEW_TENANT, SFM_READY, MULTI_TENANT, KJERNEJOURNAL, PTS] {
        assert_eq!(by_id(id), fixture(id), "{id}");
    }
}

#[actix_web::test]
async fn a_new_client_is_created_inspected_and_gets_tokens() {
    let app = spawn_app().await;
    let key = TestKey::rsa(Algorithm::RS256);
    let new = entry("new-ehr", &key);

    // Unknown before.
    let reply = app.token_with_key("new-ehr", key.clone()).await;
    reply.assert_oauth_error("invalid_client", "Unknown client 'new-ehr'");

    let reply = app.register_client(&new).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some(format!("{}/_admin/helseid/clients/new-ehr", app.base).as_str())
    );
    assert_eq!(
        reply.json,
        json!({
            "client_id": "new-ehr",
            "name": "test-ehr",
            "jwks": {"keys": [key.public_jwk_with_kid("k1")]},
            "tenancy": "single-tenant",
            "orgnr_parent": "917897468",
            "scopes": [SFM],
            "require_dpop": false,
            "require_par": false,
        })
    );
    let created = reply.json.clone();

    let reply = app.get("/_admin/helseid/clients/new-ehr").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json, created);

    let reply = app.get(CLIENTS).await;
    assert_eq!(reply.json.as_array().unwrap().len(), 7);
    assert!(reply.json.as_array().unwrap().contains(&created));

    let reply = app.token_with_key("new-ehr", key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (_, claims) = decode_jwt(reply.json["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], "new-ehr");
    assert_eq!(claims["aud"], "e-helse:sfm.api");
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );
}

#[actix_web::test]
async fn json_with_a_charset_is_json() {
    let app = spawn_app().await;
    let body = entry_with_fixture_key("charset-client").to_string();
    let reply = app
        .admin_post("application/json; charset=utf-8", body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json["client_id"], "charset-client");
}

#[actix_web::test]
async fn posting_an_existing_client_replaces_it() {
    let app = spawn_app().await;
    let old_key = TestKey::rsa(Algorithm::RS256);
    let new_key = TestKey::rsa(Algorithm::RS256);
    let reply = app.register_client(&entry("rotating", &old_key)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = app.token_with_key("rotating", old_key.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // Same client_id, another organisation and another key under the same kid.
    let mut replacement = entry("rotating", &new_key);
    replacement["orgnr_parent"] = json!("923456783");
    let reply = app.register_client(&replacement).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some(format!("{}/_admin/helseid/clients/rotating", app.base).as_str())
    );
    assert_eq!(reply.json["orgnr_parent"], "923456783");
    assert_eq!(
        reply.json["jwks"]["keys"],
        json!([new_key.public_jwk_with_kid("k1")])
    );

    let reply = app.get("/_admin/helseid/clients/rotating").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["orgnr_parent"], "923456783");
    assert_eq!(
        reply.json["jwks"]["keys"][0],
        new_key.public_jwk_with_kid("k1")
    );
    let reply = app.get(CLIENTS).await;
    let listed = reply.json.as_array().unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|c| c["client_id"] == "rotating")
            .count(),
        1
    );
    assert_eq!(listed.len(), 7);

    let reply = app.token_with_key("rotating", old_key).await;
    reply.assert_oauth_error(
        "invalid_client",
        "The client_assertion's signature does not verify with the key(s) registered for client \
         'rotating'",
    );

    let reply = app.token_with_key("rotating", new_key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (_, claims) = decode_jwt(reply.json["access_token"].as_str().unwrap());
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "923456783"
    );
}

#[actix_web::test]
async fn a_shipped_client_can_be_replaced_too() {
    let app = spawn_app().await;
    let mut pts = shipped_clients()
        .into_iter()
        .find(|c| c["client_id"] == PTS)
        .unwrap();
    pts["require_dpop"] = json!(false);
    let reply = app.register_client(&pts).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json, pts);

    // No longer DPoP-bound: a plain Bearer token.
    let reply = app.system_token(PTS, "nhn:pts/api").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "Bearer");
}

#[actix_web::test]
async fn invalid_entries_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let base = entry_with_fixture_key("invalid-client");
    let with = |field: &str, value: Value| {
        let mut e = base.clone();
        e[field] = value;
        e
    };
    let without = |field: &str| {
        let mut e = base.clone();
        e.as_object_mut().unwrap().remove(field);
        e
    };
    let mut private_jwk = base.clone();
    private_jwk["jwks"]["keys"][0]["d"] = json!("AQAB");
    let mut multi_without_supplier = without("orgnr_parent");
    multi_without_supplier["tenancy"] = json!("multi-tenant");
    let mut multi_with_parent = multi_without_supplier.clone();
    multi_with_parent["orgnr_supplier"] = json!("994598759");
    multi_with_parent["orgnr_parent"] = json!("917897468");

    let cases = [
        (
            with("orgnr_parent", json!("12345")),
            "field `orgnr_parent`: '12345' is not an organisation number: it must be nine digits, \
             no spaces or letters",
        ),
        (
            private_jwk,
            "field `jwks.keys[0]`: the JWK contains the private member `d`; only public keys may \
             be given",
        ),
        (
            with("scopes", json!([SFM, "nhn:nothing/api"])),
            "field `scopes[1]`: unknown scope 'nhn:nothing/api': not an identity scope and not in \
             any API resource",
        ),
        (
            multi_without_supplier,
            "field `orgnr_supplier`: a multi-tenant client needs the supplier's organisation \
             number",
        ),
        (
            multi_with_parent,
            "field `orgnr_parent`: a multi-tenant client names the organisation in each token \
             request (assertion_details), not in its configuration",
        ),
        (
            without("orgnr_parent"),
            "field `orgnr_parent`: a single-tenant client needs its organisation number",
        ),
        (
            with("jwks", json!({"keys": []})),
            "field `jwks.keys`: a client needs at least one public key (private_key_jwt is the \
             only client authentication)",
        ),
        (
            with("client_id", json!("two words")),
            "field `client_id`: must be non-empty, without spaces",
        ),
        (
            with("sfm_id", json!("not-a-guid")),
            "field `sfm_id`: 'not-a-guid' is not a GUID",
        ),
        (
            with("access_token_lifetime", json!(59)),
            "field `access_token_lifetime`: must be between 60 and 86400 seconds",
        ),
    ];
    for (body, message) in cases {
        let reply = app.register_client(&body).await;
        assert_invalid_entry(&reply, message);
    }
    // serde's own messages, naming the field.
    let serde_cases = [
        (
            with("tenancy", json!("both")),
            "field `tenancy`: unknown variant `both`, expected `single-tenant` or `multi-tenant`",
        ),
        (
            with("scopes", json!("nhn:pts/api")),
            "field `scopes`: invalid type: string \"nhn:pts/api\", expected a sequence",
        ),
        (without("scopes"), "missing field `scopes`"),
    ];
    for (body, message) in serde_cases {
        let reply = app.register_client(&body).await;
        assert_invalid_entry(&reply, message);
    }

    // Nothing invalid was stored.
    let reply = app.get("/_admin/helseid/clients/invalid-client").await;
    assert_admin_error(
        &reply,
        StatusCode::NOT_FOUND,
        "not_found",
        "No client 'invalid-client'",
    );
    assert_eq!(app.get(CLIENTS).await.json.as_array().unwrap().len(), 6);
}

#[actix_web::test]
async fn unknown_fields_and_bad_json_are_refused() {
    let app = spawn_app().await;
    let mut unknown = entry_with_fixture_key("x");
    unknown["foo"] = json!(1);
    let reply = app.register_client(&unknown).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json["error"], "invalid_client_entry");
    let message = reply.json["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "field `foo`: unknown field `foo`, expected one of `client_id`, `name`, `jwks`, \
             `tenancy`"
        ),
        "{message}"
    );

    let cases = [
        (
            "not json",
            "not valid JSON: expected ident at line 1 column 2",
        ),
        (
            "",
            "not valid JSON: EOF while parsing a value at line 1 column 0",
        ),
        (
            "{\"client_id\": ",
            "not valid JSON: EOF while parsing a value at line 1 column 14",
        ),
        (
            "{\"client_id\": 5}",
            "field `client_id`: invalid type: number, expected a string",
        ),
        ("null", "a record must be a JSON object"),
        ("[]", "a record must be a JSON object"),
    ];
    for (body, message) in cases {
        let reply = app.admin_post("application/json", body).await;
        assert_invalid_entry(&reply, message);
    }
}

#[actix_web::test]

async fn a_truncated_json_object_names_no_field() {
    let app = spawn_app().await;
    let reply = app.admin_post("application/json", "{").await;
    assert_invalid_entry(
        &reply,
        "not valid JSON: EOF while parsing an object at line 1 column 1",
    );
}

#[actix_web::test]

async fn the_location_of_a_client_with_reserved_characters_leads_back_to_it() {
    let app = spawn_app().await;
    for (id, encoded) in [
        ("ehr/test", "ehr%2Ftest"),
        ("a?b", "a%3Fb"),
        ("a%2Fb", "a%252Fb"),
        ("klient-\u{e6}\u{f8}\u{e5}", "klient-%C3%A6%C3%B8%C3%A5"),
    ] {
        let reply = app.register_client(&entry_with_fixture_key(id)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let expected = format!("{}/_admin/helseid/clients/{encoded}", app.base);
        assert_eq!(
            reply
                .headers
                .get("location")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            Some(expected.clone()),
            "{id}"
        );
        let reply = Reply::read(app.http.get(&expected).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK, "{id}: {}", reply.text);
        assert_eq!(reply.json["client_id"], id);
    }
}

#[actix_web::test]
async fn only_json_bodies_are_accepted() {
    let app = spawn_app().await;
    let body = entry_with_fixture_key("plain-client").to_string();
    let reply = app.admin_post("text/plain", body).await;
    assert_admin_error(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Content-Type must be application/json, got 'text/plain'",
    );

    let reply = Reply::read(
        app.http
            .post(app.url(CLIENTS))
            .body(entry_with_fixture_key("plain-client").to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_admin_error(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Content-Type must be application/json, got ''",
    );

    let reply = app.get("/_admin/helseid/clients/plain-client").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
}

#[actix_web::test]
async fn unknown_clients_are_not_found() {
    let app = spawn_app().await;
    let reply = app.get("/_admin/helseid/clients/x").await;
    assert_admin_error(&reply, StatusCode::NOT_FOUND, "not_found", "No client 'x'");

    let reply = app
        .admin_send(reqwest::Method::DELETE, "/_admin/helseid/clients/x")
        .await;
    assert_admin_error(&reply, StatusCode::NOT_FOUND, "not_found", "No client 'x'");
}

#[actix_web::test]
async fn a_deleted_client_can_no_longer_get_tokens() {
    let app = spawn_app().await;
    let reply = app.system_token(SFM_READY, SFM).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let path = format!("/_admin/helseid/clients/{SFM_READY}");
    let reply = app.admin_send(reqwest::Method::DELETE, &path).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert_eq!(reply.text, "");

    let reply = app.system_token(SFM_READY, SFM).await;
    reply.assert_oauth_error("invalid_client", &format!("Unknown client '{SFM_READY}'"));

    let reply = app.get(&path).await;
    assert_admin_error(
        &reply,
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("No client '{SFM_READY}'"),
    );
    let reply = app.admin_send(reqwest::Method::DELETE, &path).await;
    assert_admin_error(
        &reply,
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("No client '{SFM_READY}'"),
    );
    let listed = app.get(CLIENTS).await.json;
    assert_eq!(listed.as_array().unwrap().len(), 5);
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == SFM_READY)
    );

    // The other clients are untouched.
    let reply = app.system_token(SFM_NEW_TENANT, SFM).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn wrong_methods_name_the_allowed_ones() {
    let app = spawn_app().await;
    let reply = app.admin_send(reqwest::Method::PUT, CLIENTS).await;
    assert_admin_error(
        &reply,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method PUT is not allowed here",
    );
    assert_eq!(reply.header("allow"), Some("GET, POST"));

    let reply = app
        .admin_send(
            reqwest::Method::PATCH,
            &format!("/_admin/helseid/clients/{PTS}"),
        )
        .await;
    assert_admin_error(
        &reply,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method PATCH is not allowed here",
    );
    assert_eq!(reply.header("allow"), Some("GET, DELETE"));
}

#[actix_web::test]
async fn bodies_up_to_one_mebibyte_are_read_and_larger_ones_refused() {
    let app = spawn_app().await;
    // Well over actix's default limit (256 KiB), under the control plane's 1 MiB.
    let mut large = entry_with_fixture_key("large-client");
    large["name"] = json!("n".repeat(900 * 1024));
    let reply = app.register_client(&large).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", &reply.text[..200]);

    let too_large = format!("\"{}\"", "x".repeat(1024 * 1024));
    let reply = app.admin_post("application/json", too_large).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["error"], "payload_too_large", "{}", reply.text);
    let message = reply.json["message"].as_str().unwrap();
    assert!(
        message.starts_with("The request body is too large ("),
        "{message}"
    );
    assert_eq!(
        reply.json.as_object().unwrap().len(),
        2,
        "only error and message: {}",
        reply.text
    );
}
