#include "client/ctl/ctl.h"

#include <optional>

#include "client/ctl/admin_commands.h"
#include "client/ctl/connection.h"
#include "client/ctl/data_commands.h"
#include "client/ctl/holding.h"
#include "client/ctl/keygen.h"
#include "client/ctl/printer.h"
#include "client/ctl/session_script.h"
#include "client/ctl/signals.h"

namespace copycat::ctl {

namespace {

// A command that runs once and prints its outcome.
int run_once(Connection& connection, const Command& command, Printer& printer) {
    Result<Outcome> outcome = Status::ok();
    if (command.name == "keygen") {
        outcome = run_keygen(command);
    } else if (is_admin_command(command.name)) {
        outcome = run_admin_command(connection, command);
    } else {
        Result<client::Client*> client = connection.session();
        outcome = client.is_ok()
                      ? run_data_command(**client, command, connection.globals().command_timeout)
                      : Result<Outcome>(client.status());
    }
    if (!outcome.is_ok()) {
        printer.error(outcome.status().message());
        return kExitFailure;
    }
    printer.result(*outcome);
    Status closed = connection.close();
    if (!closed.is_ok()) printer.warning("copycat-ctl: closing the session: " + closed.message());
    return outcome->exit_code;
}

}  // namespace

int run_ctl(const std::vector<std::string>& arguments, const Environment& environment, int input_fd,
            std::ostream& out, std::ostream& err) {
    ParseOutcome parsed = parse_command_line(arguments, environment, out, err);
    if (!parsed.run) return parsed.exit_code;
    const GlobalOptions& globals = parsed.invocation.globals;
    const Command& command = parsed.invocation.command;
    // Before the client's thread starts: it must inherit the blocked signals.
    std::optional<SignalWatch> signals;
    const bool script = command.name == "session";
    if (script || holds_until_interrupted(command)) signals.emplace();
    Printer printer(out, err, script ? Format::json : globals.format);
    Connection connection(globals);
    if (script) return run_session_script(connection, input_fd, printer, *signals);
    if (signals) return run_holding_command(connection, command, printer, *signals);
    return run_once(connection, command, printer);
}

}  // namespace copycat::ctl
