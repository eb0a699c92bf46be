// SessionCore, driven by hand: each test sends the answers a gateway would give, at the times
// it chooses, and checks what the core sends and delivers (copycat.md §3.5-3.8, §6).
#include "client/session_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

#include "tests/client/core_driver.h"

namespace copycat::client {
namespace {

using session::CommandRequest;
using session::KeepAliveItem;
using session::KeepAliveRequest;
using session::QueryRequest;
using session::RegisterRequest;
using session::RegisterResponse;
using session::ResetRequest;
using session::UnregisterRequest;
using testing::answer;
using testing::CoreDriver;
using testing::error_answer;
using testing::keep_alive_answer;
using testing::op;
using testing::operation_answer;
using testing::Sent;

// Session timeout 1 s: keep-alives every 500 ms, UNSTABLE after 250 ms without an answer.
SessionCoreOptions test_options() {
    SessionCoreOptions options;
    options.client_id = "client-1";
    options.session_timeout_ms = 1'000;
    options.register_timeout_ms = 5'000;
    options.attempt_timeout_ms = 300;
    options.operation_timeout_ms = 5'000;
    options.retry_min_ms = 20;
    options.retry_max_ms = 160;
    options.event_wait_ms = 1'000;
    return options;
}

std::vector<uint64_t> sequences(const std::vector<Sent<CommandRequest>>& sent) {
    std::vector<uint64_t> out;
    for (const auto& command : sent) out.push_back(command.request.sequence);
    return out;
}

std::vector<OperationId> ids(const std::vector<OperationResult>& results) {
    std::vector<OperationId> out;
    for (const auto& result : results) out.push_back(result.id);
    return out;
}

std::vector<SessionState> states(const std::vector<StateChange>& changes) {
    std::vector<SessionState> out;
    for (const auto& change : changes) out.push_back(change.state);
    return out;
}

std::string text(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

// What a delivery is, for checking orders: "r<id>" for a result, "e<index>:<name>" for an
// event, "s:<state>" for a state change.
std::vector<std::string> trace(const std::vector<Delivery>& deliveries) {
    std::vector<std::string> out;
    for (const Delivery& delivery : deliveries) {
        if (const auto* result = std::get_if<OperationResult>(&delivery)) {
            out.push_back("r" + std::to_string(result->id));
        } else if (const auto* event = std::get_if<EventDelivery>(&delivery)) {
            out.push_back("e" + std::to_string(event->event_index) + ":" + event->event.name);
        } else {
            out.push_back(std::string("s:") +
                          session_state_name(std::get<StateChange>(delivery).state));
        }
    }
    return out;
}

// An open session 10 with a 1 s timeout, at time 0, its output taken.
struct Opened {
    explicit Opened(SessionCoreOptions options = test_options()) : driver(std::move(options)) {
        driver.open_session(10, 1'000);
        driver.take_deliveries();
        driver.take_requests();
    }
    CoreDriver driver;
};

// --- registration ----------------------------------------------------------------------------

TEST(SessionCoreRegister, AnAnswerOpensTheSession) {
    CoreDriver driver(test_options());
    driver.open();
    const auto registers = driver.take<RegisterRequest>();
    ASSERT_EQ(registers.size(), 1u);
    EXPECT_EQ(registers[0].request.client_id, "client-1");
    EXPECT_EQ(registers[0].request.timeout_ms, 1'000u);
    EXPECT_EQ(driver.core().state(), SessionState::connecting);

    driver.receive(answer(registers[0].request_id, RegisterResponse{10, 2'000}));
    EXPECT_EQ(driver.core().state(), SessionState::open);
    EXPECT_EQ(driver.core().session(), 10u);
    EXPECT_EQ(driver.core().timeout_ms(), 2'000u);
    const auto changes = driver.delivered<StateChange>();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].state, SessionState::open);
    EXPECT_EQ(changes[0].session, 10u);
}

TEST(SessionCoreRegister, ARefusalIsRetriedAfterADoublingBackoff) {
    CoreDriver driver(test_options());
    driver.open();
    uint64_t request_id = driver.take<RegisterRequest>().at(0).request_id;
    for (const uint64_t backoff_ms : {20, 40, 80, 160, 160}) {
        driver.receive(error_answer(request_id, ErrorCode::no_leader));
        driver.run_for(backoff_ms - 1);
        EXPECT_TRUE(driver.take<RegisterRequest>().empty()) << "before " << backoff_ms;
        driver.run_for(1);
        const auto again = driver.take<RegisterRequest>();
        ASSERT_EQ(again.size(), 1u) << "after " << backoff_ms;
        EXPECT_NE(again[0].request_id, request_id);
        request_id = again[0].request_id;
    }
    EXPECT_FALSE(driver.take_suspect());  // refused, not unanswered
}

TEST(SessionCoreRegister, AnUnansweredAttemptIsSentAgainAndAnyAttemptsAnswerCounts) {
    CoreDriver driver(test_options());
    driver.open();
    const uint64_t first = driver.take<RegisterRequest>().at(0).request_id;
    driver.run_until(299);
    EXPECT_FALSE(driver.take_suspect());
    driver.run_until(300);
    EXPECT_TRUE(driver.take_suspect());
    EXPECT_TRUE(driver.take<RegisterRequest>().empty());
    driver.run_until(320);
    ASSERT_EQ(driver.take<RegisterRequest>().size(), 1u);

    driver.receive(answer(first, RegisterResponse{10, 1'000}));  // the late first one
    EXPECT_EQ(driver.core().state(), SessionState::open);
    EXPECT_EQ(driver.core().session(), 10u);
}

TEST(SessionCoreRegister, GivesUpAfterTheRegisterTimeoutWithTheReason) {
    CoreDriver driver(test_options());
    driver.open();
    const OperationId waiting = driver.command(op(), 60'000);
    while (driver.now() < 6'000) {
        for (const auto& sent : driver.take<RegisterRequest>()) {
            driver.receive(error_answer(sent.request_id, ErrorCode::no_leader));
        }
        driver.run_for(10);
    }
    EXPECT_EQ(driver.core().state(), SessionState::closed);
    const auto changes = driver.delivered<StateChange>();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].state, SessionState::closed);
    EXPECT_NE(changes[0].reason.find("could not register a session within 5s: no leader"),
              std::string::npos)
        << changes[0].reason;
    const auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].id, waiting);
    EXPECT_EQ(results[0].error, ErrorCode::unknown_session);

    driver.take_requests();
    driver.run_for(100'000);
    EXPECT_TRUE(driver.take_requests().empty());
    EXPECT_FALSE(driver.core().next_deadline_ms());
}

TEST(SessionCoreRegister, WithoutAnyAnswerTheReasonSaysSo) {
    CoreDriver driver(test_options());
    driver.open();
    driver.run_until(5'000);
    const auto changes = driver.delivered<StateChange>();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].reason, "could not register a session within 5s: no answer");
}

TEST(SessionCoreRegister, RetryRegistrationKeepsTryingPastTheTimeout) {
    SessionCoreOptions options = test_options();
    options.retry_registration = true;
    CoreDriver driver(options);
    driver.open();
    driver.run_until(60'000);
    EXPECT_EQ(driver.core().state(), SessionState::connecting);
    const auto registers = driver.take<RegisterRequest>();
    EXPECT_GT(registers.size(), 100u);
    driver.receive(answer(registers.back().request_id, RegisterResponse{77, 1'000}));
    EXPECT_EQ(driver.core().state(), SessionState::open);
    EXPECT_EQ(driver.core().session(), 77u);
}

TEST(SessionCoreRegister, ABadRequestClosesAtOnce) {
    CoreDriver driver(test_options());
    driver.open();
    driver.receive(
        error_answer(driver.take<RegisterRequest>().at(0).request_id, ErrorCode::bad_request));
    EXPECT_EQ(driver.core().state(), SessionState::closed);
    EXPECT_FALSE(driver.core().next_deadline_ms());
}

TEST(SessionCoreRegister, OperationsWaitForTheSessionAndThenGoOut) {
    CoreDriver driver(test_options());
    driver.open();
    driver.command(op("put", "a"));
    driver.query(op("get"), Consistency::sequential);
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
    EXPECT_TRUE(driver.take<QueryRequest>().empty());

    driver.receive(
        answer(driver.take<RegisterRequest>().at(0).request_id, RegisterResponse{10, 1'000}));
    const auto commands = driver.take<CommandRequest>();
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(commands[0].request.session, 10u);
    EXPECT_EQ(commands[0].request.sequence, 1u);
    EXPECT_EQ(commands[0].request.operation, op("put", "a"));
    const auto queries = driver.take<QueryRequest>();
    ASSERT_EQ(queries.size(), 1u);
    EXPECT_EQ(queries[0].request.sequence, 1u);  // after the command: read your writes
    EXPECT_EQ(queries[0].request.index, 10u);    // the session id seeds the index seen
    EXPECT_EQ(queries[0].request.consistency, Consistency::sequential);
}

TEST(SessionCoreRegister, AnOperationTimesOutWhileConnectingAndItsSequenceIsStillFilled) {
    CoreDriver driver(test_options());
    driver.open();
    const OperationId id = driver.command(op(), 100);
    driver.run_until(100);
    const auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].id, id);
    EXPECT_EQ(results[0].error, ErrorCode::timeout);

    driver.receive(
        answer(driver.take<RegisterRequest>().at(0).request_id, RegisterResponse{10, 1'000}));
    const auto commands = driver.take<CommandRequest>();
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(commands[0].request.sequence, 1u);
    EXPECT_TRUE(commands[0].request.operation.type.empty());  // the no-op
}

// --- keep-alives -----------------------------------------------------------------------------

TEST(SessionCoreKeepAlive, EveryHalfTimeoutWithTheGapFreeSequenceAndTheEventIndex) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    for (int i = 0; i < 3; ++i) driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    driver.receive(operation_answer(commands[0].request_id, 11, 10));
    driver.receive(operation_answer(commands[2].request_id, 13, 10));  // 2 still missing
    driver.publish(10, 12, 10, {"e"});

    driver.run_until(499);
    EXPECT_TRUE(driver.take<KeepAliveRequest>().empty());
    driver.run_until(500);
    auto keep_alives = driver.take<KeepAliveRequest>();
    ASSERT_EQ(keep_alives.size(), 1u);
    EXPECT_EQ(keep_alives[0].request.sessions, (std::vector<KeepAliveItem>{{10, 1, 12}}));

    driver.receive(keep_alive_answer(keep_alives[0].request_id));
    driver.receive(operation_answer(commands[1].request_id, 12, 12));
    driver.run_until(1'000);
    keep_alives = driver.take<KeepAliveRequest>();
    ASSERT_EQ(keep_alives.size(), 1u);
    EXPECT_EQ(keep_alives[0].request.sessions, (std::vector<KeepAliveItem>{{10, 3, 12}}));
}

TEST(SessionCoreKeepAlive, UnansweredInAQuarterTimeoutItIsResentAndTheSessionUnstable) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.run_until(500);
    const uint64_t first = driver.take<KeepAliveRequest>().at(0).request_id;
    driver.run_until(749);
    EXPECT_TRUE(driver.take<KeepAliveRequest>().empty());
    driver.run_until(750);
    const auto again = driver.take<KeepAliveRequest>();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_NE(again[0].request_id, first);
    EXPECT_TRUE(driver.take_suspect());
    EXPECT_EQ(driver.core().state(), SessionState::unstable);
    EXPECT_EQ(states(driver.delivered<StateChange>()),
              std::vector<SessionState>{SessionState::unstable});

    driver.receive(keep_alive_answer(first));  // replaced: its answer no longer counts
    EXPECT_EQ(driver.core().state(), SessionState::unstable);
    driver.receive(keep_alive_answer(again[0].request_id));
    EXPECT_EQ(driver.core().state(), SessionState::open);
    EXPECT_EQ(states(driver.delivered<StateChange>()),
              std::vector<SessionState>{SessionState::open});
}

TEST(SessionCoreKeepAlive, AnAnsweredCommandMakesAnUnstableSessionOpenToo) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.run_until(750);  // the keep-alive went unanswered
    EXPECT_EQ(driver.core().state(), SessionState::unstable);
    driver.command(op());
    driver.receive(operation_answer(driver.take<CommandRequest>().at(0).request_id, 11));
    EXPECT_EQ(driver.core().state(), SessionState::open);
}

TEST(SessionCoreKeepAlive, NoLeaderNeverExpiresTheSession) {  // copycat #70
    Opened opened;
    CoreDriver& driver = opened.driver;
    size_t keep_alives = 0;
    while (driver.now() < 60'000) {
        for (const auto& sent : driver.take<KeepAliveRequest>()) {
            ++keep_alives;
            driver.receive(error_answer(sent.request_id, ErrorCode::no_leader));
        }
        driver.run_for(10);
    }
    EXPECT_EQ(driver.core().state(), SessionState::unstable);
    EXPECT_GT(keep_alives, 200u);
    for (const StateChange& change : driver.delivered<StateChange>()) {
        EXPECT_NE(change.state, SessionState::expired);
    }
    driver.run_for(200);
    const auto sent = driver.take<KeepAliveRequest>();
    ASSERT_FALSE(sent.empty());
    driver.receive(keep_alive_answer(sent.back().request_id));
    EXPECT_EQ(driver.core().state(), SessionState::open);
}

TEST(SessionCoreKeepAlive, UnknownSessionExpiresTheSessionAndEverythingStops) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId pending = driver.command(op());
    driver.run_until(500);
    driver.receive(keep_alive_answer(driver.take<KeepAliveRequest>().at(0).request_id,
                                     ErrorCode::unknown_session));
    EXPECT_EQ(driver.core().state(), SessionState::expired);
    const auto changes = driver.delivered<StateChange>();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].session, 10u);
    const auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].id, pending);
    EXPECT_EQ(results[0].error, ErrorCode::unknown_session);

    driver.take_requests();
    driver.run_for(100'000);
    EXPECT_TRUE(driver.take_requests().empty());
    EXPECT_FALSE(driver.core().next_deadline_ms());
    driver.command(op());
    EXPECT_EQ(driver.delivered<OperationResult>().at(0).error, ErrorCode::unknown_session);
    EXPECT_TRUE(driver.take_requests().empty());
}

TEST(SessionCoreKeepAlive, AnUnknownSessionErrorCodeExpiresToo) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.run_until(500);
    driver.receive(
        error_answer(driver.take<KeepAliveRequest>().at(0).request_id, ErrorCode::unknown_session));
    EXPECT_EQ(driver.core().state(), SessionState::expired);
}

TEST(SessionCoreKeepAlive, AMalformedAnswerIsRetried) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.run_until(500);
    const uint64_t first = driver.take<KeepAliveRequest>().at(0).request_id;
    driver.receive(answer(first, RegisterResponse{10, 1'000}));  // the wrong body
    driver.run_for(20);
    const uint64_t second = driver.take<KeepAliveRequest>().at(0).request_id;
    driver.receive(answer(second, session::KeepAliveResponse{}));  // no item
    driver.run_for(40);
    const uint64_t third = driver.take<KeepAliveRequest>().at(0).request_id;
    driver.receive(keep_alive_answer(third));
    EXPECT_EQ(driver.core().state(), SessionState::open);
    driver.run_until(999);
    EXPECT_TRUE(driver.take<KeepAliveRequest>().empty());
}

// --- commands --------------------------------------------------------------------------------

TEST(SessionCoreCommand, ConsecutiveSequencesAllInFlight) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    for (int i = 0; i < 5; ++i) driver.command(op("put", std::to_string(i)));
    const auto commands = driver.take<CommandRequest>();
    EXPECT_EQ(sequences(commands), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
    for (size_t i = 0; i < commands.size(); ++i) {
        EXPECT_EQ(commands[i].request.session, 10u);
        EXPECT_EQ(commands[i].request.operation, op("put", std::to_string(i)));
        EXPECT_TRUE(driver.core().owns(commands[i].request_id));
    }
}

TEST(SessionCoreCommand, ResultsAreDeliveredInSubmissionOrder) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId a = driver.command(op()), b = driver.command(op()), c = driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    driver.receive(operation_answer(commands[2].request_id, 13, 10, "c"));
    driver.receive(operation_answer(commands[1].request_id, 12, 10, "b"));
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());
    EXPECT_EQ(driver.core().pending(), 3u);
    driver.receive(operation_answer(commands[0].request_id, 11, 10, "a"));
    const auto results = driver.delivered<OperationResult>();
    EXPECT_EQ(ids(results), (std::vector<OperationId>{a, b, c}));
    EXPECT_EQ(text(results[0].value), "a");
    EXPECT_EQ(results[0].index, 11u);
    EXPECT_EQ(text(results[2].value), "c");
    EXPECT_EQ(driver.core().pending(), 0u);
}

TEST(SessionCoreCommand, DuplicateAndLateAnswersAreIgnored) {  // copycat #334
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op());
    const uint64_t first = driver.take<CommandRequest>().at(0).request_id;
    driver.receive(operation_answer(first, 11));
    driver.receive(operation_answer(first, 11));
    EXPECT_EQ(driver.delivered<OperationResult>().size(), 1u);

    driver.command(op());
    const uint64_t attempt = driver.take<CommandRequest>().at(0).request_id;
    driver.run_for(320);  // timed out, sent again
    const uint64_t retry = driver.take<CommandRequest>().at(0).request_id;
    driver.receive(operation_answer(retry, 12));
    driver.receive(operation_answer(attempt, 12));
    driver.receive(error_answer(attempt, ErrorCode::command_error));
    EXPECT_EQ(driver.delivered<OperationResult>().size(), 1u);
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
    EXPECT_EQ(driver.core().pending(), 0u);
}

TEST(SessionCoreCommand, NoLeaderSendsTheSameSequenceAgainAfterADoublingBackoff) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op("put", "x"));
    uint64_t request_id = driver.take<CommandRequest>().at(0).request_id;
    for (const uint64_t backoff_ms : {20, 40, 80, 160, 160}) {
        driver.receive(error_answer(request_id, ErrorCode::no_leader));
        driver.run_for(backoff_ms - 1);
        EXPECT_TRUE(driver.take<CommandRequest>().empty());
        driver.run_for(1);
        const auto again = driver.take<CommandRequest>();
        ASSERT_EQ(again.size(), 1u);
        EXPECT_EQ(again[0].request.sequence, 1u);
        EXPECT_EQ(again[0].request.operation, op("put", "x"));
        request_id = again[0].request_id;
    }
}

TEST(SessionCoreCommand, AnUnansweredAttemptIsSentAgainAndSuspectsTheConnection) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId id = driver.command(op());
    const uint64_t first = driver.take<CommandRequest>().at(0).request_id;
    driver.run_until(300);
    EXPECT_TRUE(driver.take_suspect());
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
    driver.run_until(320);
    const auto again = driver.take<CommandRequest>();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].request.sequence, 1u);
    driver.receive(operation_answer(first, 11));  // the first attempt's answer counts
    EXPECT_EQ(ids(driver.delivered<OperationResult>()), std::vector<OperationId>{id});
}

TEST(SessionCoreCommand, CommandErrorResendsTheGapThenWhatFollowsItOnceTheGapIsAnswered) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    for (int i = 0; i < 5; ++i) driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    driver.receive(operation_answer(commands[0].request_id, 11));
    // 3 overtook 2, or 2 was lost: 2 goes again at once. 3, 4 and 5 went out before it and
    // reach the leader first: they wait for 2's answer.
    driver.receive(error_answer(commands[2].request_id, ErrorCode::command_error, 1));
    const auto gap = driver.take<CommandRequest>();
    EXPECT_EQ(sequences(gap), std::vector<uint64_t>{2});
    EXPECT_TRUE(driver.take<KeepAliveRequest>().empty());
    driver.command(op());  // waits with them
    // Their refusals, and those of replaced attempts, no longer count.
    for (int i = 1; i < 5; ++i) {
        driver.receive(error_answer(commands[i].request_id, ErrorCode::command_error, 1));
    }
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
    driver.receive(operation_answer(gap[0].request_id, 12));
    EXPECT_EQ(sequences(driver.take<CommandRequest>()), (std::vector<uint64_t>{3, 4, 5, 6}));
    driver.run_for(100);
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
}

TEST(SessionCoreCommand, ARoundResendsEverythingFromItsFirstCommandOn) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    for (int i = 0; i < 3; ++i) driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    driver.receive(error_answer(commands[0].request_id, ErrorCode::no_leader));
    driver.run_for(20);
    const auto gap = driver.take<CommandRequest>();  // 1 again, after the backoff
    EXPECT_EQ(sequences(gap), std::vector<uint64_t>{1});
    driver.command(op());  // 4 goes out after 1's new attempt...
    EXPECT_EQ(driver.take<CommandRequest>().size(), 1u);
    // ... and 2 (sent before) is refused: 2 and 3 wait for 1, and 4 goes again with them, or
    // it would reach the leader before them and be refused too.
    driver.receive(error_answer(commands[1].request_id, ErrorCode::command_error, 0));
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
    driver.receive(operation_answer(gap[0].request_id, 11));
    EXPECT_EQ(sequences(driver.take<CommandRequest>()), (std::vector<uint64_t>{2, 3, 4}));
}

TEST(SessionCoreCommand, RefusedCommandsGoAgainAfterABackoffWhenTheGapIsNotAnswered) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op());
    driver.command(op());
    auto commands = driver.take<CommandRequest>();
    driver.receive(error_answer(commands[1].request_id, ErrorCode::command_error, 0));
    EXPECT_EQ(sequences(driver.take<CommandRequest>()), std::vector<uint64_t>{1});
    driver.run_for(19);
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
    driver.run_for(1);
    commands = driver.take<CommandRequest>();
    EXPECT_EQ(sequences(commands), std::vector<uint64_t>{2});
    // Refused again, with no command answered since: the gap again, and a longer backoff.
    driver.receive(error_answer(commands[0].request_id, ErrorCode::command_error, 0));
    EXPECT_EQ(sequences(driver.take<CommandRequest>()), std::vector<uint64_t>{1});
    driver.run_for(39);
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
    driver.run_for(1);
    EXPECT_EQ(sequences(driver.take<CommandRequest>()), std::vector<uint64_t>{2});
}

TEST(SessionCoreCommand, AStaleRefusalNeedsNoReset) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op());
    driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    driver.receive(operation_answer(commands[0].request_id, 11));
    // 2 reached the leader before 1 did: refused, but sent before 1 was answered, so the
    // leader forgot nothing: no reset, 2 simply goes again.
    driver.receive(error_answer(commands[1].request_id, ErrorCode::command_error, 0));
    EXPECT_TRUE(driver.take<KeepAliveRequest>().empty());
    driver.run_for(20);
    EXPECT_EQ(sequences(driver.take<CommandRequest>()), std::vector<uint64_t>{2});
    EXPECT_TRUE(driver.take<KeepAliveRequest>().empty());
}

TEST(SessionCoreCommand, ARefusalOfAnEarlierAttemptStillFillsTheSequence) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId id = driver.command(op("bad"));
    const uint64_t first = driver.take<CommandRequest>().at(0).request_id;
    driver.run_for(320);  // unanswered: sent again
    ASSERT_EQ(driver.take<CommandRequest>().size(), 1u);
    driver.receive(error_answer(first, ErrorCode::bad_request));
    EXPECT_EQ(ids(driver.delivered<OperationResult>()), std::vector<OperationId>{id});
    const auto no_op = driver.take<CommandRequest>();
    ASSERT_EQ(no_op.size(), 1u);
    EXPECT_TRUE(no_op[0].request.operation.type.empty());
    driver.receive(error_answer(first, ErrorCode::bad_request));  // again: the no-op is on its way
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
}

TEST(SessionCoreCommand, CommandErrorBelowTheAnswersResetsTheLeaderWithAKeepAliveFirst) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    for (int i = 0; i < 3; ++i) driver.command(op());
    auto commands = driver.take<CommandRequest>();
    for (int i = 0; i < 3; ++i) driver.receive(operation_answer(commands[i].request_id, 11 + i));
    driver.command(op());
    driver.command(op());
    commands = driver.take<CommandRequest>();
    // Sent after 3 was answered, 4 is refused by a leader that has only 1: it forgot.
    driver.receive(error_answer(commands[0].request_id, ErrorCode::command_error, 1));
    const auto keep_alives = driver.take<KeepAliveRequest>();
    ASSERT_EQ(keep_alives.size(), 1u);
    EXPECT_EQ(keep_alives[0].request.sessions, (std::vector<KeepAliveItem>{{10, 3, 10}}));
    driver.command(op());  // waits too: it would be out of order
    EXPECT_TRUE(driver.take<CommandRequest>().empty());

    driver.receive(keep_alive_answer(keep_alives[0].request_id));
    EXPECT_EQ(sequences(driver.take<CommandRequest>()), (std::vector<uint64_t>{4, 5, 6}));
}

TEST(SessionCoreCommand, AnApplicationErrorIsDeliveredAndItsSequenceConsumed) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op());
    session::Response refused =
        operation_answer(driver.take<CommandRequest>().at(0).request_id, 11);
    refused.error = ErrorCode::application_error;
    refused.message = "no such key";
    driver.receive(refused);
    const auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].error, ErrorCode::application_error);
    EXPECT_EQ(results[0].message, "no such key");
    driver.run_until(500);
    EXPECT_TRUE(driver.take<CommandRequest>().empty());  // no no-op: it was applied
    EXPECT_EQ(driver.take<KeepAliveRequest>().at(0).request.sessions.at(0).command_sequence, 1u);
}

class SessionCoreRefused : public ::testing::TestWithParam<ErrorCode> {};

// copycat #102: refused before it was logged, the sequence is filled by a no-op of the same
// sequence, retried until answered, so the commands after it are not held up.
TEST_P(SessionCoreRefused, TheSequenceIsFilledWithANoOp) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId refused = driver.command(op("bad"));
    const OperationId next = driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    driver.receive(error_answer(commands[0].request_id, GetParam()));
    const auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].id, refused);
    EXPECT_EQ(results[0].error, GetParam());
    auto no_op = driver.take<CommandRequest>();
    ASSERT_EQ(no_op.size(), 1u);
    EXPECT_EQ(no_op[0].request.sequence, 1u);
    EXPECT_TRUE(no_op[0].request.operation.type.empty());

    driver.receive(error_answer(no_op[0].request_id, ErrorCode::no_leader));
    driver.run_for(20);
    no_op = driver.take<CommandRequest>();
    ASSERT_EQ(no_op.size(), 1u);
    EXPECT_TRUE(no_op[0].request.operation.type.empty());
    driver.receive(operation_answer(no_op[0].request_id, 12));
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());  // nobody waits for a no-op
    driver.receive(operation_answer(commands[1].request_id, 13));
    EXPECT_EQ(ids(driver.delivered<OperationResult>()), std::vector<OperationId>{next});
    driver.run_until(500);
    EXPECT_EQ(driver.take<KeepAliveRequest>().at(0).request.sessions.at(0).command_sequence, 2u);
    EXPECT_EQ(driver.core().pending(), 0u);
}

INSTANTIATE_TEST_SUITE_P(BadRequestAndUnknownOperation, SessionCoreRefused,
                         ::testing::Values(ErrorCode::bad_request, ErrorCode::unknown_operation));

TEST(SessionCoreCommand, AUserTimeoutDeliversTimeoutAndANoOpFillsTheSequence) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId late = driver.command(op("put", "late"), 1'000);
    const OperationId next = driver.command(op());
    uint64_t next_request = driver.take<CommandRequest>().at(1).request_id;
    driver.run_until(1'000);
    auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].id, late);
    EXPECT_EQ(results[0].error, ErrorCode::timeout);
    EXPECT_NE(results[0].message.find("may or may not"), std::string::npos);

    for (const auto& sent : driver.take<CommandRequest>()) {  // attempts before the timeout
        if (sent.request.sequence == 2) next_request = sent.request_id;
        if (sent.request.sequence == 1) {
            EXPECT_EQ(sent.request.operation, op("put", "late"));
        }
    }
    driver.run_until(2'000);
    std::vector<Sent<CommandRequest>> no_ops;
    for (auto& sent : driver.take<CommandRequest>()) {
        if (sent.request.sequence == 1) no_ops.push_back(sent);
    }
    ASSERT_FALSE(no_ops.empty());
    for (const auto& no_op : no_ops) EXPECT_TRUE(no_op.request.operation.type.empty());
    driver.receive(operation_answer(no_ops.back().request_id, 11));
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());
    driver.receive(operation_answer(next_request, 12));
    EXPECT_EQ(ids(driver.delivered<OperationResult>()), std::vector<OperationId>{next});
}

TEST(SessionCoreCommand, TheOriginalsLateAnswerFillsATimedOutSequence) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op(), 100);
    const uint64_t original = driver.take<CommandRequest>().at(0).request_id;
    driver.run_until(100);
    EXPECT_EQ(driver.delivered<OperationResult>().at(0).error, ErrorCode::timeout);
    driver.receive(operation_answer(original, 11));
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());
    driver.run_until(10'000);
    EXPECT_TRUE(driver.take<CommandRequest>().empty());
}

TEST(SessionCoreCommand, UnknownSessionExpiresTheSession) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op());
    driver.receive(
        error_answer(driver.take<CommandRequest>().at(0).request_id, ErrorCode::unknown_session));
    EXPECT_EQ(driver.core().state(), SessionState::expired);
    EXPECT_EQ(driver.delivered<OperationResult>().at(0).error, ErrorCode::unknown_session);
}

TEST(SessionCoreCommand, AnAnswerWithTheWrongBodyIsRetried) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op());
    driver.receive(answer(driver.take<CommandRequest>().at(0).request_id, RegisterResponse{5, 5}));
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());
    driver.run_for(20);
    const auto again = driver.take<CommandRequest>();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].request.sequence, 1u);
}

TEST(SessionCoreCommand, OnlyTheLastAttemptsOfALongRetryAreRemembered) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op(), 1'000'000);
    std::vector<uint64_t> attempts;
    for (int i = 0; i < 40; ++i) {
        const auto sent = driver.take<CommandRequest>();
        ASSERT_EQ(sent.size(), 1u);
        attempts.push_back(sent[0].request_id);
        driver.receive(error_answer(sent[0].request_id, ErrorCode::no_leader));
        driver.run_for(160);
    }
    driver.receive(operation_answer(attempts.front(), 11));  // forgotten: ignored
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());
    driver.receive(operation_answer(attempts[30], 11));  // recent enough: counts
    EXPECT_EQ(driver.delivered<OperationResult>().size(), 1u);
}

TEST(SessionCoreCommand, AnEmptyOperationTypeIsRefusedLocally) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(Operation{});
    EXPECT_EQ(driver.delivered<OperationResult>().at(0).error, ErrorCode::bad_request);
    driver.command(op());
    EXPECT_EQ(driver.take<CommandRequest>().at(0).request.sequence, 1u);  // none consumed
}

// --- queries ---------------------------------------------------------------------------------

TEST(SessionCoreQuery, CarriesTheLastSequenceIssuedAndTheHighestIndexSeen) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op());
    driver.command(op());
    driver.receive(operation_answer(driver.take<CommandRequest>().at(0).request_id, 42));
    driver.query(op("get"), Consistency::linearizable_lease);
    auto queries = driver.take<QueryRequest>();
    ASSERT_EQ(queries.size(), 1u);
    EXPECT_EQ(queries[0].request.session, 10u);
    EXPECT_EQ(queries[0].request.sequence, 2u);
    EXPECT_EQ(queries[0].request.index, 42u);
    EXPECT_EQ(queries[0].request.consistency, Consistency::linearizable_lease);
    EXPECT_EQ(queries[0].request.operation, op("get"));

    driver.receive(operation_answer(queries[0].request_id, 50));
    driver.query(op("get"));
    EXPECT_EQ(driver.take<QueryRequest>().at(0).request.index, 50u);  // monotonic reads
}

TEST(SessionCoreQuery, RetriedOnRefusalsAndTimeoutsUntilItsOwnTimeout) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId id = driver.query(op("get"), Consistency::linearizable, 1'000);
    uint64_t request_id = driver.take<QueryRequest>().at(0).request_id;
    for (const auto& [error, backoff_ms] :
         {std::pair{ErrorCode::no_leader, 20}, std::pair{ErrorCode::query_error, 40},
          std::pair{ErrorCode::internal_error, 80}}) {
        driver.receive(error_answer(request_id, error));
        driver.run_for(backoff_ms);
        const auto again = driver.take<QueryRequest>();
        ASSERT_EQ(again.size(), 1u) << session::error_code_name(error);
        request_id = again[0].request_id;
    }
    driver.run_until(1'000);
    EXPECT_TRUE(driver.take_suspect());
    const auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].id, id);
    EXPECT_EQ(results[0].error, ErrorCode::timeout);
    driver.take<QueryRequest>();
    driver.run_until(5'000);
    EXPECT_TRUE(driver.take<QueryRequest>().empty());
}

TEST(SessionCoreQuery, RefusalsOfTheStateMachineAreDelivered) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.query(op("get"));
    driver.query(op("get"));
    const auto queries = driver.take<QueryRequest>();
    driver.receive(error_answer(queries[0].request_id, ErrorCode::application_error));
    driver.receive(error_answer(queries[1].request_id, ErrorCode::unknown_operation));
    const auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].error, ErrorCode::application_error);
    EXPECT_EQ(results[1].error, ErrorCode::unknown_operation);
}

TEST(SessionCoreQuery, QueriesAndCommandsShareOneOrder) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId a = driver.command(op());
    const OperationId b = driver.query(op("get"));
    const OperationId c = driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    driver.receive(operation_answer(driver.take<QueryRequest>().at(0).request_id, 12));
    driver.receive(operation_answer(commands[1].request_id, 13));
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());
    driver.receive(operation_answer(commands[0].request_id, 11));
    EXPECT_EQ(ids(driver.delivered<OperationResult>()), (std::vector<OperationId>{a, b, c}));
}

// --- events ----------------------------------------------------------------------------------

TEST(SessionCoreEvents, WithNothingOutstandingTheyAreDeliveredAtOnce) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.publish(10, 15, 10, {"a", "b"});
    EXPECT_EQ(trace(driver.take_deliveries()), (std::vector<std::string>{"e15:a", "e15:b"}));
}

TEST(SessionCoreEvents, OtherSessionsAndDuplicatesAreIgnored) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.publish(11, 15, 10, {"other"});
    driver.publish(10, 15, 10, {"a"});
    driver.publish(10, 15, 10, {"a"});
    driver.publish(10, 12, 10, {"old"});
    EXPECT_EQ(trace(driver.take_deliveries()), (std::vector<std::string>{"e15:a"}));
    EXPECT_TRUE(driver.take<ResetRequest>().empty());
}

TEST(SessionCoreEvents, AGapSendsAResetAndDropsTheBatch) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.publish(10, 20, 15, {"late"});
    EXPECT_TRUE(driver.take_deliveries().empty());
    const auto resets = driver.take<ResetRequest>();
    ASSERT_EQ(resets.size(), 1u);
    EXPECT_EQ(resets[0].request_id, 0u);  // one-way
    EXPECT_EQ(resets[0].request.session, 10u);
    EXPECT_EQ(resets[0].request.index, 10u);

    driver.publish(10, 25, 20, {"later"});  // the same gap: no second reset at once (#235)
    EXPECT_TRUE(driver.take<ResetRequest>().empty());
    driver.run_for(160);
    driver.publish(10, 25, 20, {"later"});
    EXPECT_EQ(driver.take<ResetRequest>().size(), 1u);

    driver.publish(10, 15, 10, {"first"});
    driver.publish(10, 20, 15, {"late"});
    EXPECT_EQ(trace(driver.take_deliveries()), (std::vector<std::string>{"e15:first", "e20:late"}));
}

TEST(SessionCoreEvents, EventsComeBeforeTheResultThatCoversThem) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId id = driver.command(op());
    driver.publish(10, 20, 10, {"x"});
    driver.publish(10, 30, 20, {"y"});
    EXPECT_TRUE(driver.take_deliveries().empty());  // an operation is outstanding
    driver.receive(operation_answer(driver.take<CommandRequest>().at(0).request_id, 25, 20));
    EXPECT_EQ(trace(driver.take_deliveries()),
              (std::vector<std::string>{"e20:x", "r" + std::to_string(id), "e30:y"}));
}

TEST(SessionCoreEvents, AResultWaitsForTheEventsItsAnswerSaw) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId first = driver.command(op());
    const OperationId second = driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    driver.receive(operation_answer(commands[1].request_id, 26, 10));
    driver.receive(operation_answer(commands[0].request_id, 25, 25));
    EXPECT_TRUE(driver.take_deliveries().empty());
    driver.publish(10, 25, 10, {"x"});
    EXPECT_EQ(trace(driver.take_deliveries()),
              (std::vector<std::string>{"e25:x", "r" + std::to_string(first),
                                        "r" + std::to_string(second)}));
}

TEST(SessionCoreEvents, TheWaitForMissingEventsIsBounded) {  // copycat #293
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId id = driver.command(op());
    driver.receive(operation_answer(driver.take<CommandRequest>().at(0).request_id, 25, 25));
    driver.run_for(999);
    EXPECT_TRUE(driver.take<ResetRequest>().empty());
    driver.run_for(1);
    const auto resets = driver.take<ResetRequest>();
    ASSERT_EQ(resets.size(), 1u);
    EXPECT_EQ(resets[0].request.index, 10u);
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());
    driver.run_for(999);
    EXPECT_TRUE(driver.delivered<OperationResult>().empty());
    driver.run_for(1);
    EXPECT_EQ(ids(driver.delivered<OperationResult>()), std::vector<OperationId>{id});
    driver.delivered<StateChange>();    // (its keep-alives went unanswered meanwhile)
    driver.publish(10, 25, 10, {"x"});  // still delivered, after it
    EXPECT_EQ(trace(driver.take_deliveries()), std::vector<std::string>{"e25:x"});
}

TEST(SessionCoreEvents, ResultsOfLocalFailuresDoNotWaitForEvents) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId id = driver.command(op(), 50);
    driver.publish(10, 20, 10, {"x"});
    driver.run_until(50);
    // The timeout has no event index: the event waits until nothing is outstanding.
    EXPECT_EQ(trace(driver.take_deliveries()),
              (std::vector<std::string>{"r" + std::to_string(id), "e20:x"}));
}

// --- reconnecting ----------------------------------------------------------------------------

TEST(SessionCoreReconnect, EverythingInFlightGoesAgainWithAKeepAliveAndAReset) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.command(op("put", "1"));
    driver.command(op("put", "2"));
    driver.command(op("put", "3"));
    driver.query(op("get"));
    const auto commands = driver.take<CommandRequest>();
    driver.receive(operation_answer(commands[0].request_id, 11));
    driver.receive(error_answer(commands[2].request_id, ErrorCode::no_leader));  // backing off
    driver.take_requests();
    driver.reconnected();
    const auto requests = driver.take_requests();
    ASSERT_EQ(requests.size(), 5u);
    EXPECT_EQ(std::get<KeepAliveRequest>(requests[0].request).sessions,
              (std::vector<KeepAliveItem>{{10, 1, 10}}));
    EXPECT_EQ(std::get<ResetRequest>(requests[1].request).index, 10u);
    const auto& second = std::get<CommandRequest>(requests[2].request);
    EXPECT_EQ(second.sequence, 2u);
    EXPECT_EQ(second.operation, op("put", "2"));
    EXPECT_EQ(std::get<CommandRequest>(requests[3].request).sequence, 3u);
    EXPECT_EQ(std::get<QueryRequest>(requests[4].request).sequence, 3u);
}

TEST(SessionCoreReconnect, WhileRegisteringTheRegisterGoesAgain) {
    CoreDriver driver(test_options());
    driver.open();
    driver.take_requests();
    driver.reconnected();
    const auto requests = driver.take_requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<RegisterRequest>(requests[0].request));
}

TEST(SessionCoreReconnect, WhileClosingTheUnregisterGoesAgain) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.close();
    driver.take_requests();
    driver.reconnected();
    const auto requests = driver.take_requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(std::get<UnregisterRequest>(requests[0].request).session, 10u);
}

// --- closing ---------------------------------------------------------------------------------

TEST(SessionCoreClose, PendingOperationsFailAndTheSessionIsUnregistered) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    const OperationId id = driver.command(op());
    const uint64_t command = driver.take<CommandRequest>().at(0).request_id;
    driver.close();
    auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].id, id);
    EXPECT_EQ(results[0].error, ErrorCode::unknown_session);
    EXPECT_EQ(results[0].message, "session closed");
    const auto unregisters = driver.take<UnregisterRequest>();
    ASSERT_EQ(unregisters.size(), 1u);
    EXPECT_EQ(unregisters[0].request.session, 10u);
    driver.command(op());  // refused while closing
    EXPECT_EQ(driver.delivered<OperationResult>().at(0).error, ErrorCode::unknown_session);

    driver.receive(answer(unregisters[0].request_id, session::UnregisterResponse{}));
    EXPECT_EQ(driver.core().state(), SessionState::closed);
    EXPECT_EQ(states(driver.delivered<StateChange>()),
              std::vector<SessionState>{SessionState::closed});
    EXPECT_FALSE(driver.core().next_deadline_ms());
    driver.receive(operation_answer(command, 11));  // late
    driver.publish(10, 20, 10, {"x"});
    driver.run_for(100'000);
    EXPECT_TRUE(driver.take_requests().empty());  // copycat #336
    EXPECT_TRUE(driver.take_deliveries().empty());
}

TEST(SessionCoreClose, TheUnregisterIsRetriedUntilAnswered) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.close();
    uint64_t request_id = driver.take<UnregisterRequest>().at(0).request_id;
    driver.receive(error_answer(request_id, ErrorCode::no_leader));
    driver.run_for(20);
    request_id = driver.take<UnregisterRequest>().at(0).request_id;
    driver.run_for(300 + 40);  // unanswered: sent again after the backoff
    EXPECT_TRUE(driver.take_suspect());
    request_id = driver.take<UnregisterRequest>().at(0).request_id;
    EXPECT_TRUE(driver.take<KeepAliveRequest>().empty());  // keep-alives stopped
    driver.receive(error_answer(request_id, ErrorCode::unknown_session));
    EXPECT_EQ(driver.core().state(), SessionState::closed);
    EXPECT_NE(driver.delivered<StateChange>().at(0).reason.find("already ended"),
              std::string::npos);
}

TEST(SessionCoreClose, UnregisteringGivesUpAfterTheRegisterTimeout) {
    Opened opened;
    CoreDriver& driver = opened.driver;
    driver.close();
    driver.run_for(4'999);
    EXPECT_EQ(driver.core().state(), SessionState::open);
    driver.run_for(1);
    EXPECT_EQ(driver.core().state(), SessionState::closed);
    EXPECT_NE(driver.delivered<StateChange>().at(0).reason.find("could not unregister"),
              std::string::npos);
    driver.take_requests();
    driver.run_for(100'000);
    EXPECT_TRUE(driver.take_requests().empty());
}

TEST(SessionCoreClose, WhileConnectingItClosesAtOnce) {
    CoreDriver driver(test_options());
    driver.open();
    const OperationId id = driver.command(op());
    driver.close();
    EXPECT_EQ(driver.core().state(), SessionState::closed);
    EXPECT_EQ(ids(driver.delivered<OperationResult>()), std::vector<OperationId>{id});
    EXPECT_FALSE(driver.core().next_deadline_ms());
}

// --- expiry and recovery ---------------------------------------------------------------------

TEST(SessionCoreRecover, AnExpiredSessionIsReplacedByANewOne) {
    SessionCoreOptions options = test_options();
    options.recover = true;
    Opened opened(options);
    CoreDriver& driver = opened.driver;
    const OperationId lost = driver.command(op());
    driver.receive(
        error_answer(driver.take<CommandRequest>().at(0).request_id, ErrorCode::unknown_session));
    EXPECT_EQ(trace(driver.take_deliveries()),
              (std::vector<std::string>{"s:expired", "r" + std::to_string(lost), "s:connecting"}));
    EXPECT_EQ(driver.core().state(), SessionState::connecting);
    const OperationId next = driver.command(op("put", "again"));
    driver.receive(
        answer(driver.take<RegisterRequest>().at(0).request_id, RegisterResponse{20, 1'000}));
    const auto changes = driver.delivered<StateChange>();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].state, SessionState::open);
    EXPECT_EQ(changes[0].session, 20u);
    const auto commands = driver.take<CommandRequest>();
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(commands[0].request.session, 20u);
    EXPECT_EQ(commands[0].request.sequence, 1u);
    driver.receive(operation_answer(commands[0].request_id, 21, 20));
    EXPECT_EQ(ids(driver.delivered<OperationResult>()), std::vector<OperationId>{next});
}

// --- request ids -----------------------------------------------------------------------------

TEST(SessionCoreRequestIds, StayInTheCoresRangeAndWrapAroundIdsInUse) {
    SessionCoreOptions options = test_options();
    options.request_id_base = 1'000;
    options.request_id_range = 5;  // ids 1001..1004
    CoreDriver driver(options);
    EXPECT_FALSE(driver.core().owns(1'000));
    EXPECT_TRUE(driver.core().owns(1'001));
    EXPECT_TRUE(driver.core().owns(1'004));
    EXPECT_FALSE(driver.core().owns(1'005));
    EXPECT_FALSE(driver.core().owns(0));

    driver.open_session();
    driver.command(op());
    driver.command(op());
    driver.command(op());
    std::vector<uint64_t> used;
    for (const auto& sent : driver.take<CommandRequest>()) used.push_back(sent.request_id);
    EXPECT_EQ(used, (std::vector<uint64_t>{1'002, 1'003, 1'004}));
    driver.receive(operation_answer(1'003, 12));
    driver.command(op());  // wraps past 1001 (free: the register is done) ...
    driver.command(op());  // ... and past 1002, still in use, to 1003
    used.clear();
    for (const auto& sent : driver.take<CommandRequest>()) used.push_back(sent.request_id);
    EXPECT_EQ(used, (std::vector<uint64_t>{1'001, 1'003}));
}

TEST(SessionCoreRequestIds, AnswersOutsideTheRangeAreIgnored) {
    SessionCoreOptions options = test_options();
    options.request_id_base = 1'000;
    options.request_id_range = 1'000;
    CoreDriver driver(options);
    driver.open();
    const uint64_t request_id = driver.take<RegisterRequest>().at(0).request_id;
    EXPECT_EQ(request_id, 1'001u);
    driver.receive(answer(request_id - 1'000, RegisterResponse{10, 1'000}));
    driver.receive(answer(request_id + 1'000, RegisterResponse{10, 1'000}));
    EXPECT_EQ(driver.core().state(), SessionState::connecting);
}

// --- floods and garbage ----------------------------------------------------------------------

// copycat #256: a flood of asynchronous commands completes without recursion, in order.
TEST(SessionCoreFlood, OneHundredThousandCommandsCompleteInOrder) {
    constexpr size_t count = 100'000;
    Opened opened;
    CoreDriver& driver = opened.driver;
    for (size_t i = 0; i < count; ++i) driver.command(op());
    const auto commands = driver.take<CommandRequest>();
    ASSERT_EQ(commands.size(), count);
    for (size_t i = count; i-- > 0;) {  // the worst order: everything waits for the first
        driver.receive(operation_answer(commands[i].request_id, 11 + i));
    }
    const auto results = driver.delivered<OperationResult>();
    ASSERT_EQ(results.size(), count);
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(results[i].id, i + 1);
    EXPECT_EQ(driver.core().pending(), 0u);
}

std::vector<session::Response> garbage_answers(uint64_t request_id) {
    using Body = decltype(session::Response::body);
    const uint64_t huge = std::numeric_limits<uint64_t>::max();
    const std::vector<Body> bodies = {
        std::monostate{},
        RegisterResponse{0, 0},
        RegisterResponse{huge, huge},
        session::KeepAliveResponse{},
        session::KeepAliveResponse{std::vector<ErrorCode>(3, ErrorCode::ok)},
        session::KeepAliveResponse{{static_cast<ErrorCode>(200)}},
        session::UnregisterResponse{},
        session::OperationResponse{huge, huge, Bytes(3, 7)},
    };
    std::vector<session::Response> answers;
    for (int code = 0; code <= 12; ++code) {
        for (const Body& body : bodies) {
            for (const uint64_t last_sequence : {uint64_t{0}, huge}) {
                session::Response response;
                response.request_id = request_id;
                response.error = static_cast<ErrorCode>(code == 12 ? 200 : code);
                response.last_sequence = last_sequence;
                response.body = body;
                answers.push_back(response);
            }
        }
    }
    return answers;
}

// A core with a request of the given kind (its index in session::Request) in flight, with a
// command and a query pending; returns the request's id.
uint64_t in_flight(CoreDriver& driver, size_t kind) {
    if (kind == 0) {
        driver.open();
    } else {
        driver.open_session();
    }
    driver.command(op());
    driver.query(op("get"));
    driver.run_until(500);  // a keep-alive goes out
    if (kind == 2) driver.close();
    uint64_t request_id = 0;
    for (const Outgoing& sent : driver.take_requests()) {
        if (sent.request.index() == kind) request_id = sent.request_id;
    }
    return request_id;
}

// Every kind of answer, well formed or not, to every kind of request: the core never crashes,
// its timers keep terminating, and it still delivers each result once, in order.
TEST(SessionCoreGarbage, NoAnswerBreaksTheCore) {
    // register, keep-alive, unregister, command, query
    for (const size_t kind : {0, 1, 2, 3, 4}) {
        for (session::Response response : garbage_answers(0)) {
            CoreDriver driver(test_options());
            response.request_id = in_flight(driver, kind);
            ASSERT_NE(response.request_id, 0u) << "kind " << kind;
            driver.receive(response);
            driver.publish(10, std::numeric_limits<Index>::max(), 10, {"big"});
            driver.run_for(60'000);
            const auto results = driver.delivered<OperationResult>();
            ASSERT_EQ(results.size(), 2u) << "kind " << kind;
            EXPECT_EQ(ids(results), (std::vector<OperationId>{1, 2}));
        }
    }
}

TEST(SessionCoreGarbage, RandomAnswersToRandomRequests) {
    for (uint64_t seed = 1; seed <= 50; ++seed) {
        std::mt19937_64 random(seed);
        Opened opened;
        CoreDriver& driver = opened.driver;
        std::vector<uint64_t> request_ids{0, 1, 2};
        const auto answers = garbage_answers(0);
        OperationId submitted = 0;
        for (int step = 0; step < 400; ++step) {
            const uint64_t dice = random() % 10;
            if (dice < 3) submitted = driver.command(op(), random() % 2'000 + 1);
            if (dice == 3) submitted = driver.query(op("get"), Consistency::sequential);
            if (dice == 4) driver.reconnected();
            if (dice == 5) driver.publish(10, random() % 40 + 5, random() % 40 + 5, {"e"});
            for (const Outgoing& sent : driver.take_requests())
                request_ids.push_back(sent.request_id);
            session::Response response = answers[random() % answers.size()];
            response.request_id = request_ids[random() % request_ids.size()];
            driver.receive(response);
            driver.run_for(random() % 200);
        }
        driver.close();
        driver.run_for(100'000);
        EXPECT_EQ(driver.core().state(), SessionState::closed) << "seed " << seed;
        const auto results = driver.delivered<OperationResult>();
        ASSERT_EQ(results.size(), submitted) << "seed " << seed;
        for (size_t i = 0; i < results.size(); ++i) ASSERT_EQ(results[i].id, i + 1);
        EXPECT_FALSE(driver.core().next_deadline_ms());
    }
}

}  // namespace
}  // namespace copycat::client
