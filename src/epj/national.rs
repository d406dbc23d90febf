//! What the demo EHR's backend sends to the national services, over HTTP as any EHR backend
//! does: HelseID (PAR, the code, refresh, system tokens; `private_key_jwt`, DPoP with the nonce
//! retry), SFM's session service and Datadeling, Kjernejournal's helseindikator and Innlogging.
//! Requests go to helsesim's own HTTP listener (`loopback`); URLs inside tokens and proofs
//! (`aud`, `htu`) are the public ones, as a real EHR would see them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::commands::token::{DpopKey, SigningKey, client_assertion, dpop_proof};
use crate::helseid::Endpoints;
use crate::helseid::model::Client;

/// The assertion type of `private_key_jwt`.
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the demo EHR names itself to Kjernejournal (`X-EPJ-System`, `X-SOURCE-SYSTEM`).
pub const SOURCE_SYSTEM: &str = "helsesim demo-EPJ 1.0";

/// A failed call: what the demo page shows.
#[derive(Debug, Clone)]
pub struct CallError(pub String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The backend's connection to the national services.
pub struct National {
    http: reqwest::Client,
    clock: Clock,
    /// helsesim's public base URL.
    pub base: String,
    loopback: String,
    /// HelseID's endpoints (public URLs).
    pub endpoints: Endpoints,
    /// The demo EHR's HelseID client.
    pub client: Arc<Client>,
    key: SigningKey,
}

impl std::fmt::Debug for National {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("National")
            .field("base", &self.base)
            .field("loopback", &self.loopback)
            .field("client", &self.client.id())
            .finish_non_exhaustive()
    }
}

/// An answer: status, `DPoP-Nonce`, JSON body (`Null` when not JSON).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// A `DPoP-Nonce` the server sent.
    pub nonce: Option<String>,
    /// The body as JSON.
    pub body: Value,
}

impl Answer {
    /// The body of a 2xx answer, else an error naming `what` and the answer.
    pub fn ok(self, what: &str) -> Result<Value, CallError> {
        if self.status.is_success() {
            Ok(self.body)
        } else {
            Err(CallError(format!("{what}: {} {}", self.status, self.body)))
        }
    }
}

/// One API call: method, public URL, token, body, extra headers.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The method.
    pub method: &'a str,
    /// The public URL (the path is sent to the loopback listener).
    pub url: &'a str,
    /// `Bearer` or `DPoP` token.
    pub token: Option<(&'a str, &'a str)>,
    /// A JSON body.
    pub body: Option<&'a Value>,
    /// More headers.
    pub headers: &'a [(&'a str, &'a str)],
}

impl National {
    /// The connection for `client` (with its private `key`) to helsesim at `base`, reached at
    /// `loopback`.
    pub fn new(
        clock: Clock,
        base: String,
        loopback: String,
        client: Arc<Client>,
        key: SigningKey,
    ) -> Result<Self, CallError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CallError(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            http,
            clock,
            endpoints: Endpoints::new(&base),
            base,
            loopback,
            client,
            key,
        })
    }

    /// Now, by helsesim's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn local(&self, url: &str) -> String {
        match url.strip_prefix(&self.base) {
            Some(path) => format!("{}{path}", self.loopback),
            None => url.to_owned(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> Result<Answer, CallError> {
        let response = request
            .send()
            .await
            .map_err(|e| CallError(format!("{url}: {e}")))?;
        let status = response.status();
        let nonce = response
            .headers()
            .get("DPoP-Nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response
            .text()
            .await
            .map_err(|e| CallError(format!("{url}: {e}")))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer {
            status,
            nonce,
            body,
        })
    }

    /// A fresh client assertion.
    fn assertion(&self, details: &[Value]) -> Result<String, CallError> {
        client_assertion(
            &self.client,
            &self.key,
            &self.endpoints.issuer,
            details,
            self.now(),
        )
        .map_err(|e| CallError(e.to_string()))
    }

    /// POSTs a HelseID form (`pairs` plus client authentication) to `endpoint`, with a DPoP
    /// proof of `dpop` when given, answering `use_dpop_nonce` once.
    pub async fn helseid_form(
        &self,
        endpoint: &str,
        pairs: &[(&str, &str)],
        dpop: Option<&DpopKey>,
    ) -> Result<Value, CallError> {
        let mut nonce: Option<String> = None;
        for _ in 0..2 {
            let assertion = self.assertion(&[])?;
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(pairs)
                .append_pair("client_id", self.client.id())
                .append_pair("client_assertion_type", ASSERTION_TYPE)
                .append_pair("client_assertion", &assertion);
            let mut request = self
                .http
                .post(self.local(endpoint))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form.finish());
            if let Some(key) = dpop {
                let proof = dpop_proof(key, "POST", endpoint, nonce.as_deref(), None, self.now())
                    .map_err(|e| CallError(e.to_string()))?;
                request = request.header("DPoP", proof);
            }
            let answer = self.send(request, endpoint).await?;
            if answer.body["error"] == "use_dpop_nonce" && nonce.is_none() && answer.nonce.is_some()
            {
                nonce = answer.nonce;
                continue;
            }
            return answer.ok(endpoint);
        }
        Err(CallError(format!("{endpoint}: DPoP nonce asked twice")))
    }

    /// An API call, with a DPoP proof (and the nonce retry) when the token is a DPoP one.
    pub async fn api(&self, call: Call<'_>, dpop: Option<&DpopKey>) -> Result<Answer, CallError> {
        let mut nonce: Option<String> = None;
        for _ in 0..2 {
            let method =
                Method::from_bytes(call.method.as_bytes()).map_err(|e| CallError(e.to_string()))?;
            let mut request = self.http.request(method, self.local(call.url));
            if let Some((scheme, token)) = call.token {
                request = request.header("Authorization", format!("{scheme} {token}"));
                if let (Some(key), "DPoP") = (dpop, scheme) {
                    let proof = dpop_proof(
                        key,
                        call.method,
                        call.url,
                        nonce.as_deref(),
                        Some(token),
                        self.now(),
                    )
                    .map_err(|e| CallError(e.to_string()))?;
                    request = request.header("DPoP", proof);
                }
            }
            for (name, value) in call.headers {
                request = request.header(*name, *value);
            }
            if let Some(body) = call.body {
                request = request.json(body);
            }
            let answer = self.send(request, call.url).await?;
            let wants_nonce = answer.status.as_u16() == 401
                && answer.nonce.is_some()
                && nonce.is_none()
                && dpop.is_some();
            if wants_nonce {
                nonce = answer.nonce;
                continue;
            }
            return Ok(answer);
        }
        Err(CallError(format!("{}: DPoP nonce asked twice", call.url)))
    }

    /// A FHIR read or search with a bearer token: the resource of a 2xx answer.
    pub async fn get_fhir(&self, url: &str, token: &str, what: &str) -> Result<Value, CallError> {
        let call = Call {
            method: "GET",
            url,
            token: Some(("Bearer", token)),
            body: None,
            headers: &[("Accept", "application/fhir+json")],
        };
        self.api(call, None).await?.ok(what)
    }

    /// A JSON POST with a bearer token.
    pub async fn post_json(
        &self,
        url: &str,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<Answer, CallError> {
        let call = Call {
            method: "POST",
            url,
            token: Some(("Bearer", token)),
            body: Some(body),
            headers,
        };
        self.api(call, None).await
    }

    /// A system token (`client_credentials`) for `scope`.
    pub async fn system_token(&self, scope: &str) -> Result<Value, CallError> {
        let token = self.endpoints.token.clone();
        self.helseid_form(
            &token,
            &[("grant_type", "client_credentials"), ("scope", scope)],
            None,
        )
        .await
    }

    /// The trust-framework attest the demo EHR sends at login: its organisation as legal entity
    /// and point of care, treatment as the purpose, the user's choice as the decision.
    pub fn attest(&self) -> Value {
        let org = self.client.entry.orgnr_parent.clone().unwrap_or_default();
        let enh = "urn:oid:2.16.578.1.12.4.1.4.101";
        json!({
            "type": crate::auth::claims::TRUST_FRAMEWORK,
            "practitioner": {
                "legal_entity": {"id": org, "system": enh},
                "point_of_care": {"id": org, "system": enh}
            },
            "care_relationship": {
                "purpose_of_use": {
                    "code": "TREAT", "system": "urn:oid:2.16.840.1.113883.1.11.20448"
                },
                "decision_ref": {"id": uuid::Uuid::new_v4().to_string(), "user_selected": true}
            },
            "patients": []
        })
    }
}
