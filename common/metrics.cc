#include "common/metrics.h"

#include <prometheus/text_serializer.h>

#include "common/assert.h"

namespace copycat {
namespace {

void check_name(const std::string& name) {
    COPYCAT_ASSERT(name.starts_with("copycat_"),
                   "metric names start with copycat_ (CONVENTIONS.md, Metrics)");
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
    gauge_family("copycat_build_info", "Which version of copycat is running; always 1.")
        .Add({{"version", COPYCAT_VERSION}})
        .Set(1);
}

prometheus::Family<prometheus::Counter>& Metrics::counter_family(const std::string& name,
                                                                 const std::string& help) {
    check_name(name);
    COPYCAT_ASSERT(name.ends_with("_total"), "counter names end in _total (CONVENTIONS.md)");
    return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
}

prometheus::Family<prometheus::Gauge>& Metrics::gauge_family(const std::string& name,
                                                             const std::string& help) {
    check_name(name);
    return prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
}

prometheus::Family<prometheus::Histogram>& Metrics::histogram_family(const std::string& name,
                                                                     const std::string& help) {
    check_name(name);
    return prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
}

prometheus::Counter& Metrics::counter(const std::string& name, const std::string& help) {
    return counter_family(name, help).Add({});
}

prometheus::Gauge& Metrics::gauge(const std::string& name, const std::string& help) {
    return gauge_family(name, help).Add({});
}

prometheus::Histogram& Metrics::histogram(const std::string& name, const std::string& help,
                                          const std::vector<double>& bucket_bounds) {
    return histogram_family(name, help).Add({}, bucket_bounds);
}

std::string Metrics::render() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::vector<double> duration_buckets_seconds() {
    std::vector<double> bounds = {0.0001, 0.00025, 0.0005};
    for (int k = 0; k <= 13; ++k) bounds.push_back(0.001 * static_cast<double>(1 << k));
    return bounds;
}

}  // namespace copycat
