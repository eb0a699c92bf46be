// CURVE encryption and authentication for the links that cross hosts (peers, gateway↔node,
// client↔gateway), and the ZAP handler that admits only listed public keys.
//
// Keys are Z85 text (40 characters for 32 bytes), in two kinds of file that copycat-ctl keygen
// writes:
//   NAME.key  "NAME PUBLIC SECRET" on one line, mode 0600: a process's own key pair;
//   NAME.pub  "NAME PUBLIC": one entry of a keys file.
// A keys file lists public keys, one "NAME PUBLIC" a line (lines starting with '#' are
// comments; blank lines are allowed): `cat client-*.pub > clients.keys`. Nodes are named
// node-<id>: a node finds its peers' keys (and a gateway the nodes') by that name.
//
// On each link the side that binds is the CURVE server: it proves it holds the secret key
// matching the public key its clients were given, and the ZAP handler decides, by the
// client's public key, whether the connection is admitted. Refused connections are logged
// (once per key and address) and counted in copycat_auth_refused_total{link}; nothing a refused
// client sends is ever received.
#pragma once

#include <zmq.hpp>

#include <boost/program_options/variables_map.hpp>

#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"

namespace copycat {

struct CurveKeyPair {
    std::string name;
    std::string public_key;  // Z85
    std::string secret_key;  // Z85
};

// A fresh key pair named `name` (letters, digits, '-', '_', '.').
Result<CurveKeyPair> generate_curve_key_pair(const std::string& name);

// Reads a NAME.key file; checks that the public key is the one the secret key gives.
Result<CurveKeyPair> load_curve_key_pair(const std::filesystem::path& path);

// Writes DIR/NAME.key (mode 0600, refused if it exists) and DIR/NAME.pub.
Status write_curve_key_pair(const std::filesystem::path& dir, const CurveKeyPair& pair);

// Public keys by name, from a keys file. A name listed twice with different keys is refused.
struct CurvePublicKeys {
    std::map<std::string, std::string> by_name;  // name → Z85 public key

    const std::string* find(const std::string& name) const;
    // The name a public key is listed under, if it is.
    const std::string* name_of(const std::string& public_key) const;
};
Result<CurvePublicKeys> load_curve_public_keys(const std::filesystem::path& path);

// What the server side of one link needs: its own pair, the keys it admits, and the link's
// name (the ZAP domain, the `link` label of the refusal metric and the logs).
struct CurveServer {
    CurveKeyPair own;
    CurvePublicKeys admitted;
    std::string link;  // peers, gateways, clients
};

// What the client side of one link needs: its own pair and the server's public key.
struct CurveClient {
    CurveKeyPair own;
    std::string server_public_key;
};

// Call before bind(): the socket is a CURVE server on server.link's ZAP domain.
void make_curve_server(zmq::socket_t& socket, const CurveServer& server);
// Call before connect().
void make_curve_client(zmq::socket_t& socket, const CurveClient& client);

// The ZAP handler of one ZeroMQ context (ZeroMQ allows one, at inproc://zeromq.zap.01): it
// answers each handshake of a CURVE server socket of that context, admitting a client whose
// public key is listed for that socket's link. Bind it before any CURVE server socket binds:
// without a handler ZeroMQ admits every client. It runs on the event loop of the process
// (socket() readable → on_readable()).
class ZapHandler {
public:
    ZapHandler(zmq::context_t& context, Metrics& metrics);
    ZapHandler(const ZapHandler&) = delete;
    ZapHandler& operator=(const ZapHandler&) = delete;

    // Binds the handler's socket. Fails if another handler is bound in this context.
    Status bind();
    // The keys admitted on a link (a ZAP domain); a link not added admits nobody.
    void admit(const CurveServer& server);

    zmq::socket_t& socket() { return socket_; }
    void on_readable();

    uint64_t refused() const { return refused_; }

private:
    void answer(const std::string& domain, const std::string& address, const std::string& mechanism,
                const std::string& credential, zmq::message_t& request_id, zmq::message_t& version);

    zmq::socket_t socket_;
    std::map<std::string, CurvePublicKeys> admitted_;  // by link
    prometheus::Family<prometheus::Counter>& refused_total_;
    prometheus::Family<prometheus::Counter>& admitted_total_;
    uint64_t refused_ = 0;
};

// The files a process's CURVE flags name; an empty path is a flag not given (nullopt). Errors
// name the flag.
Result<std::optional<CurveKeyPair>> load_key_pair_flag(const std::string& path,
                                                       std::string_view flag);
Result<std::optional<CurvePublicKeys>> load_public_keys_flag(const std::string& path,
                                                             std::string_view flag);

// The handshakes of one connecting socket that failed (ZeroMQ's socket monitor), read without
// blocking: how the side that connects learns that it was refused, and why, where otherwise it
// would only see silence. Keep it no longer than the socket.
class HandshakeMonitor {
public:
    HandshakeMonitor(zmq::context_t& context, zmq::socket_t& socket);
    HandshakeMonitor(const HandshakeMonitor&) = delete;
    HandshakeMonitor& operator=(const HandshakeMonitor&) = delete;

    // What failed since the last call, said for people ("the server refused this process's
    // CURVE key"), one line per kind of failure; empty when nothing failed.
    std::vector<std::string> take_failures();

private:
    zmq::socket_t pair_;
};

// The family of copycat_auth_handshake_failures_total{link}: handshakes this process's
// connecting sockets saw fail.
prometheus::Family<prometheus::Counter>& handshake_failures_family(Metrics& metrics);

// Logs (once per peer and kind of failure) and counts in `failures` what `monitor` says
// failed; `peer` names the other end in the log.
void report_handshake_failures(HandshakeMonitor& monitor,
                               prometheus::Family<prometheus::Counter>& failures,
                               const std::string& link, const std::string& peer);

// A client's CURVE settings from its two flags, --curve-key (its pair) and
// --curve-gateway-key (the gateways' .pub file, one key): both or neither (nullopt).
Result<std::optional<CurveClient>> load_client_curve_flags(const std::string& key_path,
                                                           const std::string& gateway_key_path);

// A server process's CURVE flags: --curve-key into `key`, and each keys-file flag (named
// without its dashes) into its target. Flags not given leave nullopt; errors name the flag.
using CurveListFlag = std::pair<const char*, std::optional<CurvePublicKeys>*>;
Status load_curve_flags(const boost::program_options::variables_map& variables,
                        std::optional<CurveKeyPair>& key,
                        std::initializer_list<CurveListFlag> lists);

// The name node `id`'s key goes by in keys files: node-<id>.
std::string node_key_name(uint64_t id);

}  // namespace copycat
