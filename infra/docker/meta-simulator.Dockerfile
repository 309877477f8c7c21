# Meta simulator image (tests, demos; never production). From the repository root:
#   docker build -f infra/docker/meta-simulator.Dockerfile -t coexist/meta-simulator .
FROM node:24-slim AS deps
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# pnpm-workspace.yaml patches dependencies with these files; the install fails without them.
COPY infra/patches ./infra/patches
COPY packages ./packages
RUN pnpm install --frozen-lockfile --prod --filter "@coexist/meta-simulator..."

FROM node:24-slim
ENV NODE_ENV=production PORT=8090
WORKDIR /app
COPY --from=deps /app ./
USER node
EXPOSE 8090
CMD ["node", "packages/meta-simulator/src/main.ts"]
