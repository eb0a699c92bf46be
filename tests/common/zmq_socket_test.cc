#include "common/zmq_socket.h"

#include <gtest/gtest.h>

#include <chrono>

namespace copycat {
namespace {

using namespace std::chrono_literals;

// Waits (polling, up to 5 s) for a message on `socket`.
std::optional<ReceivedMessage> receive_within_5s(zmq::socket_t& socket) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto message = try_receive(socket)) return message;
        zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, 100ms);
    }
    return std::nullopt;
}

// Sends to node-1 until it is taken (polling, up to 5 s).
bool eventually_sent(zmq::socket_t& router) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (try_send_result(router, std::string_view("node-1"), std::string_view("again")) ==
            SendResult::sent) {
            return true;
        }
        zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLOUT, 0};
        zmq::poll(&item, 1, 100ms);
    }
    return false;
}

class ZmqSocketTest : public ::testing::Test {
protected:
    void SetUp() override {
        router_.bind("inproc://zmq-socket-test");
        dealer_.connect("inproc://zmq-socket-test");
    }

    zmq::context_t context_;
    zmq::socket_t router_ = make_router(context_, {.router_mandatory = true});
    zmq::socket_t dealer_ = make_dealer(context_, "node-2");
};

TEST_F(ZmqSocketTest, RouterSeesTheDealersNodeIdAndCanAnswerIt) {
    ASSERT_TRUE(try_send(dealer_, std::string("vote request")));
    auto request = receive_within_5s(router_);
    ASSERT_TRUE(request.has_value());
    ASSERT_EQ(request->routing_frames.size(), 1u);
    EXPECT_EQ(request->routing_frames[0].to_string(), "node-2");
    EXPECT_EQ(request->payload.to_string(), "vote request");

    ASSERT_TRUE(try_send(router_, request->routing_frames[0], std::string_view("vote granted")));
    auto reply = receive_within_5s(dealer_);
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(reply->routing_frames.empty());
    EXPECT_EQ(reply->payload.to_string(), "vote granted");
}

TEST_F(ZmqSocketTest, EmptyDelimiterFramesCountAsRouting) {
    ASSERT_TRUE(try_send(dealer_, std::string_view(""), std::string_view("payload")));
    auto message = receive_within_5s(router_);
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ(message->routing_frames.size(), 2u);
    EXPECT_EQ(message->payload.to_string(), "payload");
}

TEST_F(ZmqSocketTest, NothingWaitingGivesNothing) {
    EXPECT_FALSE(try_receive(router_).has_value());
}

TEST_F(ZmqSocketTest, SendingToAnUnknownPeerReturnsFalseWithRouterMandatory) {
    EXPECT_FALSE(try_send(router_, std::string_view("node-9"), std::string_view("hello")));
}

// A mandatory ROUTER refuses both a gone peer and a slow one; try_send_result tells them apart
// (the client port forgets only the first: ClientPort::send_bytes).
TEST(ZmqSocket, AMandatoryRouterSaysWhetherAPeerIsGoneOrOnlySlow) {
    zmq::context_t context;
    zmq::socket_t router = make_router(
        context,
        {.send_high_water_mark = 2, .receive_high_water_mark = 2, .router_mandatory = true});
    router.bind("inproc://mandatory-hwm-test");
    zmq::socket_t dealer =
        make_dealer(context, "node-1", {.send_high_water_mark = 2, .receive_high_water_mark = 2});
    dealer.connect("inproc://mandatory-hwm-test");
    ASSERT_TRUE(try_send(dealer, std::string_view("hello")));
    ASSERT_TRUE(receive_within_5s(router).has_value());

    EXPECT_EQ(try_send_result(router, std::string_view("node-9"), std::string_view("x")),
              SendResult::unreachable);
    int sent = 0;
    SendResult result = SendResult::sent;
    while (sent < 1000) {
        result = try_send_result(router, std::string_view("node-1"), std::string_view("event"));
        if (result != SendResult::sent) break;
        ++sent;
    }
    EXPECT_GT(sent, 0);
    EXPECT_LE(sent, 10) << "the dealer never reads, so sends must stop near the HWM";
    EXPECT_EQ(result, SendResult::would_block);
    // Once the slow peer reads, it takes messages again.
    while (try_receive(dealer)) {
    }
    EXPECT_TRUE(eventually_sent(router));
}

TEST(ZmqSocket, WithoutRouterMandatoryAnUnknownPeerIsASilentDrop) {
    zmq::context_t context;
    zmq::socket_t router = make_router(context);
    EXPECT_TRUE(try_send(router, std::string_view("node-9"), std::string_view("hello")));
}

TEST(ZmqSocket, ADealerWithNoConnectedPeerWouldBlock) {
    zmq::context_t context;
    zmq::socket_t dealer = make_dealer(context, "node-1");
    dealer.connect("tcp://127.0.0.1:1");  // nobody listens: immediate keeps nothing queued
    EXPECT_FALSE(try_send(dealer, std::string_view("append")));
}

TEST(ZmqSocket, TheHighWaterMarkTurnsSendsIntoDrops) {
    zmq::context_t context;
    zmq::socket_t router =
        make_router(context, {.send_high_water_mark = 2, .receive_high_water_mark = 2});
    router.bind("inproc://hwm-test");
    zmq::socket_t dealer =
        make_dealer(context, "node-1", {.send_high_water_mark = 2, .receive_high_water_mark = 2});
    dealer.connect("inproc://hwm-test");
    int sent = 0;
    while (sent < 1000 && try_send(dealer, std::string_view("entry"))) ++sent;
    EXPECT_GT(sent, 0);
    EXPECT_LE(sent, 10) << "the router never reads, so sends must start failing near the HWM";
}

TEST(ZmqSocket, OptionsAreSetAsConventionsAsk) {
    zmq::context_t context;
    zmq::socket_t dealer = make_dealer(context, "node-3", {.max_message_bytes = 1 << 20});
    EXPECT_EQ(dealer.get(zmq::sockopt::linger), 0);
    EXPECT_EQ(dealer.get(zmq::sockopt::sndhwm), 1000);
    EXPECT_EQ(dealer.get(zmq::sockopt::rcvhwm), 1000);
    EXPECT_EQ(dealer.get(zmq::sockopt::maxmsgsize), 1 << 20);
    EXPECT_EQ(dealer.get(zmq::sockopt::immediate), 1);
    EXPECT_EQ(dealer.get(zmq::sockopt::routing_id), "node-3");
    zmq::socket_t router = make_router(context);
    EXPECT_EQ(router.get(zmq::sockopt::linger), 0);
    EXPECT_EQ(router.get(zmq::sockopt::maxmsgsize), 64 * 1024 * 1024);
}

TEST(IpcEndpoint, AcceptsPathsThatFitInSunPath) {
    Result<std::string> endpoint = ipc_endpoint_for("data/node-1/logstore.sock");
    ASSERT_TRUE(endpoint.is_ok());
    EXPECT_EQ(*endpoint, "ipc://data/node-1/logstore.sock");
    EXPECT_TRUE(ipc_endpoint_for("/" + std::string(106, 'a')).is_ok());
}

TEST(IpcEndpoint, RefusesLongPathsWithTheLimit) {
    Result<std::string> endpoint = ipc_endpoint_for("/" + std::string(107, 'a'));
    ASSERT_FALSE(endpoint.is_ok());
    EXPECT_NE(endpoint.status().message().find("108 bytes"), std::string::npos);
    EXPECT_NE(endpoint.status().message().find("at most 107"), std::string::npos);
    EXPECT_FALSE(ipc_endpoint_for("").is_ok());
}

}  // namespace
}  // namespace copycat
