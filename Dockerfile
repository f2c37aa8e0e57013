# weft (the correlator, its API and the load generator) built from this repository.
#   docker build -t weft .        docker run --rm weft --help
FROM node:20-bookworm-slim AS build
# better-sqlite3 falls back to compiling when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY backend/package.json backend/
COPY plugin/package.json plugin/
RUN npm ci --workspace backend --include-workspace-root --no-audit --no-fund
COPY backend backend
RUN npm run build --workspace backend
# Production dependencies only, for the runtime image.
RUN rm -rf node_modules && npm ci --workspace backend --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/backend/package.json backend/
COPY --from=build /src/backend/bin backend/bin
COPY --from=build /src/backend/dist backend/dist
COPY templates templates
USER node
EXPOSE 8787
ENTRYPOINT ["node", "--max-semi-space-size=64", "backend/bin/weft.js"]
CMD ["run"]
