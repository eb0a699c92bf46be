#include "common/curve.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "common/zmq_socket.h"

namespace copycat {
namespace {

using namespace std::chrono_literals;

class CurveKeysTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("curve-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name) << text;
        return dir_ / name;
    }

    std::filesystem::path dir_;
};

TEST_F(CurveKeysTest, AWrittenPairLoadsBackAndItsPubFileIsAKeysFile) {
    Result<CurveKeyPair> pair = generate_curve_key_pair("node-1");
    ASSERT_TRUE(pair.is_ok()) << pair.status().message();
    EXPECT_EQ(pair->public_key.size(), 40u);
    ASSERT_TRUE(write_curve_key_pair(dir_, *pair).is_ok());

    Result<CurveKeyPair> loaded = load_curve_key_pair(dir_ / "node-1.key");
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
    EXPECT_EQ(loaded->name, "node-1");
    EXPECT_EQ(loaded->public_key, pair->public_key);
    EXPECT_EQ(loaded->secret_key, pair->secret_key);
    struct stat info {};
    ASSERT_EQ(::stat((dir_ / "node-1.key").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);

    Result<CurvePublicKeys> keys = load_curve_public_keys(dir_ / "node-1.pub");
    ASSERT_TRUE(keys.is_ok()) << keys.status().message();
    ASSERT_NE(keys->find("node-1"), nullptr);
    EXPECT_EQ(*keys->find("node-1"), pair->public_key);
    ASSERT_NE(keys->name_of(pair->public_key), nullptr);
    EXPECT_EQ(*keys->name_of(pair->public_key), "node-1");
}

TEST_F(CurveKeysTest, KeysAreNeverOverwritten) {
    Result<CurveKeyPair> first = generate_curve_key_pair("gateway");
    Result<CurveKeyPair> second = generate_curve_key_pair("gateway");
    ASSERT_TRUE(first.is_ok() && second.is_ok());
    ASSERT_TRUE(write_curve_key_pair(dir_, *first).is_ok());
    Status again = write_curve_key_pair(dir_, *second);
    EXPECT_FALSE(again.is_ok());
    EXPECT_NE(again.message().find("never overwritten"), std::string::npos) << again.message();
    EXPECT_EQ(load_curve_key_pair(dir_ / "gateway.key")->secret_key, first->secret_key);
}

TEST_F(CurveKeysTest, APairWhosePublicKeyIsNotItsSecretsIsRefused) {
    Result<CurveKeyPair> a = generate_curve_key_pair("a");
    Result<CurveKeyPair> b = generate_curve_key_pair("b");
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    auto path = write("mixed.key", "a " + b->public_key + " " + a->secret_key + "\n");
    Result<CurveKeyPair> loaded = load_curve_key_pair(path);
    ASSERT_FALSE(loaded.is_ok());
    EXPECT_NE(loaded.status().message().find("not the one of the secret key"), std::string::npos);
}

TEST_F(CurveKeysTest, BadNamesAndBadFilesSayWhatIsWrongAndWhere) {
    EXPECT_FALSE(generate_curve_key_pair("no spaces").is_ok());
    EXPECT_FALSE(generate_curve_key_pair("").is_ok());
    EXPECT_FALSE(load_curve_key_pair(dir_ / "missing.key").is_ok());

    Result<CurveKeyPair> a = generate_curve_key_pair("a");
    Result<CurveKeyPair> b = generate_curve_key_pair("b");
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    auto short_key = write("short.keys", "# clients\na " + a->public_key + "\n\nb tooshort\n");
    Result<CurvePublicKeys> keys = load_curve_public_keys(short_key);
    ASSERT_FALSE(keys.is_ok());
    EXPECT_NE(keys.status().message().find("short.keys:4"), std::string::npos)
        << keys.status().message();

    auto twice = write("twice.keys", "a " + a->public_key + "\na " + b->public_key + "\n");
    keys = load_curve_public_keys(twice);
    ASSERT_FALSE(keys.is_ok());
    EXPECT_NE(keys.status().message().find("listed twice"), std::string::npos);

    auto empty = write("empty.keys", "# nobody yet\n");
    EXPECT_FALSE(load_curve_public_keys(empty).is_ok());
}

// A CURVE server with the ZAP handler: a listed client's messages arrive, an unlisted one's
// never do, and the refusal is counted by link.
class ZapHandlerTest : public ::testing::Test {
protected:
    void SetUp() override {
        server_.own = *generate_curve_key_pair("server");
        server_.link = "clients";
        listed_ = *generate_curve_key_pair("listed");
        unlisted_ = *generate_curve_key_pair("unlisted");
        server_.admitted.by_name["listed"] = listed_.public_key;
        ASSERT_TRUE(zap_.bind().is_ok());
        zap_.admit(server_);
        make_curve_server(router_, server_);
        router_.bind("tcp://127.0.0.1:*");
        endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    }

    zmq::socket_t client(const CurveKeyPair& own, const std::string& id) {
        zmq::socket_t dealer = make_dealer(context_, id);
        make_curve_client(dealer, CurveClient{own, server_.own.public_key});
        dealer.connect(endpoint_);
        return dealer;
    }

    // Pumps the ZAP handler and the server for `how_long`; the payloads the server received.
    std::vector<std::string> pump(std::chrono::milliseconds how_long, size_t enough) {
        std::vector<std::string> received;
        const auto deadline = std::chrono::steady_clock::now() + how_long;
        while (std::chrono::steady_clock::now() < deadline && received.size() < enough) {
            zmq::pollitem_t items[] = {{zap_.socket().handle(), 0, ZMQ_POLLIN, 0},
                                       {router_.handle(), 0, ZMQ_POLLIN, 0}};
            zmq::poll(items, 2, 50ms);
            zap_.on_readable();
            while (auto message = try_receive(router_)) {
                received.push_back(message->payload.to_string());
            }
        }
        return received;
    }

    zmq::context_t context_{1};
    Metrics metrics_;
    ZapHandler zap_{context_, metrics_};
    CurveServer server_;
    CurveKeyPair listed_;
    CurveKeyPair unlisted_;
    zmq::socket_t router_ = make_router(context_);
    std::string endpoint_;
};

TEST_F(ZapHandlerTest, AListedKeyGetsInAndAnUnlistedOneIsRefusedAndCounted) {
    zmq::socket_t intruder = client(unlisted_, "intruder");
    HandshakeMonitor intruder_monitor(context_, intruder);
    zmq::socket_t friendly = client(listed_, "friendly");
    HandshakeMonitor friendly_monitor(context_, friendly);
    // A DEALER with immediate = 1 takes a send only once its connection is up (handshake
    // done): keep offering until one is taken or 5 s pass.
    bool friendly_sent = false;
    bool intruder_sent = false;
    std::vector<std::string> received;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline && !(friendly_sent && zap_.refused() > 0)) {
        if (!friendly_sent) friendly_sent = try_send(friendly, std::string_view("hello"));
        if (!intruder_sent) intruder_sent = try_send(intruder, std::string_view("evil"));
        for (std::string& payload : pump(50ms, 1)) received.push_back(std::move(payload));
    }
    ASSERT_TRUE(friendly_sent);
    for (std::string& payload : pump(500ms, 10)) received.push_back(std::move(payload));
    EXPECT_EQ(received, std::vector<std::string>{"hello"});
    EXPECT_FALSE(intruder_sent) << "the intruder's connection never came up";
    EXPECT_GE(zap_.refused(), 1u);
    const std::string text = metrics_.render();
    EXPECT_NE(text.find("copycat_auth_refused_total{link=\"clients\"} "), std::string::npos);
    EXPECT_EQ(text.find("copycat_auth_refused_total{link=\"clients\"} 0"), std::string::npos)
        << text;
    EXPECT_NE(text.find("copycat_auth_admitted_total{link=\"clients\"} 1"), std::string::npos);
    // The refused side is told why; the admitted one has nothing to say.
    std::vector<std::string> failures = intruder_monitor.take_failures();
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_NE(failures[0].find("refused this process's CURVE key (status 400)"), std::string::npos)
        << failures[0];
    EXPECT_TRUE(friendly_monitor.take_failures().empty());
}

TEST_F(ZapHandlerTest, AClientWithTheWrongServerKeyNeverGetsInAndIsTold) {
    zmq::socket_t dealer = make_dealer(context_, "confused");
    HandshakeMonitor monitor(context_, dealer);
    // The listed key pair, but the server's public key is another one.
    make_curve_client(dealer, CurveClient{listed_, unlisted_.public_key});
    dealer.connect(endpoint_);
    std::vector<std::string> failures;
    bool sent = false;
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < deadline && failures.empty()) {
        sent = sent || try_send(dealer, std::string_view("hello"));
        EXPECT_TRUE(pump(50ms, 1).empty());
        failures = monitor.take_failures();
    }
    EXPECT_FALSE(sent);
    EXPECT_FALSE(failures.empty()) << "the client was not told its handshake failed";
}

TEST_F(ZapHandlerTest, AServerOnALinkWithNoListIsRefusedToEveryone) {
    zmq::socket_t other = make_router(context_);
    CurveServer unlisted_link = server_;
    unlisted_link.link = "peers";  // never given to admit()
    make_curve_server(other, unlisted_link);
    other.bind("tcp://127.0.0.1:*");
    zmq::socket_t dealer = make_dealer(context_, "friendly");
    make_curve_client(dealer, CurveClient{listed_, server_.own.public_key});
    dealer.connect(other.get(zmq::sockopt::last_endpoint));
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    bool sent = false;
    while (std::chrono::steady_clock::now() < deadline && zap_.refused() == 0) {
        sent = sent || try_send(dealer, std::string_view("hello"));
        pump(50ms, 1);
    }
    EXPECT_FALSE(sent);
    EXPECT_GE(zap_.refused(), 1u);
    EXPECT_FALSE(try_receive(other).has_value());
}

}  // namespace
}  // namespace copycat
