# Prometheus for compose/docker-compose.yml: Debian's `prometheus` package on debian:bookworm-slim
# (there is no image registry to pull prom/prometheus from; ops/docker-base makes the base
# image), with compose/prometheus.yml (scrapes every copycat process) and the alert rules of
# ops/monitoring/alerts.yml. The context is the repository (for the rules); only those two
# files and the health check are copied in.
FROM debian:bookworm-slim
LABEL copycat.image=prometheus

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o prometheus -g prometheus /var/lib/prometheus

COPY compose/prometheus.yml /etc/prometheus/prometheus.yml
COPY ops/monitoring/alerts.yml /etc/prometheus/rules/alerts.yml
COPY compose/bin/copycat-healthcheck /usr/local/bin/copycat-healthcheck
# Fails the build on a configuration or rules Prometheus would refuse.
RUN promtool check config /etc/prometheus/prometheus.yml

USER prometheus
ENTRYPOINT ["prometheus", "--config.file=/etc/prometheus/prometheus.yml", \
            "--storage.tsdb.path=/var/lib/prometheus", "--storage.tsdb.retention.time=7d", \
            "--web.listen-address=0.0.0.0:9090", "--web.enable-lifecycle"]
