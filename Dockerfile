# One image for every component: `gateway edge|router|echo|token …` (the entrypoint is `gateway`).
#
#   docker build -t channel-gateway .
#   docker run --rm channel-gateway --help
#
# The build stage installs what scripts/setup.sh installs (Debian packages, librdkafka 2.8 built from Debian's own
# source package, since bookworm's 2.0.2 cannot talk to KRaft-era brokers) and builds a release binary with the Swift
# standard library linked in. The runtime stage is Debian bookworm with hiredis and the librdkafka built above.
# Not built on the development machine (it has no Docker engine); see deploy/README.md.

FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN CG_SETUP_SKIP_BROKER=1 CG_SETUP_SKIP_TEST_PACKAGES=1 bash scripts/setup.sh
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
# The HTTP API's document: Sources/APIContract and Sources/GatewayAPI link to it (docs/api.md).
COPY docs/openapi.yaml docs/openapi.yaml
RUN swift build -c release --product gateway --static-swift-stdlib \
 && install -D .build/release/gateway /out/usr/local/bin/gateway \
 && mkdir -p /out/usr/local/lib && cp -P /usr/local/lib/librdkafka.so* /out/usr/local/lib/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libhiredis0.14 libssl3 libsasl2-2 zlib1g libzstd1 liblz4-1 libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/local/ /usr/local/
RUN ldconfig && useradd --system --uid 10001 gateway
USER 10001
# Devices (edges only) and the admin endpoint (/healthz, /readyz, /metrics).
EXPOSE 7001 9090
ENV CG_ADMIN_PORT=9090 CG_ADMIN_HOST=0.0.0.0
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["--help"]
