#include "client/ctl/data_commands.h"

#include <charconv>

#include "client/ctl/connection.h"
#include "client/ctl/outcomes.h"
#include "client/ctl/value_text.h"

namespace copycat::ctl {

namespace {

using session::Consistency;

// An operation's decoded output and the index it happened (command) or read (query) at.
template <typename Op>
struct Done {
    typename Op::Output output;
    Index index = 0;
};

template <typename Op>
Result<Done<Op>> finish(const client::Reply& reply, std::chrono::milliseconds timeout) {
    Status failed = reply_status(reply, timeout);
    if (!failed.is_ok()) return failed;
    Result<typename Op::Output> output = statemachine::decode_output<Op>(reply.value);
    if (!output.is_ok()) return output.status();
    return Done<Op>{std::move(output).value(), reply.index};
}

// Runs one operation; blocks until its outcome (at most the command timeout).
class Runner {
public:
    Runner(client::Client& client, std::chrono::milliseconds timeout)
        : client_(client), timeout_(timeout) {}

    template <statemachine::CommandType Op>
    Result<Done<Op>> command(const Op& op) {
        return finish<Op>(client_.command(statemachine::make_operation(op)).get(), timeout_);
    }
    template <statemachine::QueryType Op>
    Result<Done<Op>> query(const Op& op, Consistency consistency) {
        return finish<Op>(client_.query(statemachine::make_operation(op), consistency).get(),
                          timeout_);
    }

private:
    client::Client& client_;
    std::chrono::milliseconds timeout_;
};

int64_t number_argument(const std::string& text) {
    int64_t number = 0;
    std::from_chars(text.data(), text.data() + text.size(), number);  // checked by the parse
    return number;
}

uint64_t milliseconds(std::chrono::milliseconds duration) {
    return static_cast<uint64_t>(duration.count());
}

// Each runs one command; `into` makes the Outcome of a Done.
template <typename Op, typename Into>
Result<Outcome> outcome_of(Result<Done<Op>> done, Into into) {
    if (!done.is_ok()) return done.status();
    return into(done->output, done->index);
}

Result<Outcome> run_map(Runner& run, const Command& c) {
    const std::vector<std::string>& args = c.args;
    if (c.name == "put") {
        resources::MapPut op{c.map, args[0], value_argument(c, 1), milliseconds(c.flags.ttl)};
        return outcome_of(run.command(op), put_outcome);
    }
    if (c.name == "get") {
        auto into = [&](const auto& output, Index index) {
            return get_outcome(args[0], output, index);
        };
        return outcome_of(run.query(resources::MapGet{c.map, args[0]}, c.consistency), into);
    }
    if (c.name == "del")
        return outcome_of(run.command(resources::MapRemove{c.map, args[0]}), del_outcome);
    if (c.name == "cas") {
        resources::MapCas op{c.map, args[0], std::nullopt, {}, milliseconds(c.flags.ttl)};
        if (!c.flags.absent) op.expected = value_argument(c, 1);
        op.value = value_argument(c, c.flags.absent ? 1 : 2);
        return outcome_of(run.command(op), cas_outcome);
    }
    if (c.name == "list") {
        const std::string prefix = args.empty() ? "" : args[0];
        auto into = [&](const auto& output, Index index) {
            return list_outcome(prefix, output, index);
        };
        return outcome_of(
            run.query(resources::MapList{c.map, prefix, c.flags.limit}, c.consistency), into);
    }
    return outcome_of(run.query(resources::MapSize{c.map}, c.consistency), size_outcome);
}

Result<Outcome> run_counter(Runner& run, const Command& c) {
    const std::string& name = c.args[0];
    if (c.name == "counter get") {
        return outcome_of(run.query(resources::CounterGet{name}, c.consistency),
                          counter_get_outcome);
    }
    if (c.name == "counter set") {
        const int64_t value = number_argument(c.args[1]);
        auto into = [&](const auto& output, Index index) {
            return counter_set_outcome(value, output, index);
        };
        return outcome_of(run.command(resources::CounterSet{name, value}), into);
    }
    if (c.name == "counter add") {
        return outcome_of(run.command(resources::CounterAdd{name, number_argument(c.args[1])}),
                          counter_add_outcome);
    }
    resources::CounterCas op{name, number_argument(c.args[1]), number_argument(c.args[2])};
    return outcome_of(run.command(op), counter_cas_outcome);
}

}  // namespace

bool is_data_command(const std::string& name) {
    return name == "put" || name == "get" || name == "del" || name == "cas" || name == "list" ||
           name == "size" || name.starts_with("counter ") || name == "elect leader" ||
           name == "group members";
}

Bytes value_argument(const Command& command, size_t position) {
    const std::string& text = command.args[position];
    if (!command.flags.escaped) return to_bytes(text);
    Result<Bytes> bytes = unescape_bytes(text);
    return bytes.is_ok() ? *bytes : to_bytes(text);  // checked by the parse
}

Result<Outcome> run_data_command(client::Client& client, const Command& command,
                                 std::chrono::milliseconds command_timeout) {
    Runner run(client, command_timeout);
    if (command.name.starts_with("counter ")) return run_counter(run, command);
    if (command.name == "elect leader") {
        return outcome_of(
            run.query(resources::ElectionLeader{command.args[0]}, command.consistency),
            elect_leader_outcome);
    }
    if (command.name == "group members") {
        return outcome_of(run.query(resources::GroupMembers{command.args[0]}, command.consistency),
                          group_members_outcome);
    }
    return run_map(run, command);
}

}  // namespace copycat::ctl
