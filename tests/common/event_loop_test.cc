#include "common/event_loop.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>

#include "common/zmq_socket.h"

namespace copycat {
namespace {

using namespace std::chrono_literals;
using Clock = EventLoop::Clock;

// A loop on a clock the test moves by hand, without signal handling.
class FakeClockLoopTest : public ::testing::Test {
protected:
    FakeClockLoopTest() : loop_(options()) {}

    EventLoop::Options options() {
        EventLoop::Options options;
        options.handle_termination_signals = false;
        options.now = [this] { return now_; };
        return options;
    }
    // Moves the clock to start + offset and runs one iteration without waiting.
    void run_at(Clock::duration offset) {
        now_ = start_ + offset;
        ASSERT_TRUE(loop_.run_once(0ms).is_ok());
    }
    EventLoop::Callback record(std::string name) {
        return [this, name] { fired_.push_back(name); };
    }

    const Clock::time_point start_ = Clock::time_point(1000h);
    Clock::time_point now_ = start_;
    EventLoop loop_;
    std::vector<std::string> fired_;
};

TEST_F(FakeClockLoopTest, TimersFireInDueOrderNeverEarly) {
    loop_.add_timer(30ms, record("30"));
    loop_.add_timer(10ms, record("10a"));
    loop_.add_timer(20ms, record("20"));
    loop_.add_timer(10ms, record("10b"));
    run_at(9ms);
    EXPECT_TRUE(fired_.empty());
    run_at(15ms);
    EXPECT_EQ(fired_, (std::vector<std::string>{"10a", "10b"}));
    run_at(100ms);
    EXPECT_EQ(fired_, (std::vector<std::string>{"10a", "10b", "20", "30"}));
    run_at(200ms);
    EXPECT_EQ(fired_.size(), 4u) << "one-shot timers fire once";
}

TEST_F(FakeClockLoopTest, PeriodicTimersRepeatAndSkipMissedRuns) {
    loop_.add_periodic(10ms, record("tick"));
    run_at(10ms);
    run_at(20ms);
    EXPECT_EQ(fired_.size(), 2u);
    run_at(95ms);  // fell behind by several periods: one run, not a burst
    EXPECT_EQ(fired_.size(), 3u);
    run_at(104ms);
    EXPECT_EQ(fired_.size(), 3u);
    run_at(105ms);
    EXPECT_EQ(fired_.size(), 4u);
}

TEST_F(FakeClockLoopTest, CancelledTimersDoNotFire) {
    const EventLoop::TimerId one_shot = loop_.add_timer(10ms, record("one-shot"));
    const EventLoop::TimerId periodic = loop_.add_periodic(10ms, record("periodic"));
    EXPECT_TRUE(loop_.cancel(one_shot));
    EXPECT_TRUE(loop_.cancel(periodic));
    EXPECT_FALSE(loop_.cancel(one_shot));
    run_at(50ms);
    EXPECT_TRUE(fired_.empty());
}

TEST_F(FakeClockLoopTest, APeriodicTimerCanCancelItselfAndAnother) {
    EventLoop::TimerId self = 0, later = 0;
    self = loop_.add_periodic(10ms, [&] {
        fired_.push_back("self");
        loop_.cancel(self);
        loop_.cancel(later);
    });
    later = loop_.add_timer(10ms, record("later"));  // due with self, after it
    run_at(10ms);
    run_at(20ms);
    EXPECT_EQ(fired_, (std::vector<std::string>{"self"}));
}

TEST_F(FakeClockLoopTest, ATimerAddedByACallbackWaitsForTheNextIteration) {
    loop_.add_timer(10ms, [&] {
        fired_.push_back("first");
        loop_.add_timer(0ms, record("second"));
    });
    run_at(10ms);
    EXPECT_EQ(fired_, (std::vector<std::string>{"first"}));
    run_at(10ms);
    EXPECT_EQ(fired_, (std::vector<std::string>{"first", "second"}));
}

// Stops the loop and fails the test if a test's event never comes.
EventLoop::TimerId add_deadline(EventLoop& loop) {
    return loop.add_timer(5s, [&loop] {
        ADD_FAILURE() << "the event did not arrive within 5 s";
        loop.stop();
    });
}

TEST(EventLoop, RunsATimerOnTheRealClockAndStops) {
    EventLoop loop(EventLoop::Options{.handle_termination_signals = false});
    const Clock::time_point start = Clock::now();
    bool fired = false;
    loop.add_timer(20ms, [&] {
        fired = true;
        loop.stop();
    });
    add_deadline(loop);
    ASSERT_TRUE(loop.run().is_ok());
    EXPECT_TRUE(fired);
    EXPECT_GE(Clock::now() - start, 20ms) << "a timer never fires early";
}

TEST(EventLoop, WakesForTheHeartbeatWithNothingElseToDo) {
    EventLoop loop(
        EventLoop::Options{.heartbeat_interval = 5ms, .handle_termination_signals = false});
    const Clock::time_point start = Clock::now();
    ASSERT_TRUE(loop.run_once(1h).is_ok());
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_LT(loop.heartbeat().age(), 1s);
}

TEST(EventLoop, CallsASocketCallbackForAnInprocMessage) {
    zmq::context_t context;
    zmq::socket_t router = make_router(context);
    router.bind("inproc://event-loop-test");
    zmq::socket_t dealer = make_dealer(context, "node-2");
    dealer.connect("inproc://event-loop-test");
    EventLoop loop(EventLoop::Options{.handle_termination_signals = false});
    std::string received;
    loop.add_socket(router, [&] {
        while (auto message = try_receive(router)) received = message->payload.to_string();
        loop.stop();
    });
    add_deadline(loop);
    ASSERT_TRUE(try_send(dealer, std::string_view("append")));
    ASSERT_TRUE(loop.run().is_ok());
    EXPECT_EQ(received, "append");
}

TEST(EventLoop, CallsAnFdCallbackWhenReadable) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    EventLoop loop(EventLoop::Options{.handle_termination_signals = false});
    char got = 0;
    loop.add_fd(fds[0], [&] {
        ASSERT_EQ(::read(fds[0], &got, 1), 1);
        loop.remove_fd(fds[0]);
        loop.stop();
    });
    add_deadline(loop);
    ASSERT_EQ(::write(fds[1], "x", 1), 1);
    ASSERT_TRUE(loop.run().is_ok());
    EXPECT_EQ(got, 'x');
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST(EventLoop, SigtermStopsTheLoop) {
    EventLoop loop;
    add_deadline(loop);
    bool ran_after_signal = false;
    loop.add_timer(0ms, [&] {
        ASSERT_EQ(std::raise(SIGTERM), 0);  // blocked: waits in the signalfd
        ran_after_signal = true;
    });
    ASSERT_TRUE(loop.run().is_ok());
    EXPECT_TRUE(ran_after_signal);
}

TEST(EventLoop, OnTerminationReceivesTheSignal) {
    EventLoop loop;
    add_deadline(loop);
    int received = 0;
    loop.on_termination([&](int signal_number) {
        received = signal_number;
        loop.stop();
    });
    ASSERT_EQ(std::raise(SIGINT), 0);
    ASSERT_TRUE(loop.run().is_ok());
    EXPECT_EQ(received, SIGINT);
}

}  // namespace
}  // namespace copycat
