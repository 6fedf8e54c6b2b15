// A fake Ometria push API (POST /v2/push, per /work/shared/OMETRIA_API.md) for tests, benchmarks and compose:
// plain HTTP or TLS on 127.0.0.1 port 0, scriptable per test (429 with or without Retry-After, 500, 401/403 for
// a key, slow answers, held answers, dropped connections, extra headers), recording every accepted record with
// its key. GET /v2/push/_errors lists, per key, the last 100 records accepted and then rejected (reject_later).
// It runs its own threads; every accessor is thread-safe and the wait_* calls block with a timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace omt::testing {

// A throw-away directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Certificates made at test time with OpenSSL (EC P-256, SHA-256), all PEM files in one directory.
struct TestPki {
  std::string ca_file;                 // the test CA to trust
  std::string server_cert_file;        // for localhost, 127.0.0.1 and ::1, signed by the test CA
  std::string server_key_file;
  std::string wrong_host_cert_file;    // for wrong-host.invalid only, signed by the test CA
  std::string wrong_host_key_file;
  std::string untrusted_cert_file;     // for localhost and 127.0.0.1, signed by a CA nobody trusts
  std::string untrusted_key_file;
};
// Writes ca.pem, cert.pem, key.pem, wrong-host-cert.pem, wrong-host-key.pem, untrusted-cert.pem,
// untrusted-key.pem into dir (which must exist). extra_server_names (host names, e.g. a compose service name)
// are added to the names cert.pem is valid for. Throws std::runtime_error on failure.
TestPki make_test_pki(const std::string& dir, const std::vector<std::string>& extra_server_names = {});

// One scripted answer, used by the first request that matches it (only_for_key empty: any request).
struct ScriptedAnswer {
  enum class Kind {
    answer,            // answer with `status` (0: handle normally: auth, validation, 202) after `delay`
    drop,              // close the connection without an answer; records are not accepted
    accept_then_drop,  // accept the records, then close without an answer (the push's ack is lost)
  };
  Kind kind = Kind::answer;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // added to the answer
  std::optional<std::string> body;                            // default: a JSON body fitting the status
  std::chrono::milliseconds delay{0};
  std::string only_for_key;

  static ScriptedAnswer with_status(int status, std::optional<std::string> retry_after = std::nullopt);
  static ScriptedAnswer dropped();
  static ScriptedAnswer slow(std::chrono::milliseconds delay);  // a normal answer, late
};

struct ReceivedRecord {
  std::string api_key;
  std::string type;  // "@type", "" if absent
  std::string id;    // "id" as text, "" if absent
  std::string json;  // the record, re-serialised compactly
  std::uint64_t push = 0;  // the number of the push that carried it (ReceivedPush::number)
};

struct ReceivedPush {
  std::uint64_t number = 0;  // 1, 2, ... in order of acceptance
  std::string api_key;
  std::size_t records = 0;
  std::vector<std::string> types;  // distinct "@type" values in the push (Ometria wants exactly one)
  std::uint64_t connection = 0;
  std::string request_id;
};

struct RequestSeen {
  std::string api_key;
  std::string method;
  std::string target;
  std::string content_type;
  std::string user_agent;
  std::string server_name;  // SNI sent by the client ("" for plain HTTP or none)
  std::uint64_t connection = 0;
  int status = 0;  // the answer; 0 when the connection was dropped instead
  std::size_t body_bytes = 0;
  std::chrono::steady_clock::time_point received{};  // when the whole request had been read
};

struct FakeOmetriaOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  std::vector<std::string> keys;  // accepted X-Ometria-Auth values; anything else gets 401
  bool tls = false;
  std::string cert_file;  // PEM chain and key for TLS
  std::string key_file;
  std::size_t max_records = 100;            // per push; more: 413
  std::size_t max_record_bytes = 60 * 1024;  // per record; more: 400 "Payload invalid: Record is too large."
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::chrono::milliseconds idle_timeout{30000};  // a keep-alive connection without a request is closed
  int threads = 1;
  bool keep_records = true;  // false: only count (and call on_push), for long benchmark runs
  // Ometria's rate limit (OMETRIA_API.md): more than this many pushes of one key within a second are answered
  // 429 with Retry-After: 1 (0: no limit).
  std::size_t rate_limit = 0;
  // Called for every accepted push with its records, on a server thread, outside the fake's lock.
  std::function<void(const ReceivedPush&, const std::vector<ReceivedRecord>&)> on_push;
};

class FakeOmetria {
 public:
  explicit FakeOmetria(FakeOmetriaOptions options);  // listening when it returns; throws if it cannot
  ~FakeOmetria();
  FakeOmetria(const FakeOmetria&) = delete;
  FakeOmetria& operator=(const FakeOmetria&) = delete;

  unsigned short port() const;
  std::string url() const;  // http(s)://127.0.0.1:<port>/v2/push

  // Scripting; each call affects requests read after it returns.
  void script(ScriptedAnswer answer);
  void set_key_status(const std::string& key, int status);  // e.g. 401/403 for every push with this key
  void clear_key_status(const std::string& key);
  // Every push (after per-key statuses and scripted answers) answered with `status` (0: handle normally),
  // with Retry-After when given. For rehearsing outages from the command line (fake-ometria --status).
  void set_status_for_every_push(int status, std::optional<std::string> retry_after = std::nullopt);
  void set_extra_headers(std::vector<std::pair<std::string, std::string>> headers);  // on every answer
  void set_delay(std::chrono::milliseconds delay);  // before every answer
  // A record with this id is accepted (counted in "accepted") and then rejected, as Ometria's asynchronous
  // validation does: each push of it adds an entry to its key's GET /v2/push/_errors list.
  void reject_later(const std::string& record_id, const std::string& message, const std::string& path = "root");
  // Entries rejected from now on: {"error_message","error_path"} as documented (the default), or (true) also
  // record_id, request_id, record_type and time_stamp, the fields whose presence is UNVERIFIED.
  void list_errors_with_ids(bool with_ids);
  void hold_answers();     // requests are read, then wait (counted by held()) until release_answers()
  void release_answers();  // also lets go of any held request

  // Observations.
  std::vector<ReceivedRecord> records() const;
  std::vector<ReceivedPush> pushes() const;
  std::vector<RequestSeen> requests() const;
  std::size_t record_count() const;
  std::size_t request_count() const;
  std::size_t connections_accepted() const;
  std::size_t held() const;
  std::size_t max_concurrent_requests() const;  // most requests between read and answer at once
  std::size_t error_polls() const;              // GET /v2/push/_errors answered 200
  std::size_t rate_limited() const;             // pushes answered 429 for the rate limit
  // Pushes received per key per wall-clock second (unix seconds), the 429s for the rate limit included; the
  // last 300 seconds of each key. Also answered over HTTP: GET /_fake/rates.
  std::map<std::string, std::map<std::int64_t, std::size_t>> pushes_per_second() const;

  bool wait_for_records(std::size_t count, std::chrono::milliseconds timeout) const;
  bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const;
  bool wait_for_held(std::size_t count, std::chrono::milliseconds timeout) const;

  void stop();  // closes everything now; also done by the destructor

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace omt::testing
