# The atoll image: one static binary, /atoll, on distroless (no shell, no libc), run as
# the nonroot user (uid 65532). deploy/helm/atoll runs it as `atoll site`.
#
#   docker build -t registry.example/atoll:0.1.0 .
#   docker push registry.example/atoll:0.1.0
#
# Not built in CI: the project's machines cannot run Docker. deploy/static_test.go builds
# ./cmd/atoll with the command of the builder stage below and checks that the result is a
# static binary (no ELF interpreter, no dynamic section), which is what the final stage
# needs. -tags release leaves out the commands that drive the project's tests and demo
# (sim, chaos, e2e, demo) and the test harness they link.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -tags release -trimpath -ldflags "-s -w" -o /out/atoll ./cmd/atoll

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/atoll /atoll
USER nonroot
# 7946: TLS streams (TCP), signed probes (UDP), Raft; 8080: the HTTP server.
EXPOSE 7946/tcp 7946/udp 8080/tcp
ENTRYPOINT ["/atoll"]
CMD ["site", "--config", "/etc/atoll/site.yaml"]
