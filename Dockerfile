# mesh: one image for every dispatch role (MESH_DISPATCH_ROLE=all|api|worker).
# Build stage: compile TypeScript with the full dev toolchain.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY app ./app
RUN npm run build

# Runtime stage: production dependencies only, non-root, read-only-root-filesystem friendly.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    MESH_AUTO_MIGRATE=false \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
# The node image's unprivileged user (uid 1000); Kubernetes also enforces runAsNonRoot.
USER 1000:1000
EXPOSE 8080
CMD ["node", "dist/app/main.js"]
