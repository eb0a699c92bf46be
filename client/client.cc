#include "client/client.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "common/zmq_socket.h"
#include "consensus/wire/client_codec.h"

namespace copycat::client {

namespace {

using Clock = std::chrono::steady_clock;

// Each session's request ids live in their own range: its slot number in the high bits. Slot 0
// is the runtime's own (administration calls).
constexpr int kSlotShift = 40;
// Messages read from the gateway per wake-up before timers and tasks get their turn.
constexpr int kReceiveBatch = 512;
// How long a gateway may stay unconnected, with requests waiting to go, before the runtime
// moves on to the next one (when there is another).
constexpr auto kUnreachableGrace = std::chrono::milliseconds(1'000);
// While requests wait for a connection, look again this often.
constexpr auto kOutboxRetry = std::chrono::milliseconds(5);
constexpr auto kMaxPollWait = std::chrono::milliseconds(100);

uint64_t now_ms() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
            .count());
}

std::string random_hex(int digits) {
    static thread_local std::mt19937_64 random{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    for (int i = 0; i < digits; ++i) text.push_back(kHex[random() % 16]);
    return text;
}

StatusCode status_code_for(ErrorCode error) {
    switch (error) {
        case ErrorCode::ok: return StatusCode::ok;
        case ErrorCode::no_leader:
        case ErrorCode::illegal_member_state:
        case ErrorCode::query_error: return StatusCode::unavailable;
        case ErrorCode::timeout: return StatusCode::timeout;
        case ErrorCode::unknown_session: return StatusCode::not_found;
        case ErrorCode::bad_request:
        case ErrorCode::unknown_operation: return StatusCode::invalid_argument;
        case ErrorCode::application_error:
        case ErrorCode::configuration_error:
        case ErrorCode::command_error: return StatusCode::conflict;
        case ErrorCode::internal_error: return StatusCode::io_error;
    }
    return StatusCode::io_error;
}

Reply reply_from(const OperationResult& result) {
    return Reply{result.error, result.message, result.index, result.value};
}

}  // namespace

Status Reply::status() const {
    if (ok()) return Status::ok();
    std::string text = session::error_code_name(error);
    if (!message.empty()) text += ": " + message;
    return Status(status_code_for(error), std::move(text));
}

struct Client::View {
    std::atomic<SessionState> state{SessionState::connecting};
    std::atomic<SessionId> session{0};
};

// --- the runtime -----------------------------------------------------------------------------

struct Runtime::Impl {
    // One session hosted here: its protocol core and what the application asked to be told.
    struct Slot {
        std::unique_ptr<SessionCore> core;
        std::shared_ptr<Client::View> view;
        std::unordered_map<OperationId, Client::Callback> callbacks;
        std::map<std::string, std::map<uint64_t, Client::EventHandler>> handlers;
        std::map<uint64_t, Client::StateListener> listeners;
        std::shared_ptr<std::promise<Status>> opened;  // until the session opens or fails
        std::shared_ptr<std::promise<Status>> closed;  // while close() waits
        std::optional<uint64_t> deadline_ms;
        uint64_t created_ms = 0;
    };
    struct AdminCall {
        session::AdminRequest request;
        session::NodeId node = 0;
        std::shared_ptr<std::promise<Result<session::AdminResponse>>> promise;
    };

    explicit Impl(ClientOptions o) : options(std::move(o)), gateways(options.endpoints) {
        if (options.selection == GatewaySelection::any) {
            std::shuffle(gateways.begin(), gateways.end(), std::mt19937_64{std::random_device{}()});
        }
        wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    }
    ~Impl() {
        if (wake_fd >= 0) ::close(wake_fd);
    }

    // --- any thread ---

    // Runs `task` on the runtime's thread: at once when called there, else queued.
    void run_on_loop(std::function<void()> task) {
        if (on_loop_thread()) {
            task();
            return;
        }
        bool was_empty = false;
        {
            std::lock_guard lock(mutex);
            was_empty = tasks.empty();
            tasks.push_back(std::move(task));
        }
        if (was_empty) wake();
    }
    void wake() {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof one);
    }
    bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_id.load(); }
    std::string current_gateway() const {
        std::lock_guard lock(gateway_mutex);
        return gateways[current];
    }

    // --- the runtime's thread ---

    void run() {
        loop_thread_id = std::this_thread::get_id();
        connect_gateway();
        while (!stopping.load()) {
            run_tasks();
            flush_outbox();
            flush_dirty();
            poll_once();
            tick_due();
            flush_dirty();
        }
        dealer.reset();
    }

    void run_tasks() {
        std::vector<std::function<void()>> batch;
        {
            std::lock_guard lock(mutex);
            batch.swap(tasks);
        }
        for (auto& task : batch) task();
    }

    void connect_gateway() {
        SocketOptions socket_options;
        socket_options.send_high_water_mark = 100'000;
        socket_options.receive_high_water_mark = 100'000;
        monitor.reset();
        dealer.emplace(make_dealer(context, "client-" + random_hex(16), socket_options));
        if (options.curve) {
            make_curve_client(*dealer, *options.curve);
            monitor.emplace(context, *dealer);
        }
        dealer->connect(current_gateway());
        outbox.clear();
        unsendable_since.reset();
    }

    // Moves to the next gateway: every session sends what it has in flight again there.
    void switch_gateway() {
        if (gateways.size() < 2) return;
        {
            std::lock_guard lock(gateway_mutex);
            current = (current + 1) % gateways.size();
        }
        connect_gateway();
        last_switch = Clock::now();
        const uint64_t now = now_ms();
        for (auto& [id, slot] : slots) {
            slot.core->reconnected(now);
            dirty.push_back(id);
        }
        for (auto& [id, call] : admin_calls) send_admin(id, call);
    }

    void send_bytes(std::span<const uint8_t> bytes) {
        if (!outbox.empty() || try_send_result(*dealer, bytes) != SendResult::sent) {
            outbox.emplace_back(bytes.begin(), bytes.end());
            if (!unsendable_since) unsendable_since = Clock::now();
        }
    }

    void flush_outbox() {
        while (!outbox.empty()) {
            const std::vector<uint8_t>& bytes = outbox.front();
            if (try_send_result(*dealer, std::span<const uint8_t>(bytes)) != SendResult::sent) {
                if (Clock::now() - *unsendable_since > kUnreachableGrace) switch_gateway();
                return;
            }
            outbox.pop_front();
        }
        unsendable_since.reset();
    }

    void send_admin(uint64_t id, const AdminCall& call) {
        send_bytes(wire::encode_admin_request(builder, id, call.request, call.node));
    }

    // Sends what the dirty sessions have to send and delivers what they have to deliver.
    // Callbacks may submit more (marking their session dirty again): loop until calm.
    void flush_dirty() {
        while (!dirty.empty()) {
            std::vector<uint64_t> batch;
            batch.swap(dirty);
            std::sort(batch.begin(), batch.end());
            batch.erase(std::unique(batch.begin(), batch.end()), batch.end());
            for (uint64_t id : batch) flush_slot(id);
        }
    }

    void flush_slot(uint64_t id) {
        auto it = slots.find(id);
        if (it == slots.end()) return;
        CoreOutput output = it->second.core->take_output();
        it->second.deadline_ms = it->second.core->next_deadline_ms();
        for (const Outgoing& out : output.requests) {
            send_bytes(wire::encode_request(builder, out.request_id, out.request));
        }
        if (output.connection_suspect && Clock::now() - last_switch > options.attempt_timeout) {
            switch_gateway();
        }
        for (Delivery& delivery : output.deliveries) {
            // A callback may close and remove this very session: look it up each time.
            std::visit([&](auto& d) { deliver(id, d); }, delivery);
        }
    }

    void deliver(uint64_t id, OperationResult& result) {
        auto it = slots.find(id);
        if (it == slots.end()) return;
        auto callback = it->second.callbacks.find(result.id);
        if (callback == it->second.callbacks.end()) return;
        Client::Callback run = std::move(callback->second);
        it->second.callbacks.erase(callback);
        if (run) run(reply_from(result));
    }

    void deliver(uint64_t id, EventDelivery& delivery) {
        auto it = slots.find(id);
        if (it == slots.end()) return;
        auto handlers = it->second.handlers.find(delivery.event.name);
        if (handlers == it->second.handlers.end()) return;
        // A copy: a handler may add or remove handlers.
        std::vector<Client::EventHandler> run;
        for (auto& [handler_id, handler] : handlers->second) run.push_back(handler);
        for (auto& handler : run) handler(delivery.event, delivery.event_index);
    }

    void deliver(uint64_t id, StateChange& change) {
        auto it = slots.find(id);
        if (it == slots.end()) return;
        Slot& slot = it->second;
        SessionId before = slot.view->session.load();
        if (before != 0 && before != change.session) sessions.erase(before);
        if (change.session != 0) sessions[change.session] = id;
        slot.view->session = change.session;
        slot.view->state = change.state;
        if (slot.opened) {
            if (change.state == SessionState::open) {
                slot.opened->set_value(Status::ok());
                slot.opened.reset();
            } else if (change.state == SessionState::closed ||
                       change.state == SessionState::expired) {
                slot.opened->set_value(open_failure(slot, change.reason));
                slot.opened.reset();
            }
        }
        if (slot.closed && change.state == SessionState::closed) {
            slot.closed->set_value(Status::ok());
            slot.closed.reset();
        }
        // A copy: a listener may add or remove listeners.
        std::vector<Client::StateListener> listeners;
        for (auto& [listener_id, listener] : slot.listeners) listeners.push_back(listener);
        for (auto& listener : listeners) listener(change.state, change.reason);
    }

    // Why a session did not open: nothing came back from any gateway (unavailable), or a
    // gateway answered but the cluster gave no session in time (timeout).
    Status open_failure(const Slot& slot, const std::string& reason) const {
        const std::string limit = std::to_string(options.dial_timeout.count()) + "ms";
        if (last_receive_ms.load() < slot.created_ms) {
            return Status(StatusCode::unavailable,
                          "no answer from a gateway at " + current_gateway() + " within " + limit +
                              (handshake_failure.empty() ? "" : "; " + handshake_failure));
        }
        return Status(StatusCode::timeout, "the gateway at " + current_gateway() +
                                               " answered, but no session opened within " + limit +
                                               ": " + reason);
    }

    void poll_once() {
        Clock::duration wait = kMaxPollWait;
        if (!outbox.empty()) wait = kOutboxRetry;
        const uint64_t now = now_ms();
        for (const auto& [id, slot] : slots) {
            if (!slot.deadline_ms) continue;
            uint64_t due = *slot.deadline_ms;
            wait = std::min<Clock::duration>(wait,
                                             std::chrono::milliseconds(due > now ? due - now : 0));
        }
        zmq::pollitem_t items[] = {
            {static_cast<void*>(*dealer), 0, ZMQ_POLLIN, 0},
            {nullptr, wake_fd, ZMQ_POLLIN, 0},
        };
        zmq::poll(items, 2, std::chrono::duration_cast<std::chrono::milliseconds>(wait));
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t count = 0;
            [[maybe_unused]] ssize_t n = ::read(wake_fd, &count, sizeof count);
        }
        if (items[0].revents & ZMQ_POLLIN) receive_batch();
    }

    void receive_batch() {
        for (int i = 0; i < kReceiveBatch; ++i) {
            zmq::message_t message;
            if (!dealer->recv(message, zmq::recv_flags::dontwait)) return;
            last_receive_ms = now_ms();
            Result<wire::ClientMessage> decoded =
                wire::decode_client(message.data(), message.size());
            if (!decoded.is_ok()) continue;  // not for a client: nothing to answer
            std::visit([&](auto& m) { on_message(m); }, *decoded);
        }
    }

    void on_message(session::Response& response) {
        auto it = slots.find(response.request_id >> kSlotShift);
        if (it == slots.end()) return;
        it->second.core->receive(response, now_ms());
        dirty.push_back(it->first);
    }

    void on_message(session::PublishRequest& publish) {
        auto session = sessions.find(publish.session);
        if (session == sessions.end()) return;
        auto it = slots.find(session->second);
        if (it == slots.end()) return;
        it->second.core->receive(publish, now_ms());
        dirty.push_back(it->first);
    }

    void on_message(session::AdminResponse& response) {
        auto call = admin_calls.find(response.request_id);
        if (call == admin_calls.end()) return;
        call->second.promise->set_value(std::move(response));
        admin_calls.erase(call);
    }

    void on_message(wire::RequestMessage&) {}
    void on_message(wire::AdminRequestMessage&) {}

    void tick_due() {
        if (monitor) {
            for (std::string& failure : monitor->take_failures()) handshake_failure = failure;
        }
        const uint64_t now = now_ms();
        for (auto& [id, slot] : slots) {
            if (slot.deadline_ms && *slot.deadline_ms <= now) {
                slot.core->tick(now);
                dirty.push_back(id);
            }
        }
    }

    uint64_t add_slot(std::shared_ptr<Client::View> view,
                      std::shared_ptr<std::promise<Status>> opened) {
        const uint64_t id = next_slot++;
        SessionCoreOptions core_options;
        core_options.client_id =
            options.client_id.empty() ? "client-" + random_hex(16) : options.client_id;
        core_options.session_timeout_ms = static_cast<uint64_t>(options.session_timeout.count());
        core_options.register_timeout_ms = static_cast<uint64_t>(options.dial_timeout.count());
        core_options.retry_registration = options.connection == ConnectionStrategy::retry;
        core_options.recover = options.recovery == RecoveryStrategy::recover;
        core_options.attempt_timeout_ms = static_cast<uint64_t>(options.attempt_timeout.count());
        core_options.operation_timeout_ms = static_cast<uint64_t>(options.command_timeout.count());
        core_options.request_id_base = id << kSlotShift;
        core_options.request_id_range = uint64_t{1} << kSlotShift;
        Slot& slot = slots[id];
        slot.core = std::make_unique<SessionCore>(std::move(core_options));
        slot.view = std::move(view);
        slot.opened = std::move(opened);
        slot.created_ms = now_ms();
        slot.core->open(slot.created_ms);
        dirty.push_back(id);
        return id;
    }

    void remove_slot(uint64_t id) {
        auto it = slots.find(id);
        if (it == slots.end()) return;
        SessionId session = it->second.view->session.load();
        if (session != 0) sessions.erase(session);
        // Operations still waiting are answered, so that no future is left hanging.
        std::vector<Client::Callback> callbacks;
        for (auto& [op, callback] : it->second.callbacks) callbacks.push_back(std::move(callback));
        slots.erase(it);
        for (auto& callback : callbacks) {
            if (callback) callback(Reply{ErrorCode::unknown_session, "client closed", 0, {}});
        }
    }

    ClientOptions options;
    std::vector<std::string> gateways;  // in the order they are tried
    size_t current = 0;
    mutable std::mutex gateway_mutex;  // `current`, read by other threads
    zmq::context_t context{1};
    std::optional<zmq::socket_t> dealer;
    std::optional<HandshakeMonitor> monitor;  // of the dealer, with CURVE
    std::string handshake_failure;            // the last the monitor told
    std::deque<std::vector<uint8_t>> outbox;  // waiting for the gateway connection
    std::optional<Clock::time_point> unsendable_since;
    Clock::time_point last_switch{};
    flatbuffers::FlatBufferBuilder builder{1024};

    int wake_fd = -1;
    std::mutex mutex;
    std::vector<std::function<void()>> tasks;
    std::atomic<bool> stopping{false};
    std::atomic<std::thread::id> loop_thread_id{};
    std::thread thread;
    std::atomic<uint64_t> next_handler_id{1};
    std::atomic<uint64_t> last_receive_ms{0};  // when the gateway last sent anything

    std::map<uint64_t, Slot> slots;
    uint64_t next_slot = 1;
    std::unordered_map<SessionId, uint64_t> sessions;  // session id to slot
    std::vector<uint64_t> dirty;                       // slots with output to take
    std::map<uint64_t, AdminCall> admin_calls;
    uint64_t next_admin_id = 1;
};

Result<std::shared_ptr<Runtime>> Runtime::start(ClientOptions options) {
    if (options.endpoints.empty()) return invalid_argument("no gateway endpoints given");

    for (const std::string& endpoint : options.endpoints) {
        if (endpoint.find("://") == std::string::npos) {
            return invalid_argument("'" + endpoint +
                                    "' is not a ZeroMQ endpoint (e.g. tcp://127.0.0.1:7000)");
        }
    }
    auto impl = std::make_unique<Impl>(std::move(options));
    if (impl->wake_fd < 0) return io_error("eventfd failed");
    Impl* raw = impl.get();
    std::shared_ptr<Runtime> runtime(new Runtime(std::move(impl)));
    // A bad endpoint makes connect() throw on the runtime's thread: check it here first.
    try {
        zmq::socket_t probe(raw->context, zmq::socket_type::dealer);
        probe.set(zmq::sockopt::linger, 0);
        for (const std::string& endpoint : raw->options.endpoints) probe.connect(endpoint);
    } catch (const zmq::error_t& error) {
        return invalid_argument(std::string("bad gateway endpoint: ") + error.what());
    }
    raw->thread = std::thread([raw] { raw->run(); });
    return runtime;
}

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Runtime::~Runtime() {
    impl_->stopping = true;
    impl_->wake();
    if (impl_->thread.joinable()) impl_->thread.join();
}

const ClientOptions& Runtime::options() const { return impl_->options; }

std::string Runtime::gateway() const { return impl_->current_gateway(); }

Result<session::AdminResponse> Runtime::admin(session::AdminRequest request, session::NodeId node,
                                              std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) timeout = impl_->options.dial_timeout;
    Impl& impl = *impl_;
    if (impl.on_loop_thread()) {
        return invalid_argument("Runtime::admin would wait for itself on the runtime's thread");
    }
    auto promise = std::make_shared<std::promise<Result<session::AdminResponse>>>();
    auto future = promise->get_future();
    auto id = std::make_shared<uint64_t>(0);
    impl.run_on_loop([&impl, request = std::move(request), node, promise, id]() mutable {
        *id = impl.next_admin_id++;
        auto& call = impl.admin_calls[*id];
        call = Impl::AdminCall{std::move(request), node, promise};
        impl.send_admin(*id, call);
    });
    if (future.wait_for(timeout) == std::future_status::ready) return future.get();
    impl.run_on_loop([&impl, id] { impl.admin_calls.erase(*id); });
    return Status(StatusCode::unavailable, "no answer from the gateway at " +
                                               impl.current_gateway() + " within " +
                                               std::to_string(timeout.count()) + "ms");
}

// --- clients ---------------------------------------------------------------------------------

Result<std::unique_ptr<Client>> Client::connect(ClientOptions options) {
    Result<std::shared_ptr<Runtime>> runtime = Runtime::start(std::move(options));
    if (!runtime.is_ok()) return runtime.status();
    return connect(std::move(runtime).value());
}

Result<std::unique_ptr<Client>> Client::connect(std::shared_ptr<Runtime> runtime) {
    Runtime::Impl& impl = *runtime->impl_;
    if (impl.on_loop_thread()) {
        return invalid_argument("Client::connect would wait for itself on the runtime's thread");
    }
    auto view = std::make_shared<View>();
    auto opened = std::make_shared<std::promise<Status>>();
    auto future = opened->get_future();
    auto slot = std::make_shared<std::promise<uint64_t>>();
    auto slot_future = slot->get_future();
    impl.run_on_loop([&impl, view, opened, slot] { slot->set_value(impl.add_slot(view, opened)); });
    const uint64_t id = slot_future.get();
    // The core gives up after the dial timeout and says so; the margin covers a busy machine.
    const auto limit = impl.options.dial_timeout + std::chrono::seconds(2);
    Status status = future.wait_for(limit) == std::future_status::ready
                        ? future.get()
                        : Status(StatusCode::timeout, "no session opened through " +
                                                          impl.current_gateway() + " in time");
    if (!status.is_ok()) {
        impl.run_on_loop([&impl, id] { impl.remove_slot(id); });
        return status;
    }
    return std::unique_ptr<Client>(new Client(std::move(runtime), id, std::move(view)));
}

Client::Client(std::shared_ptr<Runtime> runtime, uint64_t slot, std::shared_ptr<View> view)
    : runtime_(std::move(runtime)), slot_(slot), view_(std::move(view)) {}

Client::~Client() {
    const SessionState now = view_->state.load();
    if (now != SessionState::closed && !runtime_->impl_->on_loop_thread()) {
        [[maybe_unused]] Status closed = close();
    }
    Runtime::Impl& impl = *runtime_->impl_;
    impl.run_on_loop([&impl, id = slot_] { impl.remove_slot(id); });
}

void Client::submit_command(Operation operation, Callback callback,
                            std::chrono::milliseconds timeout) {
    Runtime::Impl& impl = *runtime_->impl_;
    impl.run_on_loop([&impl, id = slot_, operation = std::move(operation),
                      callback = std::move(callback), timeout]() mutable {
        auto it = impl.slots.find(id);
        if (it == impl.slots.end()) {
            if (callback) callback(Reply{ErrorCode::unknown_session, "client closed", 0, {}});
            return;
        }
        OperationId op = it->second.core->command(std::move(operation), now_ms(),
                                                  static_cast<uint64_t>(timeout.count()));
        it->second.callbacks.emplace(op, std::move(callback));
        impl.dirty.push_back(id);
    });
}

void Client::submit_query(Operation operation, Consistency consistency, Callback callback,
                          std::chrono::milliseconds timeout) {
    Runtime::Impl& impl = *runtime_->impl_;
    impl.run_on_loop([&impl, id = slot_, operation = std::move(operation), consistency,
                      callback = std::move(callback), timeout]() mutable {
        auto it = impl.slots.find(id);
        if (it == impl.slots.end()) {
            if (callback) callback(Reply{ErrorCode::unknown_session, "client closed", 0, {}});
            return;
        }
        OperationId op = it->second.core->query(std::move(operation), consistency, now_ms(),
                                                static_cast<uint64_t>(timeout.count()));
        it->second.callbacks.emplace(op, std::move(callback));
        impl.dirty.push_back(id);
    });
}

std::future<Reply> Client::command(Operation operation, std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<Reply>>();
    auto future = promise->get_future();
    submit_command(
        std::move(operation), [promise](Reply reply) { promise->set_value(std::move(reply)); },
        timeout);
    return future;
}

std::future<Reply> Client::query(Operation operation, Consistency consistency,
                                 std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<Reply>>();
    auto future = promise->get_future();
    submit_query(
        std::move(operation), consistency,
        [promise](Reply reply) { promise->set_value(std::move(reply)); }, timeout);
    return future;
}

uint64_t Client::on_event(std::string name, EventHandler handler) {
    Runtime::Impl& impl = *runtime_->impl_;
    const uint64_t handler_id = impl.next_handler_id++;
    impl.run_on_loop([&impl, id = slot_, name = std::move(name), handler = std::move(handler),
                      handler_id]() mutable {
        auto it = impl.slots.find(id);
        if (it != impl.slots.end()) it->second.handlers[name][handler_id] = std::move(handler);
    });
    return handler_id;
}

void Client::remove_event_handler(uint64_t handler_id) {
    Runtime::Impl& impl = *runtime_->impl_;
    impl.run_on_loop([&impl, id = slot_, handler_id] {
        auto it = impl.slots.find(id);
        if (it == impl.slots.end()) return;
        for (auto& [name, handlers] : it->second.handlers) handlers.erase(handler_id);
    });
}

uint64_t Client::on_state_change(StateListener listener) {
    Runtime::Impl& impl = *runtime_->impl_;
    const uint64_t listener_id = impl.next_handler_id++;
    impl.run_on_loop([&impl, id = slot_, listener = std::move(listener), listener_id]() mutable {
        auto it = impl.slots.find(id);
        if (it != impl.slots.end()) it->second.listeners[listener_id] = std::move(listener);
    });
    return listener_id;
}

void Client::remove_state_listener(uint64_t listener_id) {
    Runtime::Impl& impl = *runtime_->impl_;
    impl.run_on_loop([&impl, id = slot_, listener_id] {
        auto it = impl.slots.find(id);
        if (it != impl.slots.end()) it->second.listeners.erase(listener_id);
    });
}

SessionState Client::state() const { return view_->state.load(); }

SessionId Client::session_id() const { return view_->session.load(); }

Status Client::close() {
    Runtime::Impl& impl = *runtime_->impl_;
    if (impl.on_loop_thread()) {
        return invalid_argument("Client::close would wait for itself on the runtime's thread");
    }
    const SessionState before = view_->state.load();
    if (before == SessionState::closed || before == SessionState::expired) return Status::ok();
    auto closed = std::make_shared<std::promise<Status>>();
    auto future = closed->get_future();
    impl.run_on_loop([&impl, id = slot_, closed] {
        auto it = impl.slots.find(id);
        if (it == impl.slots.end() || it->second.core->state() == SessionState::closed) {
            closed->set_value(Status::ok());
            return;
        }
        it->second.closed = closed;
        it->second.core->close(now_ms());
        impl.dirty.push_back(id);
    });
    const auto limit = impl.options.dial_timeout + std::chrono::seconds(2);
    if (future.wait_for(limit) != std::future_status::ready) {
        return Status(StatusCode::unavailable,
                      "the session did not close within " + std::to_string(limit.count()) + "ms");
    }
    return future.get();
}

}  // namespace copycat::client
