# credcache container image: the daemon, run as
#   credcache serve --config /etc/credcache/credcache.yaml
# as a numeric non-root user under tini. No Docker engine runs in CI: this file is checked
# statically by test/deploy/dockerfile.test.ts (lint, COPY sources, .dockerignore, the command).
#
#   docker build -t credcache:0.1.0 .
#
# The base image is pinned to an exact Node 20 release (engines.node in package.json) and is the
# same for both stages. A tag can still be re-pushed: the release process pins its digest too,
#   docker build --build-arg NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest> .
# and records it (and the exact Debian packages) in the release notes.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- build: compile src/ to dist/, then keep only the production dependencies ---------------
FROM ${NODE_IMAGE} AS build
WORKDIR /build
# Dependencies first, as their own layer, so a source-only change reuses it. --ignore-scripts:
# `npm ci` would run `prepare` (= npm run build) before the sources are here; no production
# dependency has an install script (the lockfile's only one is esbuild, a dev tool not used here).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
# tsc -p tsconfig.build.json writes dist/; then drop the devDependencies from node_modules.
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime: node, tini, package.json, bin/, dist/, production node_modules ----------------
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="credcache" \
      org.opencontainers.image.description="Credential-caching sidecar daemon for AWS Lake Formation and Redshift Serverless temporary credentials" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}"

# tini as PID 1: forwards SIGTERM to node and reaps zombies. The user: numeric 10001 (the pod's
# runAsUser in deploy/k8s), with a passwd entry. The token directory is owned by it. npm, npx,
# corepack and yarn are not needed to run the daemon: removed (less to patch and to scan).
# `credcache` on the PATH, for `docker exec … credcache get <target>` (CREDCACHE_CONFIG is set).
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends tini ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 credcache; \
    useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin credcache; \
    install -d -o 10001 -g 10001 -m 0700 /var/run/credcache; \
    install -d -m 0755 /etc/credcache; \
    rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*; \
    ln -s /app/bin/credcache.js /usr/local/bin/credcache

WORKDIR /app
# Owned by root and not writable by the daemon's user. package.json carries "type": "module".
COPY package.json ./
COPY bin/ ./bin/
COPY --from=build /build/dist/ ./dist/
COPY --from=build /build/node_modules/ ./node_modules/

# MALLOC_ARENA_MAX=1: one glibc malloc arena instead of one per thread that allocates (V8's
# GC and compiler threads, libuv's pool), each keeping its own freed memory resident: 3-4 MB
# less idle, up to 8 MB less after load, no measurable cost in requests per second (glibc reads
# it at process start, so it has to come from the environment).
ENV NODE_ENV=production \
    CREDCACHE_CONFIG=/etc/credcache/credcache.yaml \
    MALLOC_ARENA_MAX=1

# Read-only root filesystem: the daemon writes only its token file, in /var/run/credcache
# (auth.tokenFile: /var/run/credcache/token), and may use /tmp. Both are volumes here, so
# `docker run --read-only` works; in Kubernetes mount emptyDirs there (deploy/k8s does).
# The configuration is read from /etc/credcache/credcache.yaml (a ConfigMap in Kubernetes).
VOLUME ["/var/run/credcache", "/tmp"]

# 9911: the credential API. It listens on loopback (listen: 127.0.0.1:9911) and is reached by
# the app sharing the pod's or task's network namespace, never published.
# 9912: /healthz, /readyz and /metrics (probeListen), for probes and Prometheus: on loopback
# (ECS: probeListen: 127.0.0.1:9912) or the pod's own IP (Kubernetes: $(POD_IP):9912), never 0.0.0.0.
EXPOSE 9911 9912

USER 10001:10001

# Healthy = /readyz answers 200 (every target holds a servable credential), which lets an ECS
# companion container wait with dependsOn condition HEALTHY. It needs the probe listener on
# 127.0.0.1:9912, as in the ECS configuration (probeListen: 127.0.0.1:9912); without
# probeListen the check fails. Kubernetes ignores HEALTHCHECK: it uses the pod's probes. No curl
# in the slim image: node's fetch does it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9912/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The daemon drains on SIGTERM (shutdownGraceSeconds, default 10): give `docker stop` -t above it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/credcache.js"]
CMD ["serve", "--config", "/etc/credcache/credcache.yaml"]
