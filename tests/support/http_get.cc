#include "tests/support/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace copycat::testing {

namespace {

// A connected TCP socket to 127.0.0.1:port with send and receive timeouts, or -1.
int connect_local(int port, std::chrono::milliseconds timeout) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    timeval limit{static_cast<time_t>(timeout.count() / 1000),
                  static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

std::optional<std::string> http_get(int port, const std::string& path,
                                    std::chrono::milliseconds timeout) {
    const int fd = connect_local(port, timeout);
    if (fd < 0) return std::nullopt;
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
        ::close(fd);
        return std::nullopt;
    }
    std::string reply;
    char buffer[4096];
    for (ssize_t got; (got = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
        reply.append(buffer, static_cast<size_t>(got));
    }
    ::close(fd);
    const size_t body = reply.find("\r\n\r\n");
    if (!reply.starts_with("HTTP/1.") || reply.find(" 200 ") > reply.find("\r\n") ||
        body == std::string::npos) {
        return std::nullopt;
    }
    return reply.substr(body + 4);
}

double metric_sum(const std::string& text, const std::string& metric,
                  const std::vector<std::string>& labels) {
    double sum = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with(metric)) continue;
        const char next = line.size() > metric.size() ? line[metric.size()] : '\0';
        if (next != '{' && next != ' ') continue;  // another metric with this prefix
        bool matches = true;
        for (const std::string& label : labels) matches &= line.find(label) != std::string::npos;
        if (!matches) continue;
        sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
    return sum;
}

}  // namespace copycat::testing
