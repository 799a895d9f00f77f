# Multi-stage image of the single `rampart` binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# SAML signatures are checked with libxmlsec1 (samael builds against it with bindgen).
RUN apt-get update && apt-get install -y --no-install-recommends libclang-dev libxml2-dev libxmlsec1-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY api-server/Cargo.toml api-server/
COPY schema/Cargo.toml schema/
COPY mcp-bridge/Cargo.toml mcp-bridge/
COPY tests/Cargo.toml tests/
RUN mkdir -p api-server/src schema/src mcp-bridge/src tests/src tests/tests/e2e \
 && echo 'fn main() {}' > api-server/src/main.rs && echo 'fn main() {}' > mcp-bridge/src/main.rs \
 && touch api-server/src/lib.rs schema/src/lib.rs mcp-bridge/src/lib.rs tests/src/lib.rs \
 && echo 'fn main() {}' > tests/tests/e2e/main.rs \
 && cargo build --release --bin rampart || true
COPY . .
RUN touch api-server/src/main.rs api-server/src/lib.rs schema/src/lib.rs mcp-bridge/src/lib.rs && cargo build --release --bin rampart

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libxmlsec1-openssl && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /data rampart && mkdir -p /data && chown rampart /data
COPY --from=build /src/target/release/rampart /usr/local/bin/rampart
USER rampart
ENV RAMPART_LISTEN=0.0.0.0:8080 RAMPART_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["rampart"]
CMD ["serve"]
