// GatewayCore: every decision copycat-gateway makes, without I/O (DESIGN.md, Layers). Its
// inputs are client messages, node messages and the passing of time; its outputs go through
// GatewayOutput, which the shell implements with sockets and tests with a recorder. No
// sockets, no clock, no threads.
//
// What it promises (DESIGN.md, gateway; the README says more):
//  - Request ids: a forwarded request carries a gateway-unique id, written into the client's
//    own bytes; its answer goes back to that client with the client's id written back. The
//    bytes are not decoded and re-encoded on the way. Requests with id 0 (other than the
//    one-way ResetRequest) are answered bad_request.
//  - Routing: commands, linearizable and lease queries, register, unregister and keep-alives
//    go to the leader; a no_leader answer is resent at once to the node its hint names, or
//    after a short backoff (20 ms doubling to 200 ms) while no node knows a leader. SEQUENTIAL
//    queries go round robin to followers within max_follower_lag of the leader's commit index
//    (the leader when none is), and to the leader if the follower cannot serve them.
//    Requests sent to a node that falls silent or cannot be sent to are sent elsewhere (a
//    command resent with the same session and sequence applies once).
//  - A request with no answer within request_timeout is answered timeout and forgotten (a
//    compaction, copycat-ctl compact, within 10 minutes: it answers when its run is done).
//  - Status polls every status_interval teach node ids, roles, terms and progress.
//  - Keep-alives are batched (keep_alive_batcher.h); never sent on the gateway's initiative.
//  - Events (PublishRequest) go to the client whose connection last carried their session;
//    a ResetRequest goes to the leader.
//  - Admin requests go to the node they name (unknown: bad_request), else status and session
//    lists to the leader or any node, member changes and transfers to the leader.
//  - Malformed input is counted and, when it has a request id, answered bad_request; it
//    never stops the gateway. Pending requests are bounded per client and in total.
//
// Single-threaded: one caller at a time.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "consensus/session/protocol.h"
#include "gateway/clients.h"
#include "gateway/clock.h"
#include "gateway/cluster_view.h"
#include "gateway/keep_alive_batcher.h"
#include "gateway/message_view.h"
#include "gateway/pending_table.h"

namespace copycat::gateway {

using namespace std::chrono_literals;

struct GatewayOptions {
    std::vector<std::string> node_endpoints;  // the nodes' client endpoints, in order
    Micros request_timeout = 2500ms;
    Micros keep_alive_window = 50ms;
    Micros status_interval = 250ms;
    uint64_t max_follower_lag = 1000;      // entries
    size_t keep_alive_batch_items = 1000;  // a batch goes at once with this many queued
    size_t keep_alive_max_batch_items = 5000;
    size_t max_keep_alive_items = 10'000;  // per client request (the nodes' own bound)
    Micros retry_backoff_min = 20ms;
    Micros retry_backoff_max = 200ms;
    size_t max_pending = 100'000;  // forwarded requests, and keep-alives queued
    size_t max_pending_per_client = 10'000;
    Micros idle_client_after = std::chrono::hours(1);
};

enum class ClientSend : uint8_t {
    sent,
    full,  // its queue is at the high-water mark: dropped, the connection kept
    gone,  // no such connection (any more)
};

// Messages the gateway did not deliver, by reason (copycat_network_messages_dropped_total).
enum class Drop : uint8_t {
    client_gone,
    client_full,
    node_unavailable,  // a send to a node failed (not connected, or its queue full)
    unknown_session,   // an event for a session no client of this gateway has used
    stale_answer,      // an answer to a request already finished
    malformed_node_message,
};
inline constexpr size_t kDropCount = 6;
const char* drop_name(Drop drop);

// What the core sends and reports; the shell implements it. Sends never block.
class GatewayOutput {
public:
    virtual ~GatewayOutput() = default;
    // False: not sent (the node is not connected, or its queue is full).
    virtual bool send_to_node(size_t node, std::span<const uint8_t> bytes) = 0;
    virtual ClientSend send_to_client(std::string_view routing_id,
                                      std::span<const uint8_t> bytes) = 0;
    // A client request got its final answer (or a one-way reset was forwarded).
    virtual void answered(Op op, session::ErrorCode code, Micros took) = 0;
    // A message that does not read as what `from` ("client", "node") should send.
    virtual void malformed(std::string_view from, const Status& why) = 0;
};

struct GatewayStats {
    explicit GatewayStats(size_t nodes) : forwarded(nodes), answered_by(nodes) {}

    uint64_t keep_alive_batches = 0;
    uint64_t keep_alive_items = 0;  // sessions sent in batches, after merging
    uint64_t events_forwarded = 0;
    std::vector<uint64_t> forwarded;  // per node: requests sent to it, resends included
    // Per node and op: final answers that came from it.
    std::vector<std::array<uint64_t, kOpCount>> answered_by;
    std::array<uint64_t, kDropCount> dropped{};
};

class GatewayCore {
public:
    // `output` must outlive the core; `now` starts the clock (silence is measured from it).
    GatewayCore(GatewayOptions options, GatewayOutput& output, Time now);

    // A message from the client with this routing id. The core may write into `bytes`.
    void on_client_message(std::string_view routing_id, std::span<uint8_t> bytes, Time now);
    // A message from node `node` (an index into the endpoints). The core may write into
    // `bytes`: an answer goes on to its client as these bytes, with the client's id in them.
    void on_node_message(size_t node, std::span<uint8_t> bytes, Time now);
    // Timers: status polls, keep-alive batches, retries after backoff, timeouts, idle
    // entries. Call every few milliseconds (the finest timer is the first retry backoff).
    void on_tick(Time now);

    const ClusterView& cluster() const { return cluster_; }
    size_t sessions() const { return clients_.sessions(); }
    size_t clients() const { return clients_.clients(); }
    size_t pending() const { return pending_.size(); }
    const GatewayStats& stats() const { return stats_; }
    const GatewayOptions& options() const { return options_; }

private:
    struct InFlightBatch {
        KeepAliveBatch batch;
        uint64_t request_id = 0;  // its PendingRequest
    };

    // client side
    void refuse_malformed(std::string_view routing_id, std::span<const uint8_t> bytes,
                          const Status& why);
    void refuse(ClientDirectory::Ref client, const ClientRequestView& view, session::ErrorCode code,
                const std::string& message);
    PendingRequest* admit(ClientDirectory::Ref client, const ClientRequestView& view, Time now);
    void start_request(ClientDirectory::Ref client, const ClientRequestView& view,
                       std::span<const uint8_t> bytes, Time now);
    void forward_reset(std::span<const uint8_t> bytes);
    void queue_keep_alive(ClientDirectory::Ref client, const ClientRequestView& view, Time now);

    // attempts
    std::optional<size_t> choose_target(const PendingRequest& request);
    bool send_request(PendingRequest& request, size_t node);
    void attempt(PendingRequest& request, Time now);
    void park(PendingRequest& request, Time now);
    void retry_parked(Time now, bool all);
    void reroute_from(size_t node, Time now);

    // node side
    void on_status_answer(size_t node, const NodeMessageView& view, Time now);
    void on_answer(size_t node, const NodeMessageView& view, std::span<uint8_t> bytes, Time now);
    void retry_elsewhere(PendingRequest& request, size_t from, session::NodeId hint, Time now);
    void finish(PendingRequest& request, const NodeMessageView& view, std::span<uint8_t> bytes,
                Time now);
    void forward_event(const NodeMessageView& view, std::span<const uint8_t> bytes);

    // answers
    ClientSend send_to_client(std::string_view routing_id, std::span<const uint8_t> bytes);
    void answer_error(std::string_view routing_id, uint64_t request_id, bool admin,
                      session::ErrorCode code, const std::string& message);
    void complete(PendingRequest& request, session::ErrorCode code, Time now);
    std::string timeout_message(const PendingRequest& request) const;
    void time_out(PendingRequest& request, Time now);

    // keep-alive batches
    void maybe_send_batch(Time now);
    void on_batch_answer(PendingRequest& request, const NodeMessageView& view, Time now);
    void answer_keep_alive(std::string_view routing_id, uint64_t request_id,
                           session::ErrorCode code, std::vector<session::ErrorCode> codes,
                           const std::string& message);
    void settle_waiter(const KeepAliveWaiter& waiter, session::ErrorCode code,
                       std::vector<session::ErrorCode> codes, const std::string& message, Time now);
    void fail_batch(KeepAliveBatch batch, session::ErrorCode code, const std::string& message,
                    Time now);

    // timers
    void poll_statuses(Time now);

    GatewayOptions options_;
    GatewayOutput& output_;
    ClusterView cluster_;
    ClientDirectory clients_;
    PendingTable pending_;
    KeepAliveQueue keep_alives_;
    std::optional<InFlightBatch> batch_;
    size_t keep_alive_waiting_ = 0;  // client keep-alives queued or in a batch
    GatewayStats stats_;

    std::vector<std::vector<uint8_t>> status_polls_;  // per node, encoded once
    std::vector<uint64_t> parked_;                    // ids of requests waiting for a retry
    std::vector<uint64_t> parked_scratch_;
    std::vector<session::KeepAliveItem> items_scratch_;
    flatbuffers::FlatBufferBuilder builder_;
    Time next_poll_{};
    Time next_idle_sweep_{};
};

}  // namespace copycat::gateway
