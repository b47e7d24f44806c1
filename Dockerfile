# roombook: build with tsc, run the compiled JavaScript on a slim Debian Node image.
# The image needs DATABASE_URL (the embedded PostgreSQL is a development convenience, left out).
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci runs our postinstall, which patches postgres.js (scripts/patch-postgres.cjs)
COPY scripts/patch-postgres.cjs ./scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
COPY bench ./bench
RUN npm run build && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 METRICS_PORT=9100
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY sql ./sql
USER node
# 3000: the API; 9100: Prometheus metrics (GET /metrics), served by the primary only
EXPOSE 3000 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
