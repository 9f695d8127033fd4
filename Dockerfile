# SocketQueue-Go: the gateway, the bank emulator and the test clients in
# one static binary, run as a non-root user. Build: docker build -t socketqueue .
#
# Ports (each listener binds 127.0.0.1 unless told otherwise; in a
# container the command below binds 0.0.0.0):
#   2014 POS clients (--listenPort)     8080 HTTP API (--listenHttpPort)
#   8081 admin: /metrics /dashboard /healthz /livez (--adminPort)
#   4000 stat server (--statServerPort) 5000 bank emulator (--echoServerPort)
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/socketqueue ./tools/isodump

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/socketqueue /out/isodump /usr/local/bin/
# 65532: distroless's nonroot user. The journal and the figures live on
# the volume: a purchase at the bank when the container dies is reversed
# by the next one that mounts it.
USER 65532:65532
VOLUME /var/lib/socketqueue
WORKDIR /var/lib/socketqueue
ENV SOCKETQUEUE_DATA_DIR=/var/lib/socketqueue
EXPOSE 2014 8080 8081 4000 5000
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/socketqueue", "--probe=http://127.0.0.1:8081/livez"]
# SIGTERM stops cleanly (replies due delivered, reversals tried, journal
# flushed): give it queueTimeout + queueShortTimeout (docker stop -t 45).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/socketqueue"]
# The gateway with the built-in emulator as its upstream, as make run.
CMD ["--echoServerPort=5000", "--echoServerHost=0.0.0.0", "--upstreamHost=127.0.0.1", "--upstreamPort=5000", \
     "--listenPort=2014", "--listenHost=0.0.0.0", "--listenHttpPort=8080", "--listenHttpHost=0.0.0.0", \
     "--adminPort=8081", "--adminHost=0.0.0.0", "--statServerPort=4000", "--statServerHost=0.0.0.0", "--v"]
