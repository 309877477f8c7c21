# sync service image. Build from the repository root:
#   docker build -f infra/docker/sync.Dockerfile -t coexist/sync .
# Node runs the TypeScript sources directly (type stripping); there is no build step.
FROM node:24-slim AS deps
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# pnpm-workspace.yaml patches dependencies with these files; the install fails without them.
COPY infra/patches ./infra/patches
COPY packages ./packages
COPY services/sync ./services/sync
RUN pnpm install --frozen-lockfile --prod --filter "@coexist/sync..."

FROM node:24-slim
ENV NODE_ENV=production PORT=8081
# Size the heap to a 256 MB container (Node otherwise sizes it from the host's memory).
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=8" MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=deps /app ./
# Warm Node's compile cache at build time: main.ts without configuration compiles its whole module
# graph, then stops at the config check. The service then starts from the cache and never loads
# Node's TypeScript-stripping WebAssembly (~20 MB of RSS).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node services/sync/src/main.ts >/dev/null 2>&1; test -n "$(ls -A /app/.node-compile-cache)"
USER node
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "services/sync/src/main.ts"]
