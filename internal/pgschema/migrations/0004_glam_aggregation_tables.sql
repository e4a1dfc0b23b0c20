-- GLAM's own aggregate tables, with the GLAM app's names, columns and unique
-- keys (glam/api/models.py), so the app reads what a probe build writes. IF
-- NOT EXISTS: in a database GLAM's own migrations already set up, the
-- existing tables are used as they are. (GLAM's app reads materialized views
-- view_<table> that its importer refreshes; see internal/probebuild/README.md.)

CREATE TABLE IF NOT EXISTS glam_desktop_nightly_aggregation (
    id                   bigserial    PRIMARY KEY,
    version              bigint       NOT NULL,
    os                   varchar(100) NOT NULL,
    build_id             varchar(100) NOT NULL,
    process              varchar(50)  NOT NULL,
    metric               varchar(200) NOT NULL,
    metric_key           varchar(200) NOT NULL,
    client_agg_type      varchar(100) NOT NULL,
    metric_type          varchar(100) NOT NULL,
    total_users          integer      NOT NULL,
    histogram            text,
    percentiles          text,
    total_sample         bigint,
    non_norm_histogram   text,
    non_norm_percentiles text,
    CONSTRAINT desktop_nightly_unique_dimensions
        UNIQUE (version, os, build_id, process, metric, metric_key, client_agg_type)
);

CREATE TABLE IF NOT EXISTS glam_desktop_beta_aggregation (
    id                   bigserial    PRIMARY KEY,
    version              bigint       NOT NULL,
    os                   varchar(100) NOT NULL,
    build_id             varchar(100) NOT NULL,
    process              varchar(50)  NOT NULL,
    metric               varchar(200) NOT NULL,
    metric_key           varchar(200) NOT NULL,
    client_agg_type      varchar(100) NOT NULL,
    metric_type          varchar(100) NOT NULL,
    total_users          integer      NOT NULL,
    histogram            text,
    percentiles          text,
    total_sample         bigint,
    non_norm_histogram   text,
    non_norm_percentiles text,
    CONSTRAINT desktop_beta_unique_dimensions
        UNIQUE (version, os, build_id, process, metric, metric_key, client_agg_type)
);

CREATE TABLE IF NOT EXISTS glam_desktop_release_aggregation (
    id                   bigserial    PRIMARY KEY,
    version              bigint       NOT NULL,
    os                   varchar(100) NOT NULL,
    build_id             varchar(100) NOT NULL,
    process              varchar(50)  NOT NULL,
    metric               varchar(200) NOT NULL,
    metric_key           varchar(200) NOT NULL,
    client_agg_type      varchar(100) NOT NULL,
    metric_type          varchar(100) NOT NULL,
    total_users          integer      NOT NULL,
    histogram            text,
    percentiles          text,
    total_sample         bigint,
    non_norm_histogram   text,
    non_norm_percentiles text,
    CONSTRAINT desktop_release_unique_dimensions
        UNIQUE (version, os, build_id, process, metric, metric_key, client_agg_type)
);

CREATE TABLE IF NOT EXISTS glam_fenix_aggregation (
    id                   bigserial    PRIMARY KEY,
    app_id               varchar(100) NOT NULL,
    channel              varchar(100) NOT NULL,
    version              bigint       NOT NULL,
    ping_type            varchar(100) NOT NULL,
    os                   varchar(100) NOT NULL,
    build_id             varchar(100) NOT NULL,
    build_date           timestamptz,
    metric               varchar(200) NOT NULL,
    metric_type          varchar(100) NOT NULL,
    metric_key           varchar(200) NOT NULL,
    client_agg_type      varchar(100) NOT NULL,
    total_users          integer      NOT NULL,
    histogram            text,
    percentiles          text,
    total_sample         bigint,
    non_norm_histogram   text,
    non_norm_percentiles text,
    CONSTRAINT fenix_unique_dimensions
        UNIQUE (app_id, channel, version, ping_type, os, build_id, metric, metric_type, metric_key, client_agg_type)
);

CREATE TABLE IF NOT EXISTS glam_fog_aggregation (
    id                   bigserial    PRIMARY KEY,
    app_id               varchar(100) NOT NULL,
    channel              varchar(100) NOT NULL,
    version              bigint       NOT NULL,
    ping_type            varchar(100) NOT NULL,
    os                   varchar(100) NOT NULL,
    build_id             varchar(100) NOT NULL,
    build_date           timestamptz,
    metric               varchar(200) NOT NULL,
    metric_type          varchar(100) NOT NULL,
    metric_key           varchar(200) NOT NULL,
    client_agg_type      varchar(100) NOT NULL,
    total_users          integer      NOT NULL,
    histogram            text,
    percentiles          text,
    total_sample         bigint,
    non_norm_histogram   text,
    non_norm_percentiles text,
    CONSTRAINT fog_unique_dimensions
        UNIQUE (app_id, channel, version, ping_type, os, build_id, metric, metric_type, metric_key, client_agg_type)
);
