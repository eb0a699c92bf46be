#include "client/ctl/holding.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <map>

#include "client/ctl/outcomes.h"
#include "client/ctl/session_loss.h"
#include "client/resources.h"

extern char** environ;

namespace copycat::ctl {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(100);

// Holds until interrupted (0) or the session is lost (1, said on stderr).
int hold(SignalWatch& signals, SessionLoss& loss, Printer& printer, const std::string& what) {
    while (true) {
        if (is_interrupt(signals.wait(kPollInterval))) return kExitOk;
        if (std::optional<std::string> reason = loss.reason()) {
            printer.error("lost " + what + ": the session " + *reason);
            return kExitFailure;
        }
    }
}

// Closes the session at the end of a holding command; a failure is only worth a warning.
int finish(Connection& connection, Printer& printer, int exit_code) {
    Status closed = connection.close();
    if (!closed.is_ok()) printer.warning("copycat-ctl: closing the session: " + closed.message());
    return exit_code;
}

int run_watch(Connection& connection, client::Client& client, const Command& command,
              Printer& printer, SignalWatch& signals) {
    auto loss = SessionLoss::watch(client);
    client::Map map(client, command.map);
    auto print = [&printer](const resources::MapChanged& change) {
        printer.event(map_changed_outcome(change));
    };
    auto pending = command.flags.prefix ? map.watch_prefix(*command.flags.prefix, print)
                                        : map.watch(command.args[0], print);
    std::optional<Result<client::Map::WatchId>> watch = wait_interruptibly(pending, signals);
    if (!watch) return finish(connection, printer, kExitOk);
    if (!watch->is_ok()) {
        printer.error(watch->status().message());
        return finish(connection, printer, kExitFailure);
    }
    const std::string what = command.flags.prefix
                                 ? "the watch of prefix '" + *command.flags.prefix + "'"
                                 : "the watch of '" + command.args[0] + "'";
    return finish(connection, printer, hold(signals, *loss, printer, what));
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (std::string& text : strings) pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Starts the command with the signal mask ctl had before blocking (and default actions), and
// COPYCAT_LOCK_NAME / COPYCAT_LOCK_TOKEN added to the environment.
Result<pid_t> spawn(std::vector<std::string> argv, const std::map<std::string, std::string>& added,
                    const sigset_t& mask) {
    std::vector<std::string> environment;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string text(*entry);
        if (!added.count(text.substr(0, text.find('=')))) environment.push_back(text);
    }
    for (const auto& [name, value] : added) environment.push_back(name + "=" + value);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigmask(&attributes, &mask);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> arguments = c_strings(argv);
    std::vector<char*> variables = c_strings(environment);
    pid_t pid = -1;
    const int error = posix_spawnp(&pid, argv[0].c_str(), nullptr, &attributes, arguments.data(),
                                   variables.data());
    posix_spawnattr_destroy(&attributes);
    if (error != 0) return io_error("cannot run '" + argv[0] + "': " + std::strerror(error));
    return pid;
}

// Waits for the child, passing SIGINT/SIGTERM on to it: its exit code (128 + signal if a
// signal ended it). Warns once if the lock is lost meanwhile.
int wait_for_child(pid_t child, SignalWatch& signals, SessionLoss& loss, Printer& printer,
                   const std::string& lock) {
    bool warned = false;
    while (true) {
        int status = 0;
        if (::waitpid(child, &status, WNOHANG) == child) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        const int signal_number = signals.wait(kPollInterval);
        if (is_interrupt(signal_number)) ::kill(child, signal_number);
        std::optional<std::string> reason = loss.reason();
        if (reason && !warned) {
            printer.warning("copycat-ctl lock: lost the lock '" + lock + "' (the session " +
                            *reason + "); the command keeps running without it");
            warned = true;
        }
    }
}

int run_lock(Connection& connection, client::Client& client, const Command& command,
             Printer& printer, SignalWatch& signals) {
    auto loss = SessionLoss::watch(client);
    const std::string& name = command.args[0];
    client::Lock lock(client, name);
    auto pending = lock.acquire(command.flags.timeout.value_or(client::Lock::kWaitForever));
    std::optional<Result<client::LockGrant>> grant = wait_interruptibly(pending, signals);
    if (!grant) {
        printer.error("interrupted while waiting for the lock '" + name + "'");
        return finish(connection, printer, kExitFailure);
    }
    if (!grant->is_ok() || !(*grant)->acquired) {
        printer.error(grant->is_ok() ? "the lock '" + name + "' was not granted within the timeout"
                                     : grant->status().message());
        return finish(connection, printer, kExitFailure);
    }
    const Index token = (*grant)->token;
    int exit_code = kExitOk;
    if (command.args.size() == 1) {
        printer.result(lock_outcome(name, true, token));
        exit_code = hold(signals, *loss, printer, "the lock '" + name + "'");
    } else {
        std::vector<std::string> argv(command.args.begin() + 1, command.args.end());
        Result<pid_t> child = spawn(
            argv, {{"COPYCAT_LOCK_NAME", name}, {"COPYCAT_LOCK_TOKEN", std::to_string(token)}},
            signals.original_mask());
        if (!child.is_ok()) printer.error(child.status().message());
        exit_code = child.is_ok() ? wait_for_child(*child, signals, *loss, printer, name) : 127;
    }
    if (!loss->reason()) (void)lock.release().get();
    return finish(connection, printer, exit_code);
}

int run_elect(Connection& connection, client::Client& client, const Command& command,
              Printer& printer, SignalWatch& signals) {
    auto loss = SessionLoss::watch(client);
    const std::string& name = command.args[0];
    client::Election election(client, name);
    const SessionId me = client.session_id();
    election.on_elected([&printer, me](const resources::ElectionElected& elected) {
        printer.event(elected_outcome(elected, me));
    });
    auto pending = election.enter();
    std::optional<Result<resources::ElectionEnter::Output>> entered =
        wait_interruptibly(pending, signals);
    if (!entered) return finish(connection, printer, kExitOk);
    if (!entered->is_ok()) {
        printer.error(entered->status().message());
        return finish(connection, printer, kExitFailure);
    }
    // Elected at once: the election.elected event (delivered before this answer) said so.
    if (!(*entered)->elected) printer.event(elect_enter_outcome(name, **entered));
    const int exit_code = hold(signals, *loss, printer, "the candidacy in '" + name + "'");
    if (!loss->reason()) (void)election.leave().get();
    return finish(connection, printer, exit_code);
}

int run_group_join(Connection& connection, client::Client& client, const Command& command,
                   Printer& printer, SignalWatch& signals) {
    auto loss = SessionLoss::watch(client);
    const std::string& member = command.args[1];
    client::Group group(client, command.args[0]);
    group.on_joined([&printer](const resources::GroupJoined& joined) {
        printer.event(group_joined_outcome(joined));
    });
    group.on_left(
        [&printer](const resources::GroupLeft& left) { printer.event(group_left_outcome(left)); });
    auto pending = group.join(member);
    std::optional<Result<resources::GroupJoin::Output>> joined =
        wait_interruptibly(pending, signals);
    if (!joined) return finish(connection, printer, kExitOk);
    if (!joined->is_ok()) {
        printer.error(joined->status().message());
        return finish(connection, printer, kExitFailure);
    }
    printer.result(group_join_outcome(**joined));
    const int exit_code = hold(signals, *loss, printer, "the membership of '" + member + "'");
    if (!loss->reason()) (void)group.leave(member).get();
    return finish(connection, printer, exit_code);
}

}  // namespace

int run_holding_command(Connection& connection, const Command& command, Printer& printer,
                        SignalWatch& signals) {
    Result<client::Client*> client = connection.session();
    if (!client.is_ok()) {
        printer.error(client.status().message());
        return kExitFailure;
    }
    if (command.name == "watch") return run_watch(connection, **client, command, printer, signals);
    if (command.name == "lock") return run_lock(connection, **client, command, printer, signals);
    if (command.name == "elect") return run_elect(connection, **client, command, printer, signals);
    return run_group_join(connection, **client, command, printer, signals);
}

}  // namespace copycat::ctl
