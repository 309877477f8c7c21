# outbound-sender service image. Build from the repository root:
#   docker build -f infra/docker/outbound-sender.Dockerfile -t coexist/outbound-sender .
# Node runs the TypeScript sources directly (type stripping); there is no build step.
FROM node:24-slim AS deps
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# pnpm-workspace.yaml patches dependencies with these files; the install fails without them.
COPY infra/patches ./infra/patches
COPY packages ./packages
COPY services/outbound-sender ./services/outbound-sender
RUN pnpm install --frozen-lockfile --prod --filter "@coexist/outbound-sender..."

FROM node:24-slim
ENV NODE_ENV=production PORT=8082
# Size the heap to a 256 MB container (Node otherwise sizes it from the host's memory).
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=8" MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=deps /app ./
# Warm Node's compile cache at build time: main.ts without configuration compiles its whole module
# graph, then stops at the config check. The service then starts from the cache and never loads
# Node's TypeScript-stripping WebAssembly (~20 MB of RSS).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node services/outbound-sender/src/main.ts >/dev/null 2>&1; test -n "$(ls -A /app/.node-compile-cache)"
USER node
EXPOSE 8082
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Below a 256 MB old-space cap V8 grows the old generation by only ~1.3x after a full GC. The
# worker's sends live 200-300 ms under load, longer than two scavenges, so most of what a send
# allocates is promoted (~40-55 MB/s at 3,000 sends/s): with its ~40 MB live heap that meant a
# mark-compact every ~0.35 s (~105 a bench run) and ~0.35 core of V8's marking threads. Growing by
# 2x halves the mark-compacts and saves ~0.1 core for ~7 MB of peak RSS (outbound README,
# 2026-12-08). (Not accepted in NODE_OPTIONS: hence here.)
CMD ["node", "--heap-growing-percent=100", "services/outbound-sender/src/main.ts"]
