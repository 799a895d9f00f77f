# Multi-stage image of the single `rampart` binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY api-server/Cargo.toml api-server/
COPY schema/Cargo.toml schema/
COPY tests/Cargo.toml tests/
RUN mkdir -p api-server/src schema/src tests/src tests/tests/e2e \
 && echo 'fn main() {}' > api-server/src/main.rs && touch api-server/src/lib.rs schema/src/lib.rs tests/src/lib.rs \
 && echo 'fn main() {}' > tests/tests/e2e/main.rs \
 && cargo build --release --bin rampart || true
COPY . .
RUN touch api-server/src/main.rs api-server/src/lib.rs schema/src/lib.rs && cargo build --release --bin rampart

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /data rampart && mkdir -p /data && chown rampart /data
COPY --from=build /src/target/release/rampart /usr/local/bin/rampart
USER rampart
ENV RAMPART_LISTEN=0.0.0.0:8080 RAMPART_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["rampart"]
CMD ["serve"]
