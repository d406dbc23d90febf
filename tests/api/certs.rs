//! The certs directory: extra published signing keys, and a TLS certificate that covers the host
//! of the public URL.

use reqwest::StatusCode;

use crate::helpers::*;

#[actix_web::test]
async fn extra_signing_keys_are_published_but_only_the_main_key_signs() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().to_owned();
    helsesim::keys::ensure(
        &certs,
        &helsesim::keys::certificate_hosts(None),
        t0(),
        false,
    )
    .unwrap();
    let old = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    std::fs::write(certs.join("token-signing-2025.key"), old.serialize_pem()).unwrap();

    let app = spawn_app_with(|s| s.certs_dir = certs.clone()).await;
    let jwks = app
        .get("/helseid/.well-known/openid-configuration/jwks")
        .await;
    let keys = jwks.json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{}", jwks.text);
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);

    let reply = app.system_token(SFM_READY, "e-helse:sfm.api/sfm.api").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (header, _) = decode_jwt(reply.json["access_token"].as_str().unwrap());
    assert_eq!(header["kid"], keys[0]["kid"], "the main key signs");
}

#[actix_web::test]
async fn the_tls_certificate_covers_the_public_host() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().to_owned();
    // First start without a public URL: the certificate covers the local names only.
    let first = spawn_app_with(|s| s.certs_dir = certs.clone()).await;
    drop(first);
    let meta = std::fs::read_to_string(certs.join("server.json")).unwrap();
    assert!(!meta.contains("helsesim.example"), "{meta}");

    // A public URL with another host: the server certificate is reissued by the same CA.
    let ca_before = std::fs::read(certs.join("ca.crt")).unwrap();
    let app = spawn_app_with(|s| {
        s.certs_dir = certs.clone();
        s.tls_port = Some(0);
        s.public_url =
            Some(helsesim::config::parse_public_url("https://helsesim.example:9443").unwrap());
    })
    .await;
    assert_eq!(
        std::fs::read(certs.join("ca.crt")).unwrap(),
        ca_before,
        "same CA: nothing to re-trust"
    );
    let port = app.https_port.unwrap();

    // A real TLS handshake for the name helsesim.example, resolved to the local listener.
    let ca = reqwest::Certificate::from_pem(&ca_before).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("helsesim.example", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let reply = Reply::read(
        client
            .get(format!(
                "https://helsesim.example:{port}/helseid/.well-known/openid-configuration"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json["issuer"],
        "https://helsesim.example:9443/helseid"
    );

    // A name the certificate does not cover fails the handshake.
    let stranger = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_before).unwrap())
        .resolve("elsewhere.example", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    assert!(
        stranger
            .get(format!("https://elsewhere.example:{port}/healthz"))
            .send()
            .await
            .is_err()
    );
}
