// States at their exact boundaries, POST's update-in-place rule and DELETE (silence.go getState,
// Set, canUpdate and expire; types.CalcSilenceState for what the API shows).
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <opsorch/silence/silence.h>

namespace opsorch::silence {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

Silence Stored(std::int64_t starts, std::int64_t ends) {
  Silence s;
  s.id = "old";
  s.matchers = {{"alertname", "Disk", false, true}};
  s.starts_at = starts;
  s.ends_at = ends;
  s.updated_at = starts;
  s.created_by = "alice";
  s.comment = "first";
  s.scope = "svc";
  return s;
}

PostableSilence Post(std::int64_t starts, std::int64_t ends, std::string id = "old") {
  PostableSilence p;
  p.id = std::move(id);
  p.matchers = {{"alertname", "Disk", false, true}};
  p.starts_at = starts;
  p.ends_at = ends;
  p.created_by = "bob";
  p.comment = "second";
  p.scope = "svc";
  return p;
}

TEST(State, Boundaries) {
  const Silence s = Stored(100, 200);
  const std::pair<std::int64_t, State> kMute[] = {{99, State::kPending},
                                                  {100, State::kActive},
                                                  {199, State::kActive},
                                                  {200, State::kActive},  // still mutes at endsAt
                                                  {201, State::kExpired}};
  for (const auto& [now, want] : kMute) EXPECT_EQ(StateAt(s, now), want) << now;
  const std::pair<std::int64_t, State> kShown[] = {{99, State::kPending},
                                                   {100, State::kActive},
                                                   {199, State::kActive},
                                                   {200, State::kExpired},  // shown expired
                                                   {201, State::kExpired}};
  for (const auto& [now, want] : kShown) EXPECT_EQ(ApiStateAt(s, now), want) << now;
  EXPECT_EQ(Name(State::kPending), "pending");
  EXPECT_EQ(Name(State::kActive), "active");
  EXPECT_EQ(Name(State::kExpired), "expired");
}

struct PostCase {
  const char* what;
  std::optional<Silence> existing;
  PostableSilence incoming;
  bool in_place;
  std::optional<std::pair<std::int64_t, std::int64_t>> expired_to;  // old silence's new times
  std::int64_t write_starts;
};

TEST(Post, UpdateInPlaceOrExpireAndCreate) {
  const std::int64_t now = 1000 * kSecond;
  const Silence active = Stored(900 * kSecond, 2000 * kSecond);
  const Silence pending = Stored(1500 * kSecond, 2000 * kSecond);
  const Silence expired = Stored(100 * kSecond, 500 * kSecond);
  auto with_matchers = [](PostableSilence p, std::vector<Matcher> m) {
    p.matchers = std::move(m);
    return p;
  };
  auto with_scope = [](PostableSilence p, std::string scope) {
    p.scope = std::move(scope);
    return p;
  };
  const PostCase kCases[] = {
      {"new silence, start in the past becomes now", std::nullopt,
       Post(500 * kSecond, 3000 * kSecond, ""), false, std::nullopt, now},
      {"new silence, start in the future is kept", std::nullopt,
       Post(1200 * kSecond, 3000 * kSecond, ""), false, std::nullopt, 1200 * kSecond},
      {"active, same start, later end: in place", active, Post(900 * kSecond, 3000 * kSecond), true,
       std::nullopt, 900 * kSecond},
      {"active, same start, end now: in place", active, Post(900 * kSecond, now), true,
       std::nullopt, 900 * kSecond},
      {"active, start moved within its second: in place, as sent", active,
       Post(900 * kSecond + 400'000'000, 3000 * kSecond), true, std::nullopt,
       900 * kSecond + 400'000'000},
      {"active, start moved to another second: expire and create", active,
       Post(901 * kSecond, 3000 * kSecond), false, std::make_pair(900 * kSecond, now), now},
      {"active, other matchers: expire and create", active,
       with_matchers(Post(900 * kSecond, 3000 * kSecond), {{"alertname", "Cpu", false, true}}),
       false, std::make_pair(900 * kSecond, now), now},
      {"active, matchers reordered: expire and create (order counts)",
       [&] {
         Silence s = active;
         s.matchers = {{"a", "1", false, true}, {"b", "2", false, true}};
         return s;
       }(),
       with_matchers(Post(900 * kSecond, 3000 * kSecond),
                     {{"b", "2", false, true}, {"a", "1", false, true}}),
       false, std::make_pair(900 * kSecond, now), now},
      {"active, other scope: expire and create", active,
       with_scope(Post(900 * kSecond, 3000 * kSecond), "other"), false,
       std::make_pair(900 * kSecond, now), now},
      {"pending, start still ahead: in place", pending, Post(1100 * kSecond, 3000 * kSecond), true,
       std::nullopt, 1100 * kSecond},
      {"pending, start now: in place", pending, Post(now, 3000 * kSecond), true, std::nullopt, now},
      {"pending, start in the past: expire and create from now", pending,
       Post(999 * kSecond, 3000 * kSecond), false, std::make_pair(now, now), now},
      {"expired: create, nothing to expire", expired, Post(100 * kSecond, 3000 * kSecond), false,
       std::nullopt, now},
  };
  for (const PostCase& c : kCases) {
    auto r = ApplyPost(c.existing, c.incoming, now, "new");
    ASSERT_TRUE(r) << c.what << ": " << r.error().message;
    EXPECT_EQ(r->in_place, c.in_place) << c.what;
    EXPECT_EQ(r->write.id, c.in_place ? "old" : "new") << c.what;
    EXPECT_EQ(r->write.starts_at, c.write_starts) << c.what;
    EXPECT_EQ(r->write.ends_at, c.incoming.ends_at) << c.what;
    EXPECT_EQ(r->write.updated_at, now) << c.what;
    EXPECT_EQ(r->write.comment, "second") << c.what;
    EXPECT_EQ(r->write.created_by, "bob") << c.what;
    EXPECT_EQ(r->write.matchers, c.incoming.matchers) << c.what;
    EXPECT_EQ(r->write.scope, c.incoming.scope) << c.what;
    EXPECT_EQ(r->expire_old.has_value(), c.expired_to.has_value()) << c.what;
    if (r->expire_old && c.expired_to) {
      EXPECT_EQ(r->expire_old->id, "old") << c.what;
      EXPECT_EQ(r->expire_old->starts_at, c.expired_to->first) << c.what;
      EXPECT_EQ(r->expire_old->ends_at, c.expired_to->second) << c.what;
      EXPECT_EQ(r->expire_old->updated_at, now) << c.what;
      EXPECT_EQ(r->expire_old->comment, "first") << c.what;  // the old one keeps its content
      EXPECT_EQ(ApiStateAt(*r->expire_old, now), State::kExpired) << c.what;
    }
  }
}

TEST(Post, UnknownIdIsNotFound) {
  auto r = ApplyPost(std::nullopt, Post(1, 2, "nope"), 0, "new");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::kNotFound);
  EXPECT_EQ(r.error().message, "silence not found");  // Alertmanager's 404 payload
}

TEST(Expire, EachState) {
  const std::int64_t now = 1000;
  {
    auto r = Expire(Stored(900, 2000), now);  // active
    EXPECT_FALSE(r.already_expired);
    EXPECT_EQ(r.silence.starts_at, 900);
    EXPECT_EQ(r.silence.ends_at, now);
    EXPECT_EQ(r.silence.updated_at, now);
    EXPECT_EQ(ApiStateAt(r.silence, now), State::kExpired);
  }
  {
    auto r = Expire(Stored(1500, 2000), now);  // pending
    EXPECT_FALSE(r.already_expired);
    EXPECT_EQ(r.silence.starts_at, now);
    EXPECT_EQ(r.silence.ends_at, now);
    EXPECT_EQ(r.silence.updated_at, now);
  }
  {
    const Silence old = Stored(100, 500);  // expired: nothing changes, Alertmanager answers 200
    auto r = Expire(old, now);
    EXPECT_TRUE(r.already_expired);
    EXPECT_EQ(r.silence, old);
  }
  {
    auto r = Expire(Stored(100, now), now);  // at its end it is still active: ends now
    EXPECT_FALSE(r.already_expired);
    EXPECT_EQ(r.silence.ends_at, now);
    EXPECT_EQ(r.silence.updated_at, now);
  }
}

TEST(Sort, AsTheListingOrdersThem) {
  const std::int64_t now = 1000;
  auto s = [](std::string id, std::int64_t a, std::int64_t b) {
    Silence x;
    x.id = std::move(id);
    x.starts_at = a;
    x.ends_at = b;
    return x;
  };
  std::vector<Silence> v = {s("expired-early", 0, 100),     s("pending-late", 3000, 4000),
                            s("active-late", 0, 5000),      s("expired-late", 0, 900),
                            s("pending-early", 2000, 4000), s("active-early", 0, 2000),
                            s("ends-now", 0, 1000)};
  SortSilences(v, now);
  std::vector<std::string> ids;
  for (const Silence& x : v) ids.push_back(x.id);
  EXPECT_EQ(
      ids, (std::vector<std::string>{"active-early", "active-late", "pending-early", "pending-late",
                                     "ends-now", "expired-late", "expired-early"}));
}

}  // namespace
}  // namespace opsorch::silence
