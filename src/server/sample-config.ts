// The sample config of `./proxy generate-config` (also configs/example.yaml, kept equal by a test).

/** The commented sample printed by `proxy generate-config`; kept valid by a test. */
export const SAMPLE_CONFIG = `# promfront configuration.
# Durations are written the Prometheus way (30s, 5m, 1h30m); sizes as bytes or with a unit (64MiB).
# A running proxy re-reads this file on SIGHUP or POST /-/reload; every field but listen applies.

# Address the HTTP server listens on. ":9099" listens on every interface. Changes need a restart.
listen: 127.0.0.1:9099

# trace | debug | info | warn | error | fatal | silent (also --log.level on the command line).
# The line format is a flag: --log.format=logfmt (default) or json.
log_level: info

# Sharding core: scrape high-cardinality exporters and split their series over num_shards
# endpoints /metrics/shard/0 .. /metrics/shard/<num_shards-1>; one Prometheus scrapes each.
shard:
  num_shards: 4
  # job_name used in the scrape_configs printed by \`proxy scrape-config\` (one for all shards),
  # and the job label of the sources' series unless a source sets its own job_name.
  job_name: promfront-shards
  # Each series gets its source's job and instance (host:port) unless it carries its own, so it
  # is the series a direct scrape would give, whichever shard holds it (docs/shard-identity.md).
  source_identity: true
  scrape_interval: 15s
  # Per request to an upstream; defaults to scrape_interval. Sources may override it.
  scrape_timeout: 10s
  # A failed source's last good series are served for at most this long, then dropped.
  # Default: 5 scrape intervals.
  max_stale: 75s
  # An upstream body (compressed or not) larger than this fails the scrape.
  max_body_size: 512MiB
  # gzip level of the prebuilt shard bodies (1 fastest .. 9 smallest).
  gzip_level: 1
  sources:
    - url: http://127.0.0.1:9283/metrics
      # Added to every series of this source. A scraped label with the same name is kept
      # as exported_<name>, as Prometheus does.
      labels:
        cluster: ceph-a
      # The job label of this source's series; default: the shard section's job_name.
      job_name: ceph
      # Optional per-source settings:
      # timeout: 10s
      # headers: {X-Scope-OrgID: tenant-1}
      # basic_auth: {username: prom, password_file: /etc/promfront/ceph-a.pass}  (or password: ...)
      # bearer_token_file: /var/run/secrets/token
      # tls_config: {ca_file: /etc/ssl/ca.pem, cert_file: client.pem, key_file: client.key, server_name: ceph-a, insecure_skip_verify: false}
      # max_body_size: 256MiB
      # sigv4: {region: us-east-1, access_key: AKIA..., secret_key: ..., profile: default, role_arn: arn:aws:iam::1:role/r, service: aps}
      # Credential files are read at each scrape, so a file mounted after start-up is picked up.
    # When two sources serve the very same series (same job and instance too), the one listed
    # first wins; the other copy is dropped and counted in promfront_duplicate_series_dropped_total.
    - url: http://127.0.0.1:9100/metrics

# Query layer: Prometheus's HTTP API (/api/v1/query, query_range, series, labels, read...) and
# /federate over server groups, one group per shard, each a set of HA replicas whose series are
# merged.
# query:
#   semantics: prometheus-3        # or prometheus-2, to match 2.x downstream servers
#   lookback_delta: 5m
#   timeout: 2m
#   max_samples: 50000000
#   max_concurrency: 64
#   max_match_selectors: 1000      # match[] per /series, /labels, /label/../values, /federate request
#   max_concurrent_queries: 20     # queries evaluated at once (Prometheus's --query.max-concurrency)
#   max_queued_queries: 200        # queries waiting for a turn; more are refused with 503
#   per_step_stats: false          # true: stats=all lists the samples read per step (Prometheus's --enable-feature=promql-per-step-stats)
#   partial_workers: 2             # threads computing per-group partial aggregates (docs/parallel.md); 0: off; default one per core
#   thread_nice: 5                 # nice value of the query thread and partial workers (Linux): scrapes, shards and health run first; 0: off
#   partial_pushdown: true         # per-group partial aggregates evaluated by each group's one verified Prometheus (docs/parallel.md); false: off
#   # Range-query results cache (docs/results-cache.md): a dashboard's refresh evaluates only what
#   # is newer than the last one. On by default, in memory.
#   results_cache:
#     enabled: true
#     freshness: 10m               # evaluation times newer than this are never cached
#     split_interval: 24h          # one cache entry per query, step and bucket of this width
#     ttl: 24h
#     max_size: 256MiB             # in-memory bound (not used with redis)
#     max_item_size: 16MiB         # larger entries (one query, one split_interval) are not stored
#     # redis: {address: "127.0.0.1:6379", password: secret, db: 0, timeout: 100ms}  # shared by several proxies
#   server_groups:
#     - name: shard-0
#       static_configs: [{targets: ["127.0.0.1:9090", "127.0.0.1:9190"]}]
#       anti_affinity: 10s
#       keep_external_labels: false # true: keep the servers' external labels on series (docs/merge-rules.md)
#       replica_labels: []          # label names removed before the HA merge, as Thanos's --query.replica-label
#       max_body_size: 512MiB       # largest answer read from one server (JSON or remote read)
#       ignore_error: false         # true: a failing group is a warning; its timeout then defaults to half the query's
#       hedge: true                 # a replica still silent max(hedge_min_wait, hedge_latency_factor x its twin's latency) after the twin answered is left out
#       hedge_min_wait: 1s
#       hedge_latency_factor: 3
#       timeout: 1m                 # default: query.timeout (half of it with ignore_error)
#       labels: {shard: "0"}        # added to every series of the group; matchers on them prune groups
#       # How samples are read: true = Prometheus's remote read, false = the JSON query API,
#       # unset = remote read where the server serves it, the JSON API where it does not.
#       # remote_read: true
#       remote_read_path: /api/v1/read
#       stale_nan: false            # true for VictoriaMetrics: NaN samples read through the JSON API are staleness markers
#       pushdown: false             # unset (default): whole queries go to a lone server that says it is the Prometheus query.semantics names; true: also per-series parts; false: never (docs/pushdown.md)
#     # Targets may also be discovered (promxy's / Prometheus's fields); all kinds may be combined.
#     - name: shard-1
#       # Prometheus file_sd files: [{targets: ["host:port"], labels: {...}}]; re-read on change.
#       file_sd_configs: [{files: [/etc/promfront/shard-1/*.json], refresh_interval: 5m}]
#       # SRV records (or type A / AAAA with a port).
#       dns_sd_configs: [{names: [_prometheus._tcp.shard-1.example.internal], type: SRV, refresh_interval: 30s}]
#       # dns_sd_configs: [{names: [prometheus.shard-1.example.internal], type: A, port: 9090}]
#       # Prometheus HTTP SD, e.g. a fleet group's live members (docs/fleet.md).
#       # http_sd_configs: [{url: "http://127.0.0.1:9099/sd/fleet/members?group=shard-1", refresh_interval: 5s}]
#       #   (auth and TLS as Prometheus's: basic_auth, authorization, bearer_token(_file), tls_config)
#     # A group per fleet group, found without naming them (docs/fleet.md): this entry becomes one
#     # server group per group of the fleet, whose targets are that group's live members.
#     # - anti_affinity: 10s
#     #   fleet_sd_configs: [{url: "http://127.0.0.1:9099/sd/fleet/members", refresh_interval: 5s}]
#       scheme: https
#       path_prefix: /prometheus    # the servers' --web.route-prefix
#       query_params: {}            # added to every request's URL
#       http_headers: {X-Scope-OrgID: tenant-1}
#       http_client:
#         dial_timeout: 200ms
#         tls_config: {ca_file: /etc/ssl/prometheus-ca.pem, server_name: prometheus.example.internal}
#         basic_auth: {username: promfront, password_file: /etc/promfront/prometheus.pass}  # or password: ...
#         # or: bearer_token_file: /var/run/secrets/token (or bearer_token: ...)
#         # or: authorization: {type: Bearer, credentials_file: /var/run/secrets/token} (or credentials: ...)
#         # or AWS SigV4 (an Amazon Managed Service for Prometheus workspace, docs/sigv4.md):
#         # sigv4: {region: us-east-1}
#
# Pushgateway HA routing (docs/push.md): PUT/POST/DELETE on /metrics/job/... go to the Pushgateway
# that owns the group's canonical grouping key; Prometheus finds the Pushgateways at /sd/pushgateways.
# push:
#   pushgateways:
#     static_configs: [{targets: ["127.0.0.1:9091", "127.0.0.1:9092", "127.0.0.1:9093"]}]
#     # file_sd_configs / dns_sd_configs as for server groups
#   health_check_interval: 5s      # /-/healthy and /-/ready of each; a failed one leaves the ring
#   rebalance: true                # move groups whose owner changed, then delete the old copy
#   max_body_size: 16MiB           # larger pushes are refused with 413
#   forward_timeout: 30s           # one forwarded push, connect to last byte
#   job_name: pushgateway          # the job \`./proxy scrape-config\` prints for them
#   # Pushgateways behind --web.config.file (exporter-toolkit): pushes, health checks and moves alike
#   scheme: https
#   tls_config: {ca_file: /etc/promfront/pushgateway-ca.crt}
#   basic_auth: {username: pusher, password_file: /etc/promfront/pushgateway.password}   # or authorization: {type: Bearer, credentials_file: ...}

# Federation over NATS JetStream (docs/stream.md). At the edge: scrape local targets and publish
# every scrape to a JetStream stream (created if missing). At the centre: a \`nats\` entry in
# shard.sources serves what arrives, e.g.
#   - nats: {servers: ["nats://nats.example:4222"], stream: PROMFRONT, subjects: ["promfront.scrapes.>"], durable: central}
#     max_age: 1m                  # older scrapes are skipped; targets silent this long disappear
#     max_message_size: 64MiB
# publish:
#   nats:
#     servers: ["nats://nats.example:4222"]
#     stream: PROMFRONT
#     subject_prefix: promfront.scrapes
#     # one of: user: promfront + password: secret | token: secret | creds_file: /etc/nats/edge.creds
#     #         | nkey_seed_file: /etc/nats/edge.nk; and tls_config: {ca_file, cert_file, key_file}
#   publisher: dc-east-1           # default: the host name
#   scrape_interval: 15s
#   stream_max_age: 1h             # limits of the stream when it is created here
#   stream_max_bytes: 1GiB
#   backlog_max_messages: 10000    # kept while NATS is unreachable; the oldest dropped first
#   backlog_max_bytes: 256MiB
#   duplicate_window: 2m           # JetStream drops a re-published scrape (same Nats-Msg-Id) within this
#   jobs:
#     - job_name: node
#       metrics_path: /metrics
#       static_configs: [{targets: ["127.0.0.1:9100"], labels: {dc: east-1}}]
#       # Prometheus file_sd files; targets follow the files while running
#       file_sd_configs: [{files: [/etc/promfront/edge/*.json], refresh_interval: 5m}]
# Fleet (docs/fleet.md): register the Prometheus beside this promfront in etcd and serve each
# group's share of the registered targets as HTTP SD (/sd/fleet?group=G).
# fleet:
#   etcd:
#     endpoints: ["http://127.0.0.1:2379"]
#     prefix: /promfront
#     lease_ttl: 10s
#     request_timeout: 3s               # one etcd request (watches excepted)
#   register: {address: 127.0.0.1:9090, group: shard-0}
#   targets:
#     etcd_prefix: /registry            # <etcd_prefix>/<service>/<host:port>
#     static_configs: [{targets: ["127.0.0.1:9100"], labels: {service: node}}]
#     file_sd_configs: [{files: [/etc/promfront/fleet/*.json], refresh_interval: 5m}]  # the same files on every promfront
#     shards: false                     # true: also hand out this promfront's /metrics/shard/K
#     # Levels: a lower fleet's members federated by this one's groups (scrape-config --fleet prints the job).
#     federate:
#       - fleet_prefix: /level1           # that fleet's etcd.prefix
#         job_name: level1                # default: the prefix's last element
#         match: ['{__name__=~"level1:.*"}']
#   handover_overlap: 1m                # >= HTTP SD refresh (5s) + one scrape interval

# Recording and alerting rules over the whole fleet (docs/rules.md): Prometheus's rule files,
# evaluated through the query layer; results written to remote_write, alerts to Alertmanager.
# rule_files: ["rules/*.yml"]      # relative to this file; checked as promtool check rules
# evaluation_interval: 1m
# external_labels: {source: promfront}
# remote_write:
#   - url: http://127.0.0.1:9090/api/v1/write
#     remote_timeout: 30s
#     queue_config:                  # Prometheus's names and 2.42 defaults
#       capacity: 2500               # samples a shard buffers besides its batch in flight; the rest wait
#       min_shards: 1
#       max_shards: 200
#       max_samples_per_send: 500
#       batch_send_deadline: 5s
#       min_backoff: 30ms
#       max_backoff: 5s
#       retry_on_http_429: true
#       max_pending_samples: 500000  # ours: held per endpoint; beyond it the oldest are dropped (counted)
# alerting:
#   resend_delay: 1m                 # Prometheus's --rules.alert.resend-delay
#   for_grace_period: 10m            # --rules.alert.for-grace-period
#   for_outage_tolerance: 1h         # --rules.alert.for-outage-tolerance
#   alertmanagers:
#     - static_configs: [{targets: ["127.0.0.1:9093"]}]
#       api_version: v2
`;
