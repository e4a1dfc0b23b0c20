package bigquerybuilder

import "strings"

// The SQL of a build. GLAM ETL's stages (bigquery-etl glam templates),
// folded into one query per probe kind so the heavy aggregation runs in
// BigQuery and only the final rows come back:
//
//  1. read the probe's per-client daily rows of one channel (sampled release
//     Windows clients, and their weight of 10, as the ETL does);
//  2. keep the latest @versions versions;
//  3. accumulate each client's rows over the days;
//  4. histograms: normalize each client row to shares (weight × count /
//     total); scalars: one vote per client and client_agg_type;
//  5. add the '*' rows: os and build_id (and ping_type for Glean);
//  6. keep builds with more than @min_build_clients distinct clients ('*'
//     always passes);
//  7. sum per row and bucket, and drop rows with @min_total_users or fewer.
//
// Bucket sets, the Dirichlet fill, percentiles and the JSON are computed in
// Go from the returned per-bucket sums (buckets.go, histogram.go).
//
// {{table}} is replaced by the quoted source table; {{part}} by the column
// that sits beside os and build_id: process (desktop) or ping_type (Glean).

// sqlFamily holds what differs between the desktop and Glean tables.
type sqlFamily struct {
	part string
	// keep filters the sampled release Windows clients; weight gives the
	// kept ones their weight.
	keep, weight string
	// cube lists the wildcard combinations of (os, build_id, part).
	cube string
	// partSrc reads the part column; rangeSrc the bucket range (desktop
	// histograms only carry one).
	histPartSrc, scalarPartSrc, rangeSrc string
}

var desktopSQL = sqlFamily{
	part:   "process",
	keep:   "NOT (@sampled AND t.os = 'Windows' AND MOD(t.sample_id, 10) != 0)",
	weight: "IF(@sampled AND t.os = 'Windows', 10, 1)",
	cube: `[STRUCT(FALSE AS all_os, FALSE AS all_builds, FALSE AS all_parts), (TRUE, FALSE, FALSE),
		(FALSE, TRUE, FALSE), (TRUE, TRUE, FALSE)]`,
	histPartSrc:   "h.process",
	scalarPartSrc: "s.process",
	rangeSrc: `h.bucket_range.first_bucket AS first_bucket, h.bucket_range.last_bucket AS last_bucket,
    h.bucket_range.num_buckets AS num_buckets,`,
}

var gleanSQL = sqlFamily{
	part:   "ping_type",
	keep:   "NOT (@sampled AND t.os = 'Windows' AND t.sample_id >= 10)",
	weight: "IF(@sampled AND t.os = 'Windows' AND SAFE_CAST(CAST(t.app_version AS STRING) AS INT64) >= 119, 10, 1)",
	cube: `[STRUCT(FALSE AS all_os, FALSE AS all_builds, FALSE AS all_parts), (TRUE, FALSE, FALSE),
		(FALSE, TRUE, FALSE), (TRUE, TRUE, FALSE), (FALSE, FALSE, TRUE), (TRUE, FALSE, TRUE),
		(FALSE, TRUE, TRUE), (TRUE, TRUE, TRUE)]`,
	histPartSrc:   "t.ping_type",
	scalarPartSrc: "t.ping_type",
	rangeSrc: `CAST(NULL AS INT64) AS first_bucket, CAST(NULL AS INT64) AS last_bucket,
    CAST(NULL AS INT64) AS num_buckets,`,
}

// gleanScalarSQL: Glean's scalar tables have no sample_id; every client is
// read, at weight 1.
var gleanScalarSQL = sqlFamily{part: gleanSQL.part, keep: "TRUE", weight: "1", cube: gleanSQL.cube,
	scalarPartSrc: gleanSQL.scalarPartSrc}

// familySQL is the SQL family of a build's source tables.
func familySQL(b Build, scalar bool) sqlFamily {
	switch {
	case b.Product == ProductFirefox:
		return desktopSQL
	case scalar:
		return gleanScalarSQL
	default:
		return gleanSQL
	}
}

func (f sqlFamily) histogramSQL(table string) string {
	return f.expand(histogramSQL, table, f.histPartSrc)
}

func (f sqlFamily) scalarSQL(table string) string {
	return f.expand(scalarSQL, table, f.scalarPartSrc)
}

func (f sqlFamily) expand(sql, table, partSrc string) string {
	return strings.NewReplacer("{{table}}", table, "{{part_src}}", partSrc, "{{range_src}}", f.rangeSrc,
		"{{keep}}", f.keep, "{{weight}}", f.weight, "{{cube}}", f.cube).Replace(sql)
}

// commonCTEs: the channel's latest version, and the builds with enough
// clients (counted over the whole table, like the ETL's build filter, not
// only over the clients sending this probe).
const commonCTEs = `
latest AS (
  SELECT MAX(version) AS version FROM src
),
builds AS (
  SELECT t.app_build_id AS build_id
  FROM {{table}} AS t CROSS JOIN latest
  WHERE t.channel = @channel AND t.submission_date >= @since
    AND SAFE_CAST(CAST(t.app_version AS STRING) AS INT64) > latest.version - @versions
  GROUP BY t.app_build_id
  HAVING COUNT(DISTINCT t.client_id) > @min_build_clients
)`

const histogramSQL = `
WITH src AS (
  SELECT
    t.client_id, t.os, SAFE_CAST(CAST(t.app_version AS STRING) AS INT64) AS version, t.app_build_id AS build_id,
    CAST({{weight}} AS FLOAT64) AS weight, {{part_src}} AS part, h.metric, h.metric_type, h.key AS metric_key,
    h.agg_type AS client_agg_type, {{range_src}} h.value
  FROM {{table}} AS t CROSS JOIN UNNEST(t.histogram_aggregates) AS h
  WHERE t.channel = @channel AND t.submission_date >= @since AND LOWER(h.metric) = LOWER(@probe)
    AND CHAR_LENGTH(h.key) <= 200 AND {{keep}}
),` + commonCTEs + `,
per_client AS (
  SELECT src.client_id, src.os, src.version, src.build_id, src.weight, src.part, src.metric, src.metric_type,
    src.metric_key, src.client_agg_type, v.key AS bucket, SUM(v.value) AS count,
    MIN(src.first_bucket) AS first_bucket, MAX(src.last_bucket) AS last_bucket, MAX(src.num_buckets) AS num_buckets
  FROM src CROSS JOIN latest CROSS JOIN UNNEST(src.value) AS v
  WHERE src.version > latest.version - @versions
  GROUP BY client_id, os, version, build_id, weight, part, metric, metric_type, metric_key, client_agg_type, bucket
),
client_totals AS (
  SELECT client_id, os, version, build_id, part, metric, metric_type, metric_key, client_agg_type, SUM(count) AS total
  FROM per_client
  GROUP BY client_id, os, version, build_id, part, metric, metric_type, metric_key, client_agg_type
),
normalized AS (
  SELECT c.client_id, c.os, c.version, c.build_id, c.weight, c.part, c.metric, c.metric_type, c.metric_key,
    c.client_agg_type, c.bucket, c.count, c.first_bucket, c.last_bucket, c.num_buckets,
    IF(t.total = 0, 0, c.weight * c.count / t.total) AS p
  FROM per_client AS c JOIN client_totals AS t
    ON c.client_id = t.client_id AND c.os = t.os AND c.version = t.version AND c.build_id = t.build_id
    AND c.part = t.part AND c.metric = t.metric AND c.metric_type = t.metric_type AND c.metric_key = t.metric_key
    AND c.client_agg_type = t.client_agg_type
),
wildcards AS (
  SELECT n.version, IF(g.all_os, '*', n.os) AS os, IF(g.all_builds, '*', n.build_id) AS build_id,
    IF(g.all_parts, '*', n.part) AS part, n.metric, n.metric_type, n.metric_key, n.client_agg_type, n.bucket,
    n.count, n.weight, n.p, n.first_bucket, n.last_bucket, n.num_buckets
  FROM normalized AS n CROSS JOIN UNNEST({{cube}}) AS g
  WHERE g.all_builds OR n.build_id IN (SELECT build_id FROM builds)
),
per_bucket AS (
  SELECT version, os, build_id, part, metric, metric_type, metric_key, client_agg_type, bucket,
    SUM(p) AS p, SUM(count) AS r, SUM(count * weight) AS s,
    MIN(first_bucket) AS first_bucket, MAX(last_bucket) AS last_bucket, MAX(num_buckets) AS num_buckets
  FROM wildcards
  GROUP BY version, os, build_id, part, metric, metric_type, metric_key, client_agg_type, bucket
),
grouped AS (
  SELECT version, os, build_id, part, metric, metric_type, metric_key, client_agg_type,
    SUM(p) AS users, SUM(s) AS total_sample,
    MIN(first_bucket) AS first_bucket, MAX(last_bucket) AS last_bucket, MAX(num_buckets) AS num_buckets,
    ARRAY_AGG(STRUCT(bucket AS key, p AS p, r AS r)) AS buckets
  FROM per_bucket
  GROUP BY version, os, build_id, part, metric, metric_type, metric_key, client_agg_type
  HAVING ROUND(SUM(p)) > @min_total_users
)
SELECT grouped.*, latest.version AS latest_version
FROM grouped CROSS JOIN latest
ORDER BY version, os, build_id, part, metric, metric_type, metric_key, client_agg_type`

const scalarSQL = `
WITH src AS (
  SELECT
    t.client_id, t.os, SAFE_CAST(CAST(t.app_version AS STRING) AS INT64) AS version, t.app_build_id AS build_id,
    CAST({{weight}} AS FLOAT64) AS weight, {{part_src}} AS part, s.metric, s.metric_type, s.key AS metric_key, s.agg_type, s.value
  FROM {{table}} AS t CROSS JOIN UNNEST(t.scalar_aggregates) AS s
  WHERE t.channel = @channel AND t.submission_date >= @since AND LOWER(s.metric) = LOWER(@probe)
    AND CHAR_LENGTH(s.key) <= 200 AND {{keep}}
),` + commonCTEs + `,
per_client AS (
  SELECT client_id, os, src.version, build_id, weight, part, metric, metric_type, metric_key,
    MAX(IF(agg_type = 'max', value, NULL)) AS max_v,
    MIN(IF(agg_type = 'min', value, NULL)) AS min_v,
    SUM(IF(agg_type = 'sum', value, NULL)) AS sum_v,
    SUM(IF(agg_type = 'count', value, NULL)) AS count_v,
    SUM(IF(agg_type = 'true', value, 0)) AS true_v,
    SUM(IF(agg_type = 'false', value, 0)) AS false_v
  FROM src CROSS JOIN latest
  WHERE src.version > latest.version - @versions
  GROUP BY client_id, os, version, build_id, weight, part, metric, metric_type, metric_key
),
votes AS (
  SELECT c.client_id, c.os, c.version, c.build_id, c.weight, c.part, c.metric, c.metric_type, c.metric_key,
    v.client_agg_type, v.value, CAST(NULL AS STRING) AS label, COALESCE(c.count_v, 0) AS samples
  FROM per_client AS c CROSS JOIN UNNEST([
    STRUCT('max' AS client_agg_type, c.max_v AS value), ('min', c.min_v), ('sum', c.sum_v),
    ('count', c.count_v), ('avg', SAFE_DIVIDE(c.sum_v, c.count_v))]) AS v
  WHERE c.metric_type NOT LIKE '%boolean%' AND v.value IS NOT NULL
  UNION ALL
  SELECT client_id, os, version, build_id, weight, part, metric, metric_type, metric_key,
    '' AS client_agg_type, CAST(NULL AS FLOAT64) AS value,
    CASE WHEN true_v > 0 AND false_v = 0 THEN 'always' WHEN true_v = 0 AND false_v > 0 THEN 'never'
      WHEN true_v > 0 AND false_v > 0 THEN 'sometimes' END AS label,
    true_v + false_v AS samples
  FROM per_client
  WHERE metric_type LIKE '%boolean%'
),
ranges AS (
  SELECT metric, metric_key, lo, hi,
    IF(lo >= hi, ARRAY<FLOAT64>[],
      ARRAY(SELECT ROUND(POW(2, (hi - lo) / 100 * i), 2) FROM UNNEST(GENERATE_ARRAY(0, 99)) AS i ORDER BY i)) AS buckets
  FROM (
    SELECT metric, metric_key,
      LN(IF(MIN(value) <= 0, 1, MIN(value))) / LN(2) AS lo, LN(IF(MAX(value) <= 0, 1, MAX(value))) / LN(2) AS hi
    FROM votes WHERE value IS NOT NULL
    GROUP BY metric, metric_key
  )
),
bucketed AS (
  SELECT v.client_id, v.os, v.version, v.build_id, v.weight, v.part, v.metric, v.metric_type, v.metric_key,
    v.client_agg_type, v.samples, v.label,
    IF(v.value IS NULL, NULL, (SELECT MAX(b) FROM UNNEST(r.buckets) AS b WHERE v.value >= b)) AS bucket
  FROM votes AS v LEFT JOIN ranges AS r ON v.metric = r.metric AND v.metric_key = r.metric_key
),
wildcards AS (
  SELECT b.client_id, b.version, IF(g.all_os, '*', b.os) AS os, IF(g.all_builds, '*', b.build_id) AS build_id,
    IF(g.all_parts, '*', b.part) AS part, b.metric, b.metric_type, b.metric_key, b.client_agg_type, b.label,
    b.bucket, b.weight, b.samples
  FROM bucketed AS b CROSS JOIN UNNEST({{cube}}) AS g
  WHERE g.all_builds OR b.build_id IN (SELECT build_id FROM builds)
),
per_bucket AS (
  SELECT version, os, build_id, part, metric, metric_type, metric_key, client_agg_type, label, bucket,
    SUM(weight) AS votes, COUNT(DISTINCT client_id) AS clients, SUM(samples * weight) AS s
  FROM wildcards
  GROUP BY version, os, build_id, part, metric, metric_type, metric_key, client_agg_type, label, bucket
),
grouped AS (
  SELECT version, os, build_id, part, metric, metric_type, metric_key, client_agg_type,
    SUM(votes) AS users, SUM(s) AS total_sample,
    ARRAY_AGG(STRUCT(label, bucket, votes, clients)) AS counts
  FROM per_bucket
  GROUP BY version, os, build_id, part, metric, metric_type, metric_key, client_agg_type
  HAVING SUM(votes) > @min_total_users
)
SELECT grouped.version, grouped.os, grouped.build_id, grouped.part, grouped.metric, grouped.metric_type, grouped.metric_key,
  grouped.client_agg_type, grouped.users, grouped.total_sample, grouped.counts, COALESCE(r.buckets, ARRAY<FLOAT64>[]) AS scalar_buckets,
  latest.version AS latest_version
FROM grouped CROSS JOIN latest LEFT JOIN ranges AS r ON grouped.metric = r.metric AND grouped.metric_key = r.metric_key
ORDER BY version, os, build_id, part, metric, metric_type, metric_key, client_agg_type`
