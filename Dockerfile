# syntax=docker/dockerfile:1
#
# hooktunnel in a container: a static binary on distroless, run as the
# non-root user "nonroot" (65532).
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t hooktunnel .
#   docker run -d --name hooktunnel-edge -p 443:443 -p 80:80 \
#     -v hooktunnel-data:/var/lib/hooktunnel \
#     -v /etc/hooktunnel/edge.yaml:/etc/hooktunnel/edge.yaml:ro \
#     --env-file /etc/hooktunnel/edge.env hooktunnel
#   docker run --rm hooktunnel agent 8000 --edge https://hooks.example.com ...
#
# Binding :80 and :443 as non-root works in the container's own network
# namespace (Docker sets net.ipv4.ip_unprivileged_port_start=0 there); with
# --network host, listen on high ports (--listen :8443 --http-listen :8080).
# The admin listener stays on the container's loopback unless you pass
# --admin-listen 0.0.0.0:9090 (then admin.token_sha256 is required) and
# publish it privately: -p 127.0.0.1:9090:9090.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/hooktunnel ./cmd/hooktunnel \
 && mkdir -p /out/data

# static-debian12 has CA certificates, tzdata and /etc/passwd with nonroot;
# no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hooktunnel /usr/local/bin/hooktunnel
COPY --from=build --chown=65532:65532 /out/data /var/lib/hooktunnel
USER 65532:65532
EXPOSE 443 80
VOLUME /var/lib/hooktunnel
ENTRYPOINT ["/usr/local/bin/hooktunnel"]
CMD ["edge", "--config", "/etc/hooktunnel/edge.yaml", "--data", "/var/lib/hooktunnel", "--log-format", "json"]
