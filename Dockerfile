# The smsgateway service: a static binary on a distroless base, run as a
# non-root user. Build: docker build -t smsgateway .
# Run:   docker run -p 8000:8000 -v smsgateway-data:/data smsgateway

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (modernc.org/sqlite): no cgo, so the binary is static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/smsgateway ./cmd/smsgateway \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/smsgateway /usr/local/bin/smsgateway
# The SQLite database lives here; mount a volume on it.
COPY --from=build --chown=65532:65532 /out/data /data
ENV SMSGATEWAY_ADDR=:8000 \
    SMSGATEWAY_DATA_DIR=/data
EXPOSE 8000
VOLUME ["/data"]
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/smsgateway"]
