#!/usr/bin/env python3
"""Checks ops/monitoring/ (alerts.yml, alerts_test.yml, grafana-dashboard.json) against the
metrics the sources register, so that renaming a metric, a label or a label value fails the
test instead of silently leaving an alert that never fires or an empty panel.

usage: check_monitoring.py SOURCE_DIR PROMTOOL

What it checks:
- every copycat_* name in the rules (expressions and annotations) and the dashboard is
  registered in the C++ sources (a counter, gauge or histogram call with that literal name);
  _bucket, _sum and _count only on histograms;
- every label in a selector, by(), without(), on() or ignoring() is one the sources attach
  (an .Add({{"label", ...}}) or a function returning prometheus::Labels), or one Prometheus
  adds (job, instance, le, ...); every literal value of such a label (each alternative of a
  regex made of words) is a string literal of the sources; job values are the four jobs;
- every alert has a severity, a summary, a description and a runbook naming a section of
  ops/monitoring/README.md, and alerts_test.yml has a case where it fires and one where not;
- the dashboard is well-formed JSON, its panels have unique ids and take their data source
  from the ${datasource} variable, and each query parses (promtool check rules on the
  queries, Grafana's variables replaced).
Exit status 0 when all hold, 1 with one line per finding otherwise.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

SOURCE_FOLDERS = ["common", "consensus", "logstore", "compactor", "gateway", "client"]
JOBS = {"consensus", "logstore", "compactor", "gateway"}
# Labels Prometheus (scrape, histograms, ALERTS) adds, and target labels a scrape
# configuration may add to tell clusters apart.
PROMETHEUS_LABELS = {"job", "instance", "le", "alertname", "alertstate", "severity", "cluster"}
FREE_VALUE_LABELS = {"instance", "le", "alertname", "alertstate", "severity", "cluster"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

REGISTRATION = re.compile(r'\b(counter|gauge|histogram)(?:_family)?\(\s*"(copycat_[a-z0-9_]+)"')
ADD_LABELS = re.compile(r'\.Add\(\s*\{\{(.*?)\}\}', re.S)
RETURN_LABELS = re.compile(r'prometheus::Labels\s+\w+\([^)]*\)\s*\{\s*return\s*\{\{(.*?)\}\}',
                           re.S)
LABEL_KEY = re.compile(r'\{?\s*"([a-z_][a-z0-9_]*)"\s*,')
STRING_LITERAL = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"')
METRIC_NAME = re.compile(r'\bcopycat_[a-z0-9_]+\b')
SELECTOR = re.compile(r'\{([^{}]*)\}')
MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
GROUPING = re.compile(r'\b(?:by|without|on|ignoring)\s*\(([^)]*)\)')
GRAFANA_VARIABLES = [("$__rate_interval", "1m"), ("$__interval", "1m"), ("$__range", "1h"),
                     ("${job}", ".+"), ("$job", ".+"), ("${instance}", ".+"),
                     ("$instance", ".+")]


class Sources:
    """What the C++ sources register: metric names, histograms, label names, literals."""

    def __init__(self, source_dir):
        self.metrics, self.histograms, self.labels, self.literals = set(), set(), set(), set()
        for folder in SOURCE_FOLDERS:
            for root, _, files in os.walk(os.path.join(source_dir, folder)):
                for name in files:
                    if name.endswith((".cc", ".h")):
                        with open(os.path.join(root, name), encoding="utf-8") as f:
                            self._scan(f.read())

    def _scan(self, text):
        for kind, name in REGISTRATION.findall(text):
            self.metrics.add(name)
            if kind == "histogram":
                self.histograms.add(name)
        for pattern in (ADD_LABELS, RETURN_LABELS):
            for group in pattern.findall(text):
                self.labels.update(LABEL_KEY.findall(group))
        self.literals.update(STRING_LITERAL.findall(text))


class Checker:
    def __init__(self, sources):
        self.sources = sources
        self.findings = []

    def fail(self, where, message):
        finding = f"{where}: {message}"
        if finding not in self.findings:
            self.findings.append(finding)

    def metric_names(self, where, text):
        for name in METRIC_NAME.findall(text):
            base = name
            for suffix in HISTOGRAM_SUFFIXES:
                if name.endswith(suffix) and name[:-len(suffix)] in self.sources.histograms:
                    base = name[:-len(suffix)]
            if base not in self.sources.metrics:
                self.fail(where, f"{name} is not a metric the sources register")

    def expression(self, where, expr):
        self.metric_names(where, expr)
        for selector in SELECTOR.findall(expr):
            for label, _, value in MATCHER.findall(selector):
                self.label_name(where, label)
                self.label_value(where, label, value)
        for group in GROUPING.findall(expr):
            for label in filter(None, (part.strip() for part in group.split(","))):
                self.label_name(where, label)

    def label_name(self, where, label):
        if label not in self.sources.labels and label not in PROMETHEUS_LABELS:
            self.fail(where, f"label {label} is attached to no metric by the sources")

    def label_value(self, where, label, value):
        if "$" in value or label in FREE_VALUE_LABELS:
            return
        words = value.split("|")
        if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word) for word in words):
            return  # a regex beyond a list of words: nothing to compare
        known = JOBS if label == "job" else self.sources.literals
        for word in words:
            if word not in known:
                self.fail(where, f'{label}="{word}" is a value the sources never give {label}')


def check_rules(checker, rules_path, tests_path, readme_path):
    with open(rules_path, encoding="utf-8") as f:
        text = f.read()
    checker.metric_names(rules_path, text)  # annotations and comments too
    rules = [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]
    with open(readme_path, encoding="utf-8") as f:
        anchors = {heading.strip().lower().replace(" ", "-")
                   for heading in re.findall(r"^#+\s+(.*)$", f.read(), re.M)}
    with open(tests_path, encoding="utf-8") as f:
        cases = [case for test in yaml.safe_load(f)["tests"]
                 for case in test.get("alert_rule_test", [])]
    for rule in rules:
        name = rule.get("alert") or rule.get("record")
        where = f"{rules_path} ({name})"
        checker.expression(where, rule["expr"])
        if "alert" not in rule:
            continue
        if rule.get("labels", {}).get("severity") not in ("warning", "critical"):
            checker.fail(where, "severity is neither warning nor critical")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            if not annotations.get(key):
                checker.fail(where, f"no {key} annotation")
        anchor = re.search(r"README\.md#([a-z0-9-]+)", annotations.get("runbook", ""))
        if anchor is None or anchor.group(1) not in anchors:
            checker.fail(where, f"the runbook names no section of {readme_path}")
        severity = rule.get("labels", {}).get("severity")
        fires = any(case["alertname"] == name and any(
            alert.get("exp_labels", {}).get("severity") == severity
            for alert in case.get("exp_alerts") or []) for case in cases)
        quiet = any(case["alertname"] == name and not case.get("exp_alerts") for case in cases)
        if not fires:
            checker.fail(where, f"{tests_path} has no case where it fires as {severity}")
        if not quiet:
            checker.fail(where, f"{tests_path} has no case where it must not fire")


def dashboard_queries(checker, path):
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except ValueError as e:
        checker.fail(path, f"not well-formed JSON: {e}")
        return []
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource":
        checker.fail(path, "no data source variable named datasource")
    queries, ids = [], set()
    panels = list(dashboard.get("panels", []))
    for panel in panels:
        panels.extend(panel.get("panels", []))  # rows may hold panels
        where = f'{path} (panel {panel.get("id")} "{panel.get("title")}")'
        if panel.get("id") in ids:
            checker.fail(where, "panel id used twice")
        ids.add(panel.get("id"))
        if "datasource" in panel and panel["datasource"].get("uid") != "${datasource}":
            checker.fail(where, f'data source {panel["datasource"].get("uid")!r}, not the '
                                "${datasource} variable")
        for target in panel.get("targets", []):
            uid = target.get("datasource", panel.get("datasource", {})).get("uid")
            if uid != "${datasource}":
                checker.fail(where, f"data source {uid!r}, not the ${{datasource}} variable")
            if not target.get("expr"):
                checker.fail(where, f'target {target.get("refId")} has no expr')
                continue
            queries.append((where, target["expr"]))
    for name, variable in variables.items():
        definition = variable.get("definition", "")
        match = re.fullmatch(r"label_values\((.*),\s*([a-z_]+)\)", definition)
        if variable.get("type") == "query":
            if variable.get("datasource", {}).get("uid") != "${datasource}":
                checker.fail(path, f"variable {name}: data source not ${{datasource}}")
            if match is None:
                checker.fail(path, f"variable {name}: not a label_values() query")
                continue
            queries.append((f"{path} (variable {name})", match.group(1)))
    if len(queries) < 10:
        checker.fail(path, f"only {len(queries)} queries: the dashboard was not read")
    return queries


def check_queries_parse(checker, promtool, queries):
    rules = []
    for i, (_, expr) in enumerate(queries):
        for variable, value in GRAFANA_VARIABLES:
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard_query_{i}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        path = f.name
    try:
        result = subprocess.run([promtool, "check", "rules", path], capture_output=True,
                                text=True, check=False)
    finally:
        os.unlink(path)
    if result.returncode != 0:
        for line in (result.stdout + result.stderr).splitlines():
            if "dashboard_query_" in line or "error" in line.lower():
                index = re.search(r"dashboard_query_(\d+)", line)
                where = queries[int(index.group(1))][0] if index else "dashboard"
                checker.fail(where, f"promtool: {line.strip()}")
        checker.fail("dashboard", f"promtool check rules failed ({result.returncode})")


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    source_dir, promtool = sys.argv[1], sys.argv[2]
    sources = Sources(source_dir)
    if len(sources.metrics) < 30 or not sources.histograms or not sources.labels:
        print(f"check_monitoring: found only {len(sources.metrics)} metrics in "
              f"{source_dir}: the registration pattern no longer matches the sources")
        return 1
    monitoring = os.path.join(source_dir, "ops", "monitoring")
    checker = Checker(sources)
    check_rules(checker, os.path.join(monitoring, "alerts.yml"),
                os.path.join(monitoring, "alerts_test.yml"),
                os.path.join(monitoring, "README.md"))
    dashboard = os.path.join(monitoring, "grafana-dashboard.json")
    queries = dashboard_queries(checker, dashboard)
    for where, expr in queries:
        checker.expression(where, expr)
    check_queries_parse(checker, promtool, queries)
    for finding in checker.findings:
        print(finding)
    used = set()
    for _, expr in queries:
        used.update(METRIC_NAME.findall(expr))
    unused = sorted(m for m in sources.metrics
                    if m not in used and not any(m + s in used for s in HISTOGRAM_SUFFIXES))
    print(f"check_monitoring: {len(sources.metrics)} metrics in the sources, {len(queries)} "
          f"dashboard queries; not on the dashboard: {', '.join(unused) or 'none'}")
    if checker.findings:
        print(f"check_monitoring: {len(checker.findings)} findings")
        return 1
    print("check_monitoring: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
