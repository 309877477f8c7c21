# billing service image. Build from the repository root:
#   docker build -f infra/docker/billing.Dockerfile -t coexist/billing .
# Node runs the TypeScript sources directly (type stripping); there is no build step.
FROM node:24-slim AS deps
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# pnpm-workspace.yaml patches dependencies with these files; the install fails without them.
COPY infra/patches ./infra/patches
COPY packages ./packages
COPY services/billing ./services/billing
RUN pnpm install --frozen-lockfile --prod --filter "@coexist/billing..."

FROM node:24-slim
ENV NODE_ENV=production PORT=8083
# Size the heap to a 256 MB container (Node otherwise sizes it from the host's memory).
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=8" MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=deps /app ./
# Warm Node's compile cache at build time: main.ts without configuration compiles its whole module
# graph, then stops at the config check. The service then starts from the cache and never loads
# Node's TypeScript-stripping WebAssembly (~20 MB of RSS).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node services/billing/src/main.ts >/dev/null 2>&1; test -n "$(ls -A /app/.node-compile-cache)"
USER node
EXPOSE 8083
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Under the 160 MB old-space cap V8 grows the old generation by only ~1.3x after a mark-compact;
# with billing's ~40 MB live heap (records and lines held across a pricing transaction) it marked
# again almost at once: ~5 mark-compacts a second pricing a backlog, garbage collection a quarter of
# the main thread. Growing by 1.5x (pnpm bench billing): 65-70 µs of CPU per status event instead
# of 77-81, 230-248 MB peak RSS (2x: 54.5 µs but 261 MB, over the container). Not accepted in
# NODE_OPTIONS: hence here.
CMD ["node", "--heap-growing-percent=50", "services/billing/src/main.ts"]
