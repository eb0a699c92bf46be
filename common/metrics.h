// The Prometheus metrics of one process (CONVENTIONS.md, Metrics): names start with copycat_,
// use base units (seconds, bytes), and counters end in _total. Every process exports
// copycat_build_info{version="..."} 1.
//
// Threads: families and metrics are created at start-up by the event loop thread; after that
// the loop updates them (atomic increments; histograms take a short mutex) while render() runs
// on an HTTP server thread. Both are safe: prometheus-cpp locks its registry when collecting.
// References returned here stay valid as long as the Metrics object.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

namespace copycat {

class Metrics {
public:
    // Creates the registry and copycat_build_info with the version this binary was built from.
    Metrics();

    // A family of metrics that differ by labels: family.Add({{"reason", "hwm"}}).Increment().
    // The name must start with copycat_ (and counters end in _total): a wrong name is a bug and
    // asserts. Asking twice for the same name and type returns the same family.
    prometheus::Family<prometheus::Counter>& counter_family(const std::string& name,
                                                            const std::string& help);
    prometheus::Family<prometheus::Gauge>& gauge_family(const std::string& name,
                                                        const std::string& help);
    prometheus::Family<prometheus::Histogram>& histogram_family(const std::string& name,
                                                                const std::string& help);

    // Shorthands for a metric without labels.
    prometheus::Counter& counter(const std::string& name, const std::string& help);
    prometheus::Gauge& gauge(const std::string& name, const std::string& help);
    prometheus::Histogram& histogram(const std::string& name, const std::string& help,
                                     const std::vector<double>& bucket_bounds);

    // Everything in the Prometheus text exposition format (version 0.0.4).
    std::string render() const;

    const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

private:
    std::shared_ptr<prometheus::Registry> registry_;
};

// Bucket upper bounds for durations in seconds that span disk and network latencies (etcd's
// shape): 0.0001, 0.00025, 0.0005, then 0.001 * 2^k for k = 0..13 (1 ms up to 8.192 s).
std::vector<double> duration_buckets_seconds();

}  // namespace copycat
