# ingress service image. Build from the repository root:
#   docker build -f infra/docker/ingress.Dockerfile -t coexist/ingress .
# Node runs the TypeScript sources directly (type stripping); there is no build step.
FROM node:24-slim AS deps
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# pnpm-workspace.yaml patches dependencies with these files; the install fails without them.
COPY infra/patches ./infra/patches
COPY packages ./packages
COPY services/ingress ./services/ingress
RUN pnpm install --frozen-lockfile --prod --filter "@coexist/ingress..."

FROM node:24-slim
ENV NODE_ENV=production PORT=8080
# Size the heap to a 256 MB container (Node otherwise sizes it from the host's memory). 16 MB
# semi-spaces: at ~90 MB/s of short-lived request garbage, scavenges come half as often as with 8,
# so fewer in-flight requests are caught alive and promoted (half the scavenge time, almost no
# mark-compacts at half load) for ~10 MB more RSS.
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=16" MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=deps /app ./
# Warm Node's compile cache at build time: main.ts without configuration compiles its whole module
# graph, then stops at the config check. The service then starts from the cache and never loads
# Node's TypeScript-stripping WebAssembly (~20 MB of RSS).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node services/ingress/src/main.ts >/dev/null 2>&1; test -n "$(ls -A /app/.node-compile-cache)"
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Below a 256 MB old-space cap V8 grows the old generation by only 1.3x (at least 16 MB) after a
# full GC; with ingress's ~32 MB live heap that headroom is no larger than the young
# generation, so V8 starts marking again as soon as a mark-compact ends: ~8 mark-compacts a second
# under load, each with a 5-15 ms pause and ~150 ms of marking CPU. Growing by 2x keeps the old
# generation under ~70 MB and marking occasional. (Not accepted in NODE_OPTIONS: hence here.)
CMD ["node", "--heap-growing-percent=100", "services/ingress/src/main.ts"]
