#include "client/ctl/session_script.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <tuple>

#include "client/ctl/admin_commands.h"
#include "client/ctl/data_commands.h"
#include "client/ctl/outcomes.h"
#include "client/ctl/session_loss.h"
#include "client/resources.h"

namespace copycat::ctl {

bool LineReader::fill() {
    while (true) {
        pollfd entries[2] = {{fd_, POLLIN, 0}, {signals_.fd(), POLLIN, 0}};
        if (::poll(entries, 2, -1) < 0) {
            if (errno == EINTR) continue;
            end_ = true;
            return false;
        }
        if (entries[1].revents != 0 && is_interrupt(signals_.wait(std::chrono::milliseconds(0)))) {
            interrupted_ = true;
            return false;
        }
        if (entries[0].revents == 0) continue;
        char chunk[4096];
        const ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
            end_ = true;
            return false;
        }
        buffer_.append(chunk, static_cast<size_t>(n));
        return true;
    }
}

std::optional<std::string> LineReader::next() {
    while (!interrupted_) {
        const size_t newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            return line;
        }
        if (end_ || !fill()) {
            if (interrupted_ || buffer_.empty()) return std::nullopt;
            std::string rest = std::move(buffer_);  // a last line without a line end
            buffer_.clear();
            return rest;
        }
    }
    return std::nullopt;
}

namespace {

// What a session keeps between lines: the watches, locks, candidacies and group members it
// took (their objects deliver its events), and whether SIGINT/SIGTERM stopped a wait.
class SessionState {
public:
    SessionState(Connection& connection, client::Client& client, Printer& printer,
                 SignalWatch& signals)
        : connection_(connection), client_(client), printer_(printer), signals_(signals) {}

    // A result to print, or the error to print; nothing when interrupted.
    std::optional<Result<Outcome>> run(const Command& command);

private:
    using WatchKey = std::tuple<std::string, std::string, bool>;  // map, key, prefix?

    void print_event(const Outcome& outcome) { printer_.line(render_json(outcome.fields)); }
    std::optional<Result<Outcome>> watch(const Command& command);
    Result<Outcome> unwatch(const Command& command);
    std::optional<Result<Outcome>> lock(const Command& command);
    std::optional<Result<Outcome>> elect(const Command& command);
    std::optional<Result<Outcome>> group(const Command& command);
    client::Map& map(const std::string& name);

    template <typename T, typename Into>
    std::optional<Result<Outcome>> await(std::future<Result<T>> future, Into into) {
        std::optional<Result<T>> result = wait_interruptibly(future, signals_);
        if (!result) return std::nullopt;
        if (!result->is_ok()) return Result<Outcome>(result->status());
        return Result<Outcome>(into(**result));
    }

    Connection& connection_;
    client::Client& client_;
    Printer& printer_;
    SignalWatch& signals_;
    std::map<std::string, std::unique_ptr<client::Map>> maps_;
    std::map<WatchKey, client::Map::WatchId> watches_;
    std::map<std::string, std::unique_ptr<client::Lock>> locks_;
    std::map<std::string, std::unique_ptr<client::Election>> elections_;
    std::map<std::string, std::unique_ptr<client::Group>> groups_;
};

client::Map& SessionState::map(const std::string& name) {
    auto& slot = maps_[name];
    if (!slot) slot = std::make_unique<client::Map>(client_, name);
    return *slot;
}

std::optional<Result<Outcome>> SessionState::watch(const Command& command) {
    const bool prefix = command.flags.prefix.has_value();
    const std::string key = prefix ? *command.flags.prefix : command.args[0];
    const WatchKey watch_key{command.map, key, prefix};
    if (watches_.count(watch_key)) return Result<Outcome>(watch_outcome(false));
    auto print = [this](const resources::MapChanged& change) {
        print_event(map_changed_outcome(change));
    };
    client::Map& target = map(command.map);
    auto pending = prefix ? target.watch_prefix(key, print) : target.watch(key, print);
    return await(std::move(pending), [&](client::Map::WatchId id) {
        watches_[watch_key] = id;
        return watch_outcome(true);
    });
}

Result<Outcome> SessionState::unwatch(const Command& command) {
    const bool prefix = command.flags.prefix.has_value();
    const WatchKey watch_key{command.map, prefix ? *command.flags.prefix : command.args[0], prefix};
    auto found = watches_.find(watch_key);
    if (found == watches_.end()) return unwatch_outcome(false);
    Result<resources::MapUnwatch::Output> removed = map(command.map).unwatch(found->second).get();
    watches_.erase(found);
    if (!removed.is_ok()) return removed.status();
    return unwatch_outcome(removed->removed);
}

std::optional<Result<Outcome>> SessionState::lock(const Command& command) {
    const std::string& name = command.args[0];
    auto& slot = locks_[name];
    if (!slot) slot = std::make_unique<client::Lock>(client_, name);
    if (command.flags.release) {
        return await(slot->release(), [](const auto& output) { return unlock_outcome(output); });
    }
    auto pending = slot->acquire(command.flags.timeout.value_or(client::Lock::kWaitForever));
    return await(std::move(pending), [&](const client::LockGrant& grant) {
        return lock_outcome(name, grant.acquired, grant.token);
    });
}

std::optional<Result<Outcome>> SessionState::elect(const Command& command) {
    const std::string& name = command.args[0];
    auto& slot = elections_[name];
    if (!slot) {
        slot = std::make_unique<client::Election>(client_, name);
        const SessionId me = client_.session_id();
        slot->on_elected([this, me](const resources::ElectionElected& elected) {
            print_event(elected_outcome(elected, me));
        });
    }
    if (command.flags.leave) {
        return await(slot->leave(), [](const auto& output) { return elect_leave_outcome(output); });
    }
    return await(slot->enter(),
                 [&](const auto& output) { return elect_enter_outcome(name, output); });
}

std::optional<Result<Outcome>> SessionState::group(const Command& command) {
    const std::string& name = command.args[0];
    auto& slot = groups_[name];
    if (!slot) {
        slot = std::make_unique<client::Group>(client_, name);
        slot->on_joined([this](const resources::GroupJoined& joined) {
            print_event(group_joined_outcome(joined));
        });
        slot->on_left(
            [this](const resources::GroupLeft& left) { print_event(group_left_outcome(left)); });
    }
    if (command.name == "group leave") {
        return await(slot->leave(command.args[1]),
                     [](const auto& output) { return group_leave_outcome(output); });
    }
    return await(slot->join(command.args[1]),
                 [](const auto& output) { return group_join_outcome(output); });
}

std::optional<Result<Outcome>> SessionState::run(const Command& command) {
    const std::string& name = command.name;
    if (is_data_command(name)) {
        return run_data_command(client_, command, connection_.globals().command_timeout);
    }
    if (is_admin_command(name)) return run_admin_command(connection_, command);
    if (name == "watch") return watch(command);
    if (name == "unwatch") return unwatch(command);
    if (name == "lock") return lock(command);
    if (name == "elect") return elect(command);
    return group(command);
}

}  // namespace

int run_session_script(Connection& connection, int input_fd, Printer& printer,
                       SignalWatch& signals) {
    Result<client::Client*> client = connection.session();
    if (!client.is_ok()) {
        printer.error(client.status().message());
        return kExitFailure;
    }
    SessionState state(connection, **client, printer, signals);
    LineReader reader(input_fd, signals);
    while (std::optional<std::string> line = reader.next()) {
        Result<std::vector<std::string>> words = split_session_line(*line);
        if (words.is_ok() && words->empty()) continue;  // blank or a comment
        Result<Command> command =
            words.is_ok() ? parse_session_line(*words, connection.globals()) : words.status();
        if (!command.is_ok()) {
            printer.line(session_error_json(command.status().message()));
            continue;
        }
        std::optional<Result<Outcome>> outcome = state.run(*command);
        if (!outcome) {  // interrupted while waiting
            printer.line(session_error_json("interrupted"));
            break;
        }
        printer.line(outcome->is_ok() ? session_result_json(**outcome)
                                      : session_error_json(session_error_text(outcome->status())));
    }
    Status closed = connection.close();
    if (!closed.is_ok()) printer.warning("copycat-ctl session: closing: " + closed.message());
    return kExitOk;
}

}  // namespace copycat::ctl
