# mesh: one image for every dispatch role (MESH_DISPATCH_ROLE=all|api|worker).
# Build stage: compile TypeScript with the full dev toolchain.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# postinstall applies patches/ (the DBOS queue wake-up) and fails the build if one does not apply.
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY app ./app
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: production dependencies only, non-root, read-only-root-filesystem friendly.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    MESH_AUTO_MIGRATE=false \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
# The build stage's production dependencies, patched there (no install scripts run in this stage).
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The node image's unprivileged user (uid 1000); Kubernetes also enforces runAsNonRoot.
USER 1000:1000
EXPOSE 8080
CMD ["node", "dist/app/main.js"]
