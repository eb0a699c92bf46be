#include "common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>

namespace copycat {
namespace {

using namespace std::chrono_literals;

struct HttpResponse {
    int status_code = 0;
    std::string headers;
    std::string body;
};

// A blocking HTTP/1.1 GET over loopback, enough to see what a scraper or a probe sees.
HttpResponse http_get(uint16_t port, const std::string& target) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    HttpResponse response;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return response;
    }
    const std::string request =
        "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    EXPECT_EQ(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
    std::string raw;
    char buffer[4096];
    for (ssize_t got; (got = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) raw.append(buffer, got);
    ::close(fd);
    const size_t header_end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.1 ", 0) != 0 || header_end == std::string::npos) return response;
    response.status_code = std::stoi(raw.substr(9, 3));
    response.headers = raw.substr(0, header_end);
    response.body = raw.substr(header_end + 4);
    return response;
}

class HttpServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        Result<std::unique_ptr<HttpServer>> started =
            HttpServer::start({"127.0.0.1:0", std::chrono::seconds(5), 2}, metrics_, heartbeat_);
        ASSERT_TRUE(started.is_ok()) << started.status().to_string();
        server_ = std::move(started.value());
        ASSERT_NE(server_->port(), 0);
    }
    HttpResponse get(const std::string& target) { return http_get(server_->port(), target); }

    Metrics metrics_;
    Heartbeat heartbeat_;
    std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, MetricsServesPrometheusText) {
    metrics_.counter("copycat_test_requests_total", "Test.").Increment(3);
    const HttpResponse response = get("/metrics");
    EXPECT_EQ(response.status_code, 200);
    EXPECT_NE(response.headers.find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
        << response.headers;
    EXPECT_NE(response.body.find("copycat_build_info{version="), std::string::npos);
    EXPECT_NE(response.body.find("copycat_test_requests_total 3"), std::string::npos);
}

TEST_F(HttpServerTest, LivezFollowsTheHeartbeat) {
    heartbeat_.beat();
    HttpResponse response = get("/livez");
    EXPECT_EQ(response.status_code, 200);
    EXPECT_EQ(response.body, "ok\n");

    heartbeat_.beat(Heartbeat::Clock::now() - 60s);  // a loop stuck for a minute
    response = get("/livez");
    EXPECT_EQ(response.status_code, 503);
    EXPECT_NE(response.body.find("limit 5s"), std::string::npos) << response.body;
}

TEST_F(HttpServerTest, ReadyzPassesWhenEveryCheckPasses) {
    server_->add_readiness_check("data-dir-writable", [] { return Status::ok(); });
    EXPECT_EQ(get("/readyz").status_code, 200);
    EXPECT_EQ(get("/readyz").body, "ok\n");
    const HttpResponse verbose = get("/readyz?verbose");
    EXPECT_EQ(verbose.status_code, 200);
    EXPECT_EQ(verbose.body, "[+]data-dir-writable ok\nreadyz check passed\n");
}

TEST_F(HttpServerTest, ReadyzFailsAndSaysWhichCheckFailed) {
    std::atomic<bool> has_leader{false};
    server_->add_readiness_check("logstore", [] { return Status::ok(); });
    server_->add_readiness_check("leader", [&] {
        return has_leader ? Status::ok() : Status(StatusCode::unavailable, "no leader known");
    });
    const HttpResponse response = get("/readyz?verbose=1");
    EXPECT_EQ(response.status_code, 503);
    EXPECT_EQ(response.body,
              "[+]logstore ok\n[-]leader failed: no leader known\nreadyz check failed\n");
    has_leader = true;
    EXPECT_EQ(get("/readyz").status_code, 200);
}

TEST_F(HttpServerTest, ACheckThatThrowsCountsAsFailed) {
    server_->add_readiness_check("broken", []() -> Status { throw std::runtime_error("boom"); });
    const HttpResponse response = get("/readyz");
    EXPECT_EQ(response.status_code, 503);
    EXPECT_NE(response.body.find("[-]broken failed: check threw: boom"), std::string::npos);
}

TEST_F(HttpServerTest, UnknownPathIsNotFound) { EXPECT_EQ(get("/nothing-here").status_code, 404); }

TEST_F(HttpServerTest, APortInUseIsAClearError) {
    const std::string address = "127.0.0.1:" + std::to_string(server_->port());
    Result<std::unique_ptr<HttpServer>> second =
        HttpServer::start({address, std::chrono::seconds(5), 1}, metrics_, heartbeat_);
    ASSERT_FALSE(second.is_ok());
    EXPECT_EQ(second.status().code(), StatusCode::unavailable);
    EXPECT_NE(second.status().message().find(address), std::string::npos);
    EXPECT_NE(second.status().message().find("in use"), std::string::npos)
        << second.status().message();
}

TEST_F(HttpServerTest, StopsPromptly) {
    const auto start = std::chrono::steady_clock::now();
    server_.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "civetweb alone takes up to 2 s";
}

TEST(HttpListenAddress, MustBeHostAndPort) {
    EXPECT_TRUE(check_listen_address("127.0.0.1:9201").is_ok());
    EXPECT_TRUE(check_listen_address("[::1]:9201").is_ok());
    EXPECT_FALSE(check_listen_address("9201").is_ok());
    EXPECT_FALSE(check_listen_address(":9201").is_ok());
    EXPECT_FALSE(check_listen_address("127.0.0.1:").is_ok());
    EXPECT_FALSE(check_listen_address("127.0.0.1:70000").is_ok());
    EXPECT_FALSE(check_listen_address("127.0.0.1:http").is_ok());
}

}  // namespace
}  // namespace copycat
