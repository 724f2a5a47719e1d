# syntax=docker/dockerfile:1
# One image for every fleetgrid service (simulate, process, sink, serve, query, replay):
# Node 24 runs the TypeScript sources directly (type stripping), so the image is the
# sources plus production node_modules; no build step, no compiler in the image.
# Used by infra/compose/docker-compose.yml; `docker build -t fleetgrid .` builds it alone.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install` honours the lock (npm ci rejects a lock that lists only this platform's
# optional packages, see the Makefile); --omit=dev leaves test tools out of the image.
RUN npm install --omit=dev --no-audit --no-fund \
    && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    # Prometheus scrapes from another container: /metrics must not stay on loopback.
    METRICS_HOST=0.0.0.0 \
    FLEETGRID_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
ENTRYPOINT ["node", "bin/fleetgrid.mjs"]
CMD ["--help"]
