#include "consensus/server/consensus_metrics.h"

namespace copycat::server {

ConsensusMetrics::ConsensusMetrics(Metrics& m)
    : has_leader(m.gauge("copycat_server_has_leader", "1 if this member knows a leader")),
      is_leader(m.gauge("copycat_server_is_leader", "1 if this member is the leader")),
      leader_changes_seen_total(m.counter("copycat_server_leader_changes_seen_total",
                                          "Changes of leader this member has seen")),
      term(m.gauge("copycat_server_term", "The current Raft term")),
      commit_index(m.gauge("copycat_server_commit_index", "The commit index")),
      applied_index(m.gauge("copycat_server_applied_index", "The last applied index")),
      proposals_committed_total(
          m.counter("copycat_server_proposals_committed_total", "Entries applied by this member")),
      proposals_failed_total(
          m.counter("copycat_server_proposals_failed_total",
                    "Client requests refused or lost by consensus (not by the state machine)")),
      member_type(m.gauge_family("copycat_server_member_type",
                                 "1 for this member's type in its configuration")),
      sessions_open(m.gauge("copycat_sessions_open", "Live client sessions")),
      session_expired_total(
          m.counter("copycat_session_expired_total", "Sessions expired (applied here)")),
      session_events_pending(m.gauge("copycat_session_events_pending",
                                     "Event batches kept until their clients acknowledge them")),
      requests_total(
          m.counter_family("copycat_server_requests_total", "Answers to client requests, by code")),
      queries_total(
          m.counter_family("copycat_server_queries_total", "Queries served, by consistency")),
      snapshot_index(m.gauge("copycat_snapshot_index", "Index of the newest durable snapshot")),
      snapshots_taken_total(m.counter("copycat_snapshots_taken_total",
                                      "Snapshots of the state machine taken here and stored")),
      snapshots_installed_total(m.counter("copycat_snapshots_installed_total",
                                          "Snapshots received from a leader and stored")),
      snapshot_write_duration_seconds(
          m.histogram("copycat_snapshot_write_duration_seconds",
                      "Writing a snapshot file durably (write, fdatasync, rename, folder fsync)",
                      duration_buckets_seconds())),
      snapshot_bytes(m.gauge("copycat_snapshot_bytes", "Size of the newest durable snapshot")) {}

}  // namespace copycat::server
