# pg_anomaly on the official PostgreSQL 15 image, with pg_cron, both preloaded.
# The build stage runs the same scripts the tests run (scripts/setup.sh, scripts/install.sh),
# so the image cannot drift from what is tested.
FROM postgres:15-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates build-essential git \
 && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
ENV PATH=/root/.cargo/bin:$PATH
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh && bash scripts/install.sh

FROM postgres:15-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15-cron \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/postgresql/15/lib/pg_anomaly.so /usr/lib/postgresql/15/lib/
COPY --from=build /usr/share/postgresql/15/extension/pg_anomaly* /usr/share/postgresql/15/extension/
CMD ["postgres", "-c", "shared_preload_libraries=pg_cron,pg_anomaly", "-c", "cron.database_name=postgres", "-c", "pg_anomaly.database=postgres"]
