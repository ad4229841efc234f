# syntax=docker/dockerfile:1
# Build: docker build -t management-api .
# Run:   docker run -p 9090:9090 -e MANAGEMENT_API_KEY=<secret> -v mapi-data:/data management-api

# --- build: compile one self-contained binary (Bun comes from npm, as everywhere else) ---
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json bunfig.toml ./
COPY src ./src
RUN npm run build && ./dist/management-api --version

# --- runtime: no node, no bun; tini reaps orphaned grandchildren of agent tasks ---
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/api api \
 && mkdir -p /data && chown api:api /data && chmod 700 /data
COPY --from=build /src/dist/management-api /usr/local/bin/management-api
USER api
ENV HOST=0.0.0.0 \
    PORT=9090 \
    DATA_DIR=/data \
    LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["management-api", "--healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "management-api"]
