// Ownership rounds in SQL. Two tables (schema version 3): delivery_instances, one row per live instance with its
// heartbeat, and key_owners, one claim per API key. A claim is this instance's while its row names it; another
// instance may take it once expires_at has passed. Keys are those with records, found by a skip scan over the
// records' (api_key, ...) index, so a round costs one index probe per key, not a pass over the records.
#include "key_owners.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace omt::queue::postgres {
namespace {

// Any constant, the same for every instance (apart from the migrations' lock).
constexpr const char* kRoundLock = "SELECT pg_advisory_xact_lock(7305481275112021)";

std::vector<std::string> texts_of(const Result& rows, int column) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) out.push_back(rows.text(r, column));
  return out;
}

}  // namespace

OwnershipPlan plan_ownership(const std::string& instance_id, UnixMillis now, const std::vector<std::string>& keys,
                             const std::vector<Claim>& claims, std::size_t live_instances) {
  OwnershipPlan plan;
  const std::set<std::string> with_records(keys.begin(), keys.end());
  std::set<std::string> mine, others, expired;
  for (const auto& c : claims) {
    if (with_records.count(c.api_key) == 0) continue;
    if (c.instance_id == instance_id) mine.insert(c.api_key);
    else if (c.expires_at > now) others.insert(c.api_key);
    else expired.insert(c.api_key);
  }
  plan.claimed_by_others.assign(others.begin(), others.end());
  const std::size_t live = std::max<std::size_t>(1, live_instances);
  plan.fair_share = (with_records.size() + live - 1) / live;
  plan.keep.assign(mine.begin(), mine.end());
  if (mine.size() > plan.fair_share) {
    // The last ones in key order: the same choice every round, so a key being drained stays the one given back.
    plan.to_give_back.assign(plan.keep.end() - static_cast<std::ptrdiff_t>(mine.size() - plan.fair_share),
                             plan.keep.end());
    return plan;
  }
  std::size_t need = plan.fair_share - mine.size();
  for (const auto& key : with_records) {
    if (need == 0) break;
    if (mine.count(key) != 0 || others.count(key) != 0) continue;
    plan.take.push_back(key);
    if (expired.count(key) != 0) plan.take_expired.push_back(key);
    --need;
  }
  return plan;
}

Expected<OwnedKeys> run_ownership_round(Connection& db, const OwnershipRound& round) {
  const UnixMillis expires_at = round.now + std::max<std::int64_t>(round.lease_timeout.count(), 1);
  if (auto r = db.exec(kRoundLock, "ownership: lock"); !r) return tl::unexpected(r.error());
  Params me;
  me.add(round.instance_id).add(round.now).add(expires_at);
  if (auto r = db.exec("INSERT INTO delivery_instances(instance_id, heartbeat_at, expires_at) VALUES($1, $2, $3)"
                       " ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = $2, expires_at = $3",
                       me, "ownership: heartbeat");
      !r)
    return tl::unexpected(r.error());
  Params now;
  now.add(round.now);
  if (auto r = db.exec("DELETE FROM delivery_instances WHERE expires_at <= $1", now, "ownership: forget dead instances");
      !r)
    return tl::unexpected(r.error());
  if (!round.give_back.empty()) {
    Params p;
    p.add(round.instance_id).add_array(round.give_back);
    if (auto r = db.exec("DELETE FROM key_owners WHERE instance_id = $1 AND api_key = ANY($2::text[])", p,
                         "ownership: give keys back");
        !r)
      return tl::unexpected(r.error());
  }
  auto keys = db.exec(
      "WITH RECURSIVE k(api_key) AS (SELECT MIN(api_key) FROM records"
      " UNION ALL SELECT (SELECT MIN(api_key) FROM records WHERE api_key > k.api_key) FROM k WHERE k.api_key IS NOT NULL)"
      " SELECT api_key FROM k WHERE api_key IS NOT NULL ORDER BY api_key",
      "ownership: list keys with records");
  if (!keys) return tl::unexpected(keys.error());
  const auto with_records = texts_of(*keys, 0);
  // Claims on keys without records go: this instance's, and expired ones (nothing to push, nothing to take over).
  Params stale;
  stale.add_array(with_records).add(round.instance_id).add(round.now);
  if (auto r = db.exec("DELETE FROM key_owners WHERE api_key <> ALL($1::text[]) AND (instance_id = $2 OR expires_at <= $3)",
                       stale, "ownership: drop claims of drained keys");
      !r)
    return tl::unexpected(r.error());
  auto live = db.exec("SELECT COUNT(*) FROM delivery_instances", "ownership: count live instances");
  if (!live) return tl::unexpected(live.error());
  auto rows = db.exec("SELECT api_key, instance_id, expires_at FROM key_owners", "ownership: read claims");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<Claim> claims;
  for (int r = 0; r < rows->rows(); ++r) claims.push_back(Claim{rows->text(r, 0), rows->text(r, 1), rows->integer(r, 2)});

  const auto plan = plan_ownership(round.instance_id, round.now, with_records, claims,
                                   static_cast<std::size_t>(live->integer(0, 0)));
  std::vector<std::string> owned = plan.keep;
  owned.insert(owned.end(), plan.take.begin(), plan.take.end());
  std::sort(owned.begin(), owned.end());
  if (!owned.empty()) {
    Params p;
    p.add_array(owned).add(round.instance_id).add(round.now).add(expires_at);
    if (auto r = db.exec(
            "INSERT INTO key_owners(api_key, instance_id, claimed_at, expires_at)"
            " SELECT k, $2, $3, $4 FROM unnest($1::text[]) AS k"
            " ON CONFLICT (api_key) DO UPDATE SET instance_id = EXCLUDED.instance_id, expires_at = EXCLUDED.expires_at,"
            " claimed_at = CASE WHEN key_owners.instance_id = EXCLUDED.instance_id THEN key_owners.claimed_at"
            " ELSE EXCLUDED.claimed_at END",
            p, "ownership: claim and renew");
        !r)
      return tl::unexpected(r.error());
  }
  if (!plan.take_expired.empty()) {
    // The dead instance pushes nothing any more (it never pushes once its claim has expired): what it had leased
    // is due again now, not when those leases end.
    Params p;
    p.add_array(plan.take_expired);
    if (auto r = db.exec("DELETE FROM record_leases WHERE api_key = ANY($1::text[])", p,
                         "ownership: end a dead instance's leases");
        !r)
      return tl::unexpected(r.error());
  }
  OwnedKeys out;
  out.owned = std::move(owned);
  out.taken_over = plan.take;
  out.taken_from_expired = plan.take_expired;
  out.to_give_back = plan.to_give_back;
  out.claimed_by_others = plan.claimed_by_others;
  out.live_instances = static_cast<std::size_t>(live->integer(0, 0));
  out.keys = with_records.size();
  out.fair_share = plan.fair_share;
  return out;
}

Expected<void> resign_ownership(Connection& db, const std::string& instance_id) {
  Params p;
  p.add(instance_id);
  if (auto r = db.exec("DELETE FROM key_owners WHERE instance_id = $1", p, "ownership: give every key back"); !r)
    return tl::unexpected(r.error());
  if (auto r = db.exec("DELETE FROM delivery_instances WHERE instance_id = $1", p, "ownership: unregister"); !r)
    return tl::unexpected(r.error());
  return {};
}

Expected<std::vector<DeliveryInstance>> read_delivery_instances(Connection& db) {
  auto registered = db.exec("SELECT instance_id, heartbeat_at, expires_at FROM delivery_instances ORDER BY instance_id",
                            "ownership: read instances");
  if (!registered) return tl::unexpected(registered.error());
  auto claims = db.exec("SELECT instance_id, api_key FROM key_owners ORDER BY instance_id, api_key",
                        "ownership: read claims");
  if (!claims) return tl::unexpected(claims.error());
  std::map<std::string, DeliveryInstance> by_id;
  for (int r = 0; r < registered->rows(); ++r) {
    auto& instance = by_id[registered->text(r, 0)];
    instance.heartbeat_at = registered->integer(r, 1);
    instance.expires_at = registered->integer(r, 2);
  }
  for (int r = 0; r < claims->rows(); ++r) by_id[claims->text(r, 0)].keys.push_back(claims->text(r, 1));
  std::vector<DeliveryInstance> out;
  out.reserve(by_id.size());
  for (auto& [id, instance] : by_id) {
    instance.instance_id = id;
    out.push_back(std::move(instance));
  }
  return out;
}

}  // namespace omt::queue::postgres
