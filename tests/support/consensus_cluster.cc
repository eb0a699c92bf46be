#include "tests/support/consensus_cluster.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/zmq_socket.h"
#include "consensus/wire/client_codec.h"

namespace copycat::testing {

using namespace std::chrono_literals;

// --- ProcessCluster -------------------------------------------------------------------------

ProcessCluster::ProcessCluster(ClusterOptions options) : options_(std::move(options)) {
    if (options_.directory.empty()) {
        temp_ = std::make_unique<TempDir>();
        directory_ = temp_->path();
    } else {
        directory_ = options_.directory;
    }
}

ProcessCluster::~ProcessCluster() {
    for (auto& [n, node] : nodes_) kill_node(n);
}

std::string ProcessCluster::data_dir(int n) const {
    return directory_ + "/node-" + std::to_string(n);
}
std::string ProcessCluster::client_endpoint(int n) const {
    return "ipc://" + directory_ + "/client-" + std::to_string(n) + ".sock";
}
std::string ProcessCluster::peer_endpoint(int n) const {
    return "ipc://" + directory_ + "/peer-" + std::to_string(n) + ".sock";
}

std::vector<std::string> ProcessCluster::client_endpoints() const {
    std::vector<std::string> endpoints;
    for (int n = 1; n <= options_.nodes; ++n) endpoints.push_back(client_endpoint(n));
    return endpoints;
}

std::string ProcessCluster::initial_cluster() const {
    std::string text;
    for (int n = 1; n <= options_.nodes; ++n) {
        if (!text.empty()) text += ",";
        text += std::to_string(n) + "=" + peer_endpoint(n);
    }
    return text;
}

void ProcessCluster::start_node(int n, const std::vector<std::string>& join_endpoints) {
    Node& node = nodes_[n];
    ++node.starts;
    std::filesystem::create_directories(data_dir(n));
    const std::string logstore_endpoint = "ipc://" + data_dir(n) + "/logstore.sock";
    if (!node.logstore || !node.logstore->running()) {
        std::vector<std::string> command;
        auto wrapper = options_.logstore_wrappers.find(n);
        if (wrapper != options_.logstore_wrappers.end()) command = wrapper->second;
        command.insert(command.end(), {options_.logstore_binary, "--node-id", std::to_string(n),
                                       "--data-dir", data_dir(n), "--listen", logstore_endpoint,
                                       "--http", "127.0.0.1:0", "--log-format", "text"});
        command.insert(command.end(), options_.logstore_flags.begin(),
                       options_.logstore_flags.end());
        Result<Subprocess> logstore =
            Subprocess::start(command, directory_ + "/logstore-" + std::to_string(n) + ".out");
        node.logstore.emplace(std::move(logstore.value()));
    }
    if (!options_.compactor_binary.empty() && (!node.compactor || !node.compactor->running())) {
        start_compactor(n);
    }
    std::vector<std::string> argv = {options_.consensus_binary,
                                     "--node-id",
                                     std::to_string(n),
                                     "--data-dir",
                                     data_dir(n),
                                     "--peer-listen",
                                     peer_endpoint(n),
                                     "--client-listen",
                                     client_endpoint(n),
                                     "--http",
                                     "127.0.0.1:0",
                                     "--logstore",
                                     logstore_endpoint,
                                     "--election-timeout",
                                     options_.election_timeout,
                                     "--heartbeat-interval",
                                     options_.heartbeat_interval,
                                     "--session-timeout",
                                     options_.session_timeout,
                                     "--log-format",
                                     "text"};
    argv.insert(argv.end(), options_.consensus_flags.begin(), options_.consensus_flags.end());
    if (auto own = options_.node_flags.find(n); own != options_.node_flags.end()) {
        argv.insert(argv.end(), own->second.begin(), own->second.end());
    }
    if (join_endpoints.empty()) {
        argv.insert(argv.end(), {"--initial-cluster", initial_cluster()});
    } else {
        std::string joined;
        for (const std::string& endpoint : join_endpoints) {
            joined += (joined.empty() ? "" : ",") + endpoint;
        }
        argv.insert(argv.end(), {"--join", joined});
    }
    Result<Subprocess> consensus =
        Subprocess::start(argv, directory_ + "/consensus-" + std::to_string(n) + "." +
                                    std::to_string(node.starts) + ".out");
    node.consensus.emplace(std::move(consensus.value()));
}

// On the defaults of its data directory: it reaches the logstore at <data-dir>/logstore.sock
// and listens at <data-dir>/compactor.sock, where copycat-consensus asks by default.
void ProcessCluster::start_compactor(int n) {
    Node& node = nodes_[n];
    std::vector<std::string> argv = {options_.compactor_binary,
                                     "--node-id",
                                     std::to_string(n),
                                     "--data-dir",
                                     data_dir(n),
                                     "--http",
                                     "127.0.0.1:0",
                                     "--log-format",
                                     "text"};
    argv.insert(argv.end(), options_.compactor_flags.begin(), options_.compactor_flags.end());
    Result<Subprocess> compactor =
        Subprocess::start(argv, directory_ + "/compactor-" + std::to_string(n) + ".out");
    node.compactor.emplace(std::move(compactor.value()));
}

void ProcessCluster::start_all() {
    for (int n = 1; n <= options_.nodes; ++n) start_node(n);
}

void ProcessCluster::kill_node(int n) {
    Node& node = nodes_[n];
    if (node.consensus) node.consensus->kill_now();
    if (node.compactor) node.compactor->kill_now();
    if (node.logstore) {
        // A wrapper (strace) would leave the logstore it runs behind: kill that first.
        for (pid_t child : node.logstore->children()) ::kill(child, SIGKILL);
        node.logstore->kill_now();
    }
    node.consensus.reset();
    node.compactor.reset();
    node.logstore.reset();
}

void ProcessCluster::kill_consensus(int n) {
    Node& node = nodes_[n];
    if (node.consensus) node.consensus->kill_now();
    node.consensus.reset();
}

void ProcessCluster::stop_node(int n) {
    Node& node = nodes_[n];
    for (std::optional<Subprocess>* process : {&node.consensus, &node.compactor, &node.logstore}) {
        if (!*process) continue;
        (*process)->signal(SIGTERM);
        if ((*process)->wait(10s) < 0) (*process)->kill_now();
        process->reset();
    }
}

void ProcessCluster::stop_compactor(int n) {
    Node& node = nodes_[n];
    if (!node.compactor) return;
    node.compactor->signal(SIGTERM);
    if (node.compactor->wait(10s) < 0) node.compactor->kill_now();
    node.compactor.reset();
}

void ProcessCluster::pause_consensus(int n) {
    Node& node = nodes_[n];
    if (node.consensus) node.consensus->signal(SIGSTOP);
}

void ProcessCluster::resume_consensus(int n) {
    Node& node = nodes_[n];
    if (node.consensus) node.consensus->signal(SIGCONT);
}

void ProcessCluster::wipe_node(int n) { std::filesystem::remove_all(data_dir(n)); }

bool ProcessCluster::consensus_running(int n) {
    auto found = nodes_.find(n);
    return found != nodes_.end() && found->second.consensus && found->second.consensus->running();
}

int ProcessCluster::wait_consensus(int n, std::chrono::milliseconds timeout) {
    auto found = nodes_.find(n);
    if (found == nodes_.end() || !found->second.consensus) return -1;
    return found->second.consensus->wait(timeout);
}

std::string ProcessCluster::output(int n) const {
    auto found = nodes_.find(n);
    if (found == nodes_.end() || !found->second.consensus) return "";
    return found->second.consensus->output();
}

// --- gateways -------------------------------------------------------------------------------

std::string ProcessCluster::gateway_endpoint(int g) const {
    return "ipc://" + directory_ + "/gateway-" + std::to_string(g) + ".sock";
}

void ProcessCluster::start_gateway(int g, const std::vector<std::string>& flags) {
    // Each named by its id (ID=ENDPOINT), as CURVE needs.
    std::string nodes;
    for (int n = 1; n <= options_.nodes; ++n) {
        nodes += (nodes.empty() ? "" : ",") + std::to_string(n) + "=" + client_endpoint(n);
    }
    std::vector<std::string> argv = {options_.gateway_binary,
                                     "--id",
                                     std::to_string(g),
                                     "--listen",
                                     gateway_endpoint(g),
                                     "--nodes",
                                     nodes,
                                     "--http",
                                     "127.0.0.1:0",
                                     "--log-format",
                                     "text"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const int starts = ++gateway_starts_[g];
    Result<Subprocess> gateway = Subprocess::start(
        argv, directory_ + "/gateway-" + std::to_string(g) + "." + std::to_string(starts) + ".out");
    gateways_.erase(g);
    gateways_.emplace(g, std::move(gateway.value()));
}

void ProcessCluster::kill_gateway(int g) {
    auto found = gateways_.find(g);
    if (found == gateways_.end()) return;
    found->second.kill_now();
    gateways_.erase(found);
}

int ProcessCluster::stop_gateway(int g) {
    auto found = gateways_.find(g);
    if (found == gateways_.end()) return -1;
    found->second.signal(SIGTERM);
    const int code = found->second.wait(10s);
    gateways_.erase(found);  // kills it if it is still running
    return code;
}

bool ProcessCluster::gateway_running(int g) {
    auto found = gateways_.find(g);
    return found != gateways_.end() && found->second.running();
}

std::string ProcessCluster::gateway_output(int g) const {
    auto found = gateways_.find(g);
    return found == gateways_.end() ? "" : found->second.output();
}

// From the gateway's "serving" line: ... serving clients=... http=127.0.0.1:PORT
int ProcessCluster::gateway_http_port(int g, std::chrono::milliseconds timeout) const {
    int port = 0;
    eventually(
        [&] {
            const std::string output = gateway_output(g);
            const size_t line = output.find(" serving ");
            if (line == std::string::npos) return false;
            const size_t field = output.find(" http=", line);
            const size_t colon = field == std::string::npos ? field : output.find(':', field);
            if (colon == std::string::npos) return false;
            port = std::atoi(output.c_str() + colon + 1);
            return port > 0;
        },
        timeout);
    return port;
}

// --- NodeClient -----------------------------------------------------------------------------

namespace {
// Each client's own routing id: an address of a destroyed client may be reused, a number not.
uint64_t next_client_number() {
    static std::atomic<uint64_t> number{0};
    return ++number;
}
}  // namespace

NodeClient::NodeClient(zmq::context_t& context, const std::string& endpoint)
    : socket_(make_dealer(context, "test-client-" + std::to_string(next_client_number()),
                          SocketOptions{10000, 10000, 64 << 20, false})) {
    // Not immediate: a request sent before the connection is up waits for it.
    socket_.set(zmq::sockopt::immediate, 0);
    socket_.connect(endpoint);
}

void NodeClient::send_raw(const std::vector<uint8_t>& bytes) {
    socket_.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
}

void NodeClient::send(const session::Request& request) {
    sent_request_id_ = next_request_id();
    send_raw(wire::encode_request(sent_request_id_, request));
}

bool NodeClient::receive_one(std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return false;
    zmq::message_t message;
    if (!socket_.recv(message, zmq::recv_flags::dontwait)) return false;
    Result<wire::ClientMessage> decoded = wire::decode_client(message.data(), message.size());
    if (!decoded.is_ok()) return true;
    if (auto* response = std::get_if<session::Response>(&*decoded)) {
        replies_[response->request_id] = std::move(*response);
    } else if (auto* admin = std::get_if<session::AdminResponse>(&*decoded)) {
        replies_[admin->request_id] = std::move(*admin);
    } else if (auto* publish = std::get_if<session::PublishRequest>(&*decoded)) {
        events_.push_back(std::move(*publish));
    }
    return true;
}

std::optional<NodeReply> NodeClient::wait_for(uint64_t request_id,
                                              std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto found = replies_.find(request_id);
        if (found != replies_.end()) {
            NodeReply reply = std::move(found->second);
            replies_.erase(found);
            return reply;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        receive_one(left);
    }
}

std::optional<session::Response> NodeClient::call(const session::Request& request,
                                                  std::chrono::milliseconds timeout) {
    send(request);
    std::optional<NodeReply> reply = wait_for(sent_request_id_, timeout);
    if (!reply || !std::holds_alternative<session::Response>(*reply)) return std::nullopt;
    return std::get<session::Response>(std::move(*reply));
}

std::optional<session::Response> NodeClient::call_raw(const std::vector<uint8_t>& bytes,
                                                      uint64_t request_id,
                                                      std::chrono::milliseconds timeout) {
    send_raw(bytes);
    std::optional<NodeReply> reply = wait_for(request_id, timeout);
    if (!reply || !std::holds_alternative<session::Response>(*reply)) return std::nullopt;
    return std::get<session::Response>(std::move(*reply));
}

std::optional<session::AdminResponse> NodeClient::admin(const session::AdminRequest& request,
                                                        std::chrono::milliseconds timeout,
                                                        session::NodeId node) {
    uint64_t id = next_request_id();
    send_raw(wire::encode_admin_request(id, request, node));
    std::optional<NodeReply> reply = wait_for(id, timeout);
    if (!reply || !std::holds_alternative<session::AdminResponse>(*reply)) return std::nullopt;
    return std::get<session::AdminResponse>(std::move(*reply));
}

std::vector<session::PublishRequest> NodeClient::take_events(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (events_.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        receive_one(left);
    }
    while (receive_one(0ms)) {
    }
    std::vector<session::PublishRequest> events(events_.begin(), events_.end());
    events_.clear();
    return events;
}

std::optional<session::StatusResponse> node_status(zmq::context_t& context,
                                                   const std::string& endpoint,
                                                   std::chrono::milliseconds timeout) {
    NodeClient client(context, endpoint);
    std::optional<session::AdminResponse> reply = client.admin(session::StatusRequest{}, timeout);
    if (!reply || reply->error != session::ErrorCode::ok) return std::nullopt;
    const auto* status = std::get_if<session::StatusResponse>(&reply->body);
    if (status == nullptr) return std::nullopt;
    return *status;
}

session::NodeId find_leader(zmq::context_t& context, const std::vector<std::string>& endpoints,
                            std::chrono::milliseconds timeout) {
    for (const std::string& endpoint : endpoints) {
        std::optional<session::StatusResponse> status = node_status(context, endpoint, timeout);
        if (status && status->role == "leader") return status->node_id;
    }
    return 0;
}

// --- SessionClient --------------------------------------------------------------------------

SessionClient::SessionClient(zmq::context_t& context, std::vector<std::string> endpoints,
                             std::string client_id, uint64_t timeout_ms)
    : context_(context),
      endpoints_(std::move(endpoints)),
      client_id_(std::move(client_id)),
      timeout_ms_(timeout_ms) {
    for (const std::string& endpoint : endpoints_) {
        nodes_.push_back(std::make_unique<NodeClient>(context_, endpoint));
    }
}

NodeClient& SessionClient::node(size_t index) { return *nodes_[index % nodes_.size()]; }

// Sends to the node believed to lead; on no_leader follows the hint (node ids are 1-based
// positions in endpoints_), on a timeout tries the next node, until the deadline.
std::optional<session::Response> SessionClient::call_leader(const session::Request& request,
                                                            std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        NodeClient& target = node(leader_);
        ++sends_;
        std::optional<session::Response> response = target.call(request, 500ms);
        absorb(target.take_events(0ms), target);
        if (!response) {
            leader_ = (leader_ + 1) % nodes_.size();
            continue;
        }
        if (response->error != session::ErrorCode::no_leader) return response;
        if (response->leader != 0 && response->leader <= nodes_.size() &&
            response->leader - 1 != leader_) {
            leader_ = response->leader - 1;
        } else {
            leader_ = (leader_ + 1) % nodes_.size();
            std::this_thread::sleep_for(20ms);  // an election is under way
        }
    }
    return std::nullopt;
}

bool SessionClient::open(std::chrono::milliseconds timeout) {
    std::optional<session::Response> response =
        call_leader(session::RegisterRequest{client_id_, timeout_ms_}, timeout);
    if (!response || response->error != session::ErrorCode::ok) return false;
    const auto* body = std::get_if<session::RegisterResponse>(&response->body);
    if (body == nullptr) return false;
    session_ = body->session;
    event_index_ = session_;
    response_index_ = session_;
    return true;
}

std::optional<session::Response> SessionClient::command(const session::Operation& operation,
                                                        std::chrono::milliseconds timeout) {
    session::CommandRequest request{session_, ++sequence_, operation};
    const uint64_t sends_before = sends_;
    last_command_sends_ = 0;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        std::optional<session::Response> response = call_leader(request, left);
        last_command_sends_ = sends_ - sends_before;
        if (!response) return std::nullopt;
        if (response->error == session::ErrorCode::command_error) {
            // A new leader lost track of our sequence: reset it with a keep-alive, resubmit.
            keep_alive(left);
            continue;
        }
        if (response->error == session::ErrorCode::bad_request ||
            response->error == session::ErrorCode::unknown_operation) {
            // Refused before it was logged: fill its sequence with a no-op so that the
            // session's next command is not out of order (copycat #102).
            session::CommandRequest filler{session_, request.sequence, {}};
            call_leader(filler, left);
        }
        acknowledged_ = std::max(acknowledged_, request.sequence);
        if (const auto* body = std::get_if<session::OperationResponse>(&response->body)) {
            response_index_ = std::max(response_index_, body->index);
        }
        return response;
    }
    return std::nullopt;
}

std::optional<session::Response> SessionClient::query(const session::Operation& operation,
                                                      session::Consistency consistency,
                                                      std::chrono::milliseconds timeout,
                                                      int node_number) {
    session::QueryRequest request{session_, sequence_, response_index_, consistency, operation};
    std::optional<session::Response> response;
    if (node_number > 0) {
        NodeClient& target = node(static_cast<size_t>(node_number - 1));
        response = target.call(request, timeout);
    } else {
        response = call_leader(request, timeout);
    }
    if (response) {
        if (const auto* body = std::get_if<session::OperationResponse>(&response->body)) {
            response_index_ = std::max(response_index_, body->index);
        }
    }
    return response;
}

std::optional<session::Response> SessionClient::keep_alive(std::chrono::milliseconds timeout) {
    session::KeepAliveRequest request;
    request.sessions.push_back({session_, acknowledged_, event_index_});
    return call_leader(request, timeout);
}

bool SessionClient::close(std::chrono::milliseconds timeout) {
    std::optional<session::Response> response =
        call_leader(session::UnregisterRequest{session_}, timeout);
    return response && response->error == session::ErrorCode::ok;
}

void SessionClient::absorb(std::vector<session::PublishRequest> publishes, NodeClient& from) {
    for (session::PublishRequest& publish : publishes) {
        if (publish.session != session_ || publish.event_index <= event_index_) continue;
        if (publish.previous_index != event_index_) {
            // A gap: ask the node to resend from what we have.
            from.send(session::ResetRequest{session_, event_index_});
            continue;
        }
        event_index_ = publish.event_index;
        for (session::Event& event : publish.events) events_.push_back(std::move(event));
    }
}

std::vector<session::Event> SessionClient::take_events(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
        NodeClient& target = node(leader_);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        absorb(target.take_events(std::max(left, 0ms)), target);
    } while (events_.empty() && std::chrono::steady_clock::now() < deadline);
    return std::exchange(events_, {});
}

}  // namespace copycat::testing
