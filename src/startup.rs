//! `Application::build(settings)`: the running server on bound listeners (port 0 works), used
//! by the binary and by the tests alike.

use std::net::TcpListener;

use actix_http::error::DispatchError;
use actix_http::{HttpService, Protocol, Request, Response};
use actix_service::{ServiceFactory, ServiceFactoryExt as _, fn_service, map_config};
use actix_web::body::BoxBody;
use actix_web::dev::{AppConfig, Server, ServerHandle, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{App, HttpRequest, HttpResponse, web};

use crate::clock::Clock;
use crate::config::{Settings, base_url_string};
use crate::errors::admin::AdminError;
use crate::errors::{ErrorFormat, error_handlers, method_not_allowed};
use crate::state::{AppState, StartupError};
use crate::{admin, health, helseid, kjernejournal, pts, sfm, telemetry};

/// A built, not yet awaited, helsesim server.
pub struct Application {
    http_addr: std::net::SocketAddr,
    http_port: u16,
    https_port: Option<u16>,
    state: web::Data<AppState>,
    /// With a state file: whether it was loaded (`false`: created from the fixtures).
    state_file_loaded: Option<bool>,
    server: Server,
}

impl Application {
    /// Loads fixtures and keys, binds the listeners and builds the server.
    pub fn build(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let bind_error = |port: u16| {
            let addr = std::net::SocketAddr::new(settings.bind, port).to_string();
            move |source| StartupError::Bind { addr, source }
        };
        // Bad fixtures stop start-up before anything listens.
        let fixtures = crate::fixtures::load_dir(&settings.fixtures_dir, clock.now())?;
        let http =
            TcpListener::bind((settings.bind, settings.port)).map_err(bind_error(settings.port))?;
        let http_addr = http.local_addr().map_err(bind_error(settings.port))?;
        let http_port = http_addr.port();
        let (state, state_file_loaded) =
            shared_state(&settings, fixtures, clock.clone(), http_port)?;
        let demo = web::Data::new(demo_ehr(&settings, &state, clock, http_addr));
        let data = state.clone();
        let origins = settings.cors_origins.clone();
        let body_timeout = web::Data::new(crate::limits::BodyTimeout(settings.body_timeout));
        let app = move || {
            App::new()
                .app_data(data.clone())
                .app_data(data.journal.clone())
                .app_data(data.faults.clone())
                .app_data(body_timeout.clone())
                .wrap(error_handlers(ErrorFormat::Admin))
                .wrap(from_fn(crate::faults::inject))
                .wrap(from_fn(crate::journal::journal))
                .wrap(from_fn(crate::limits::body_deadline))
                // Outside everything that can answer (fault rules included), so that every
                // answer a browser gets carries CORS headers and preflights are never faulted.
                .wrap(cors(&origins))
                .wrap(from_fn(telemetry::access_log))
                .configure(|cfg| routes(cfg, &data, &demo))
        };
        let mut builder = actix_server::Server::build().shutdown_timeout(5);
        if let Some(workers) = settings.workers {
            builder = builder.workers(workers);
        }
        let factory = app.clone();
        builder = builder
            .listen("helsesim-http", http, move || {
                let service = http_service(factory(), false, http_addr);
                fn_service(|io: TcpStream| async move {
                    let peer = io.peer_addr().ok();
                    let _ = io.set_nodelay(true);
                    Ok((crate::wire::ExplainedErrors::new(io), Protocol::Http1, peer))
                })
                .and_then(service)
            })
            .map_err(bind_error(settings.port))?;
        let mut https_port = None;
        if let Some(port) = settings.tls_port {
            let https = TcpListener::bind((settings.bind, port)).map_err(bind_error(port))?;
            let https_addr = https.local_addr().map_err(bind_error(port))?;
            https_port = Some(https_addr.port());
            builder = listen_https(builder, https, &state.keys.tls, move || {
                http_service(app(), true, https_addr)
            })
            .map_err(bind_error(port))?;
        }
        let server = builder.run();
        // aws-lc's random generator gathers CPU-jitter entropy the first time it is used (some
        // 35 ms): done beside the server instead of before it or in the first signing.
        std::thread::spawn(|| {
            use aws_lc_rs::rand::SecureRandom as _;
            let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut [0u8; 1]);
        });
        Ok(Self {
            http_addr,
            http_port,
            https_port,
            state,
            state_file_loaded,
            server,
        })
    }

    /// The bound HTTP port.
    pub fn port(&self) -> u16 {
        self.http_port
    }

    /// The bound HTTPS port, if any.
    pub fn https_port(&self) -> Option<u16> {
        self.https_port
    }

    /// The shared state (clock, store...).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// `helsesim ready` and every service's base URL.
    pub fn ready_message(&self) -> String {
        let base = &self.state.base_url;
        let mut lines = vec!["helsesim ready".to_owned()];
        for service in crate::service::Service::ALL {
            let mut line = format!("  {:<14} {base}/{}", service.display_name(), service.name());
            if service == crate::service::Service::Sfm {
                line.push_str(&format!("  (FHIR: {base}/sfm/fhir)"));
            }
            lines.push(line);
        }
        lines.push(format!("  Health         {base}/healthz"));
        if self.state.admin {
            lines.insert(
                5,
                format!("  Control plane  {base}/_admin  (dashboard: {base}/)"),
            );
            lines.insert(6, format!("  OpenAPI        {base}/_admin/openapi"));
        } else {
            lines.insert(5, "  Control plane  off (HELSESIM_ADMIN=off)".to_owned());
        }
        if let Some(port) = self.https_port {
            lines.push(format!(
                "  HTTPS          https://localhost:{port}  (trust {})",
                self.state.keys.ca_cert_path.display()
            ));
        }
        if let (Some(file), Some(loaded)) = (&self.state.state_file, self.state_file_loaded) {
            lines.push(format!(
                "  State file     {} ({}, saved every {} s when changed)",
                file.path().display(),
                if loaded {
                    "loaded"
                } else {
                    "created from the fixtures"
                },
                file.interval().as_secs()
            ));
        }
        let mut listening = vec![format!("http://{}", self.http_addr)];
        if let Some(port) = self.https_port {
            listening.push(format!(
                "https://{}",
                std::net::SocketAddr::new(self.http_addr.ip(), port)
            ));
        }
        lines.push(format!("  Listening on   {}", listening.join(", ")));
        lines.join("\n")
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM or the handle). With a state file,
    /// the state is saved every interval when it changed, and once more after the last request.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Some(interval) = self.state.state_file.as_ref().map(|f| f.interval()) else {
            return self.server.await;
        };
        let state = self.state.clone();
        let saver = actix_web::rt::spawn(async move {
            let mut ticks = actix_web::rt::time::interval(interval);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(e) = save_state(state.clone()).await {
                    log::error!("{e}");
                }
            }
        });
        let served = self.server.await;
        saver.abort();
        let saved = save_state(self.state.clone()).await;
        served?;
        saved.map_err(std::io::Error::other)
    }
}

/// Writes the state file (on a blocking thread: the state is serialised and synced to disk).
async fn save_state(state: web::Data<AppState>) -> Result<(), String> {
    let written = web::block(move || match &state.state_file {
        Some(file) => file
            .save(&state)
            .map(|_| ())
            .map_err(|e| format!("cannot write the state file {}: {e}", file.path().display())),
        None => Ok(()),
    })
    .await;
    written.map_err(|e| format!("cannot write the state file: {e}"))?
}

/// The state every handler shares, for a server on `http_port`: the public base URL, the
/// services built from `fixtures`, the fixtures' warnings logged, and the state file loaded
/// (`Some(true)`) or created from the fixtures (`Some(false)`) when there is one.
fn shared_state(
    settings: &Settings,
    fixtures: crate::fixtures::Fixtures,
    clock: Clock,
    http_port: u16,
) -> Result<(web::Data<AppState>, Option<bool>), StartupError> {
    let base_url = settings
        .public_url
        .as_ref()
        .map(base_url_string)
        .unwrap_or_else(|| format!("http://localhost:{http_port}"));
    let state = web::Data::new(AppState::with_fixtures(
        settings, fixtures, clock, base_url,
    )?);
    for warning in &state.warnings {
        log::warn!("{warning}");
    }
    let state_file_loaded = match &state.state_file {
        Some(file) => Some(file.load_or_create(&state)?),
        None => None,
    };
    Ok((state, state_file_loaded))
}

/// A TLS connection as the HTTPS listener hands it on.
type TlsConnection = actix_tls::accept::rustls_0_23::TlsStream<TcpStream>;

/// Adds the HTTPS listener on `https` (HTTP/1.1 over rustls with helsesim's certificate), each
/// connection served by what `service` makes (see [`http_service`]).
fn listen_https<G, S>(
    builder: actix_server::ServerBuilder,
    https: TcpListener,
    tls: &rustls::ServerConfig,
    service: G,
) -> std::io::Result<actix_server::ServerBuilder>
where
    G: Fn() -> S + Send + Clone + 'static,
    S: ServiceFactory<
            (
                crate::wire::ExplainedErrors<TlsConnection>,
                Protocol,
                Option<std::net::SocketAddr>,
            ),
            Config = (),
            Response = (),
            Error = DispatchError,
            InitError = (),
        > + 'static,
{
    let mut tls = tls.clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    builder.listen("helsesim-https", https, move || {
        let service = service();
        actix_tls::accept::rustls_0_23::Acceptor::new(tls.clone())
            .map_err(|e| DispatchError::Io(std::io::Error::other(format!("{e:?}"))))
            .and_then(fn_service(|io: TlsConnection| async move {
                let peer = io.get_ref().0.peer_addr().ok();
                Ok((crate::wire::ExplainedErrors::new(io), Protocol::Http1, peer))
            }))
            .and_then(service)
    })
}

/// HTTP/1.1 over a connection whose framework-level error answers are explained
/// ([`crate::wire`]), serving `app` (the settings actix-web's own `HttpServer` uses).
fn http_service<T, A, F, B>(
    app: A,
    secure: bool,
    addr: std::net::SocketAddr,
) -> impl ServiceFactory<
    (T, Protocol, Option<std::net::SocketAddr>),
    Config = (),
    Response = (),
    Error = DispatchError,
    InitError = (),
>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    A: actix_service::IntoServiceFactory<F, Request>,
    F: ServiceFactory<
            Request,
            Config = AppConfig,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    F::Future: 'static,
    <F::Service as actix_service::Service<Request>>::Future: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    // actix-web's HttpServer builds this same AppConfig; outside it, this is its only
    // constructor (the connection must be wrapped, which HttpServer does not allow).
    let config = AppConfig::__priv_test_new(secure, addr.to_string(), addr);
    let app = map_config(app.into_factory(), move |()| config.clone())
        .map_err(|e: actix_web::Error| -> Response<BoxBody> { e.error_response().into() });
    let mut builder = HttpService::build()
        .keep_alive(actix_http::KeepAlive::Timeout(
            std::time::Duration::from_secs(5),
        ))
        .client_request_timeout(std::time::Duration::from_secs(5))
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .local_addr(addr);
    if secure {
        builder = builder.secure();
    }
    builder.finish(app)
}

/// CORS for every service and the control plane: preflights answered, any method and header,
/// the response headers exposed (browser-based EHRs read `DPoP-Nonce`, `Location`, `ETag`).
fn cors(origins: &crate::config::CorsOrigins) -> actix_cors::Cors {
    let cors = actix_cors::Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_any_header()
        .max_age(3600);
    match origins {
        crate::config::CorsOrigins::Any => cors.allow_any_origin(),
        crate::config::CorsOrigins::List(list) => list
            .iter()
            .fold(cors, |cors, origin| cors.allowed_origin(origin)),
    }
}

/// The demo EHR, calling helsesim's HTTP listener at `http_addr`.
pub fn demo_ehr(
    settings: &Settings,
    state: &AppState,
    clock: Clock,
    http_addr: std::net::SocketAddr,
) -> crate::epj::Demo {
    let ip = match http_addr.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
    };
    let loopback = format!("http://{}", std::net::SocketAddr::new(ip, http_addr.port()));
    let client = state
        .helseid
        .store()
        .clients
        .values()
        .find(|c| c.entry.name.as_deref() == Some(crate::epj::CLIENT_NAME))
        .cloned();
    crate::epj::Demo::new(
        clock,
        &state.base_url,
        &loopback,
        client,
        &settings.fixtures_dir,
    )
}

/// Every service's routes, each service with its own state, and the demo EHR.
pub fn routes(cfg: &mut web::ServiceConfig, state: &AppState, demo: &web::Data<crate::epj::Demo>) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(health::healthz))
            .default_service(method_not_allowed("GET")),
    )
    .configure(|cfg| helseid::configure(cfg, state.helseid.clone()))
    .configure(|cfg| sfm::configure(cfg, state.sfm.clone()))
    .configure(|cfg| kjernejournal::configure(cfg, state.kjernejournal.clone()))
    .configure(|cfg| pts::configure(cfg, state.pts.clone()))
    .configure(admin::configure)
    .configure(|cfg| crate::epj::configure(cfg, demo.clone()))
    .default_service(web::to(unknown_service));
}

async fn unknown_service(req: HttpRequest) -> HttpResponse {
    let prefixes: Vec<String> = crate::service::Service::ALL
        .iter()
        .map(|s| format!("/{}", s.name()))
        .collect();
    AdminError::not_found(format!(
        "No service at {}; helsesim serves {}, /_admin, /healthz and the demo EHR at /epj/",
        req.path(),
        prefixes.join(", ")
    ))
    .render()
}
