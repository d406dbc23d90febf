# helsesim: multi-stage build, small non-root runtime with the fixtures baked in.
#   docker build -t helsesim .
#   docker run --rm -p 8080:8080 -p 8443:8443 helsesim

# The toolchain README names (developed and tested with 1.95).
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, from Cargo.toml and Cargo.lock alone, with stand-in sources: an edit of
# src/ then rebuilds helsesim only, not its dependencies (Docker keeps this layer).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests/api \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs tests/api/main.rs \
 && for b in tokens kjernejournal state; do echo 'fn main() {}' > benches/$b.rs; done \
 && cargo build --release --locked --bin helsesim \
 && rm -rf src benches tests
COPY src ./src
# The demo EHR's page is compiled into the binary (include_str!).
COPY examples/epj-web ./examples/epj-web
# Cargo reads every declared target, so the test and bench sources come along (not built).
COPY tests ./tests
COPY benches ./benches
# COPY keeps the files' times, which may be older than the stand-ins': make them newer.
RUN find src tests benches -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --bin helsesim \
 && mkdir -p /out/certs /out/data \
 && cp target/release/helsesim /out/helsesim

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/helsesim /usr/local/bin/helsesim
COPY fixtures /app/fixtures
# The certs directory must be writable by the non-root user (uid 65532); mount a volume here to
# keep the CA and signing key across container re-creation.
COPY --from=build --chown=65532:65532 /out/certs /app/certs
# For HELSESIM_STATE_FILE=/app/data/state.json with a volume here (writable by the same user).
COPY --from=build --chown=65532:65532 /out/data /app/data
WORKDIR /app
ENV HELSESIM_BIND=0.0.0.0 \
    HELSESIM_PORT=8080 \
    HELSESIM_TLS_PORT=8443 \
    HELSESIM_FIXTURES=/app/fixtures \
    HELSESIM_CERTS=/app/certs
EXPOSE 8080 8443
USER nonroot
# Follows the port serve was given, even on the command line (`serve --port 9000`): serve notes
# it in the temporary directory.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/helsesim", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/helsesim"]
CMD ["serve"]
