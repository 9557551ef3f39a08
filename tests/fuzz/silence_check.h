// The body of fuzz_silence, shared with its corpus regression test
// (tests/silence/fuzz_corpus_test.cc, in opsorch_silence_tests): one input read four ways, from
// memory, at a fixed `now` (2026-01-05T12:00:00Z).
// 1. As a POST /api/v2/silences body (DecodePostableSilence). A refusal names at least one
//    problem, each with a message. A decoded silence keeps the documented rules (1-64 matchers,
//    valid names, sizes, one matcher not matching "", startsAt < endsAt, endsAt >= now); its
//    matchers compile; ApplyPost creates it from max(startsAt, now); the gettable JSON parses
//    and decodes back to the same matchers, creator and comment; Expire leaves it expired; and
//    an index of it plus fixed silences answers like a brute-force scan for label sets made
//    from its own matchers.
// 2. As matcher text (ParseMatcher, ParseMatchers), inputs up to 4 KiB: a refusal is
//    bad_request; each matcher written back as name op "escaped" parses to itself.
// 3. As a time-interval set (DecodeTimeIntervalSet): it re-encodes and decodes to itself;
//    NextNotContained over three days from an input-chosen instant agrees with a scan of every
//    minute (bounded work: at most kSilenceMaxMinuteChecks Contains calls per input).
// 4. As a regex (the first 64 bytes): when LabelRegex compiles it, CompiledMatcher's answer
//    (its byte-comparison fast path when it has one) equals LabelRegex's for values made from
//    the input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/label_regex.h>
#include <opsorch/silence/silence.h>
#include <opsorch/silence/time_interval.h>

#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

inline constexpr std::int64_t kSilenceFuzzNow = 1767614400'000'000'000;  // 2026-01-05T12:00Z
inline constexpr int kSilenceMaxMinuteChecks = 6000;

inline std::string SilenceMatcherText(const silence::Matcher& m) {
  std::string out = m.name;
  out += m.is_equal ? (m.is_regex ? "=~" : "=") : (m.is_regex ? "!~" : "!=");
  out += '"';
  for (const char c : m.value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

inline void CheckSilenceIndex(const silence::Silence& s, std::vector<std::string>& out) {
  using namespace silence;
  std::vector<Silence> all = {s};
  all.push_back(
      {"fixed-eq", {{"alertname", "x", false, true}}, 0, kSilenceFuzzNow * 2, 0, "", "", ""});
  all.push_back(
      {"fixed-ne", {{"env", "prod", false, false}}, 0, kSilenceFuzzNow * 2, 0, "", "", "s"});
  const SilenceIndex index = SilenceIndex::Build(all);
  std::vector<std::vector<CompiledMatcher>> compiled;
  for (const Silence& x : all) {
    auto c = CompileMatchers(x.matchers);
    if (!c) {
      out.push_back("a fixed silence does not compile");
      return;
    }
    compiled.push_back(std::move(*c));
  }
  InputRng rng(s.id + s.comment);
  std::vector<std::string> got;
  for (int q = 0; q < 24; ++q) {
    Labels labels;
    for (const Matcher& m : s.matchers) {
      switch (rng.Next() % 4) {
        case 0:
          labels.emplace_back(m.name, m.value);
          break;
        case 1:
          labels.emplace_back(m.name, m.value + "x");
          break;
        case 2:
          labels.emplace_back(m.name, m.value.substr(0, m.value.size() / 2));
          break;
        default:
          break;  // missing
      }
    }
    if (rng.Next() % 2) labels.emplace_back("alertname", "x");
    const std::string scope = rng.Next() % 2 ? "s" : "";
    const std::int64_t now = q % 3 == 0 ? s.starts_at : q % 3 == 1 ? s.ends_at : kSilenceFuzzNow;
    std::vector<std::string> want;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (!all[i].scope.empty() && all[i].scope != scope) continue;
      if (StateAt(all[i], now) != State::kActive) continue;
      if (Matches(compiled[i], labels)) want.push_back(all[i].id);
    }
    std::sort(want.begin(), want.end());
    index.Match(scope, labels, now, got);
    if (got != want) {
      out.push_back("index answers " + std::to_string(got.size()) + " silences, a scan " +
                    std::to_string(want.size()));
      return;
    }
  }
}

inline void CheckPostable(std::string_view input, std::vector<std::string>& out) {
  using namespace silence;
  auto d = DecodePostableSilence(input, kSilenceFuzzNow);
  if (!d) {
    if (d.error().empty()) out.push_back("postable: refused without a problem");
    for (const FieldError& e : d.error()) {
      if (e.message.empty()) out.push_back("postable: problem without a message at " + e.field);
    }
    if (ToError(d.error()).code != errc::kBadRequest) out.push_back("postable: not bad_request");
    return;
  }
  const PostableSilence& p = *d;
  const auto fail = [&](const std::string& what) { out.push_back("postable accepted: " + what); };
  if (p.matchers.empty() || p.matchers.size() > kMaxMatchers) fail("matcher count");
  bool all_empty = true;
  for (const Matcher& m : p.matchers) {
    if (!IsValidLabelName(m.name) || m.name.size() > kMaxNameBytes) fail("name " + Excerpt(m.name));
    if (m.value.size() > kMaxValueBytes || HasNulChar(m.value) || !ValidUtf8(m.value)) {
      fail("value " + Excerpt(m.value));
    }
    all_empty = all_empty && MatchesEmpty(m);
  }
  if (all_empty) fail("only matchers that match the empty string");
  if (p.starts_at >= p.ends_at || p.ends_at < kSilenceFuzzNow) fail("times");
  if (p.comment.size() > kMaxCommentBytes || p.created_by.size() > kMaxCreatedByBytes) {
    fail("comment or createdBy size");
  }
  if (!CompileMatchers(p.matchers)) {
    fail("matchers that do not compile");
    return;
  }
  PostableSilence create = p;
  create.id.clear();
  auto post = ApplyPost(std::nullopt, create, kSilenceFuzzNow, "fuzz-id");
  if (!post) {
    out.push_back("ApplyPost refused a decoded silence: " + Excerpt(post.error().message));
    return;
  }
  const Silence& s = post->write;
  if (s.id != "fuzz-id" || s.starts_at != std::max(p.starts_at, kSilenceFuzzNow) ||
      s.updated_at != kSilenceFuzzNow || post->expire_old) {
    out.push_back("ApplyPost: wrong new silence");
  }
  std::string json;
  AppendGettableSilence(json, s, kSilenceFuzzNow);
  if (!ParseJson(json)) {
    out.push_back("gettable silence is not JSON: " + Excerpt(json, 200));
    return;
  }
  auto back = DecodePostableSilence(json, kSilenceFuzzNow);
  // Millisecond truncation may put the end before the start or now; nothing else may fail.
  const std::int64_t ends_ms = s.ends_at - ((s.ends_at % 1'000'000 + 1'000'000) % 1'000'000);
  const std::int64_t starts_ms = s.starts_at - ((s.starts_at % 1'000'000 + 1'000'000) % 1'000'000);
  if (back) {
    if (back->matchers != s.matchers || back->created_by != s.created_by ||
        back->comment != s.comment || back->id != s.id) {
      out.push_back("gettable silence decodes to another silence");
    }
  } else if (ends_ms > starts_ms && ends_ms >= kSilenceFuzzNow) {
    out.push_back("gettable silence does not decode: " +
                  Excerpt(ToError(back.error()).message, 200));
  }
  const ExpireOutcome e = Expire(s, kSilenceFuzzNow);
  if (e.already_expired || StateAt(e.silence, kSilenceFuzzNow + 1) != State::kExpired) {
    out.push_back("Expire did not expire");
  }
  CheckSilenceIndex(s, out);
}

inline void CheckMatcherText(std::string_view input, std::vector<std::string>& out) {
  using namespace silence;
  if (input.size() > kMaxMatcherExpressionBytes) return;
  auto check = [&](const Matcher& m, const char* how) {
    if (m.name.empty()) out.push_back(std::string(how) + ": empty name");
    if (!ValidUtf8(m.value)) out.push_back(std::string(how) + ": value not UTF-8");
    auto again = ParseMatcher(SilenceMatcherText(m));
    if (!again) {
      out.push_back(std::string(how) +
                    ": written back does not parse: " + Excerpt(again.error().message));
    } else if (!(*again == m)) {
      out.push_back(std::string(how) +
                    ": written back parses to another matcher: " + Excerpt(SilenceMatcherText(m)));
    }
  };
  if (auto m = ParseMatcher(input)) {
    check(*m, "ParseMatcher");
  } else if (m.error().code != errc::kBadRequest) {
    out.push_back("ParseMatcher: not bad_request");
  }
  if (auto ms = ParseMatchers(input)) {
    for (const Matcher& m : *ms) check(m, "ParseMatchers");
  } else if (ms.error().code != errc::kBadRequest) {
    out.push_back("ParseMatchers: not bad_request");
  }
}

inline void CheckTimeIntervals(std::string_view input, std::vector<std::string>& out) {
  using namespace silence;
  auto set = DecodeTimeIntervalSet(input);
  if (!set) {
    for (const FieldError& e : set.error()) {
      if (e.message.empty()) out.push_back("time interval: problem without a message");
    }
    return;
  }
  const std::string text = EncodeTimeIntervalSet(*set);
  auto again = DecodeTimeIntervalSet(std::string_view(text));
  if (!again) {
    out.push_back("time interval: encoding does not decode: " +
                  Excerpt(ToError(again.error()).message, 200) + " in " + Excerpt(text, 200));
    return;
  }
  if (!(*again == *set))
    out.push_back("time interval: decodes to another set: " + Excerpt(text, 200));

  constexpr std::int64_t kMinute = 60'000'000'000;
  InputRng rng(input, 1);
  // Around the 2026 DST transitions of Europe and North America, or anywhere in 2026.
  const std::int64_t starts[] = {1774738800'000'000'000, 1792879200'000'000'000,
                                 1772931600'000'000'000, kSilenceFuzzNow};
  const std::int64_t now = starts[rng.Next() % 4] +
                           static_cast<std::int64_t>(rng.Next() % (3 * 24 * 60)) * kMinute +
                           static_cast<std::int64_t>(rng.Next() % 60'000'000'000);
  const std::int64_t horizon = now + 3 * 24 * 60 * kMinute;
  const std::int64_t got = NextNotContained(*set, now, horizon);
  if (got < now || got > horizon) {
    out.push_back("NextNotContained outside [now, horizon]");
    return;
  }
  // The scan: the intervals change their answer only at minute starts in these zones' offsets
  // (whole minutes everywhere since 1972).
  std::int64_t want = horizon;
  int budget =
      kSilenceMaxMinuteChecks / static_cast<int>(std::max<std::size_t>(set->intervals.size(), 1));
  if (!Contains(*set, now)) {
    want = now;
  } else {
    for (std::int64_t t = (now / kMinute + 1) * kMinute; t < horizon; t += kMinute) {
      if (--budget < 0) return;  // too costly to scan to the end: keep what was checked
      if (!Contains(*set, t)) {
        want = t;
        break;
      }
    }
  }
  if (got != want) {
    out.push_back("NextNotContained = " + std::to_string(got) + ", a minute scan says " +
                  std::to_string(want) + " for " + Excerpt(text, 300));
  }
}

inline void CheckRegexFastPath(std::string_view input, std::vector<std::string>& out) {
  using namespace silence;
  const std::string pattern(input.substr(0, 64));
  auto re = LabelRegex::Compile(pattern);
  if (!re) return;
  auto m = CompiledMatcher::Compile({"a", pattern, true, true});
  if (!m) {
    out.push_back("regex: LabelRegex compiles it, CompiledMatcher does not");
    return;
  }
  InputRng rng(input, 2);
  for (int k = 0; k < 16; ++k) {
    std::string value;
    const std::size_t from = rng.Next() % (input.size() + 1);
    value = std::string(input.substr(from, rng.Next() % 16));
    if (k % 4 == 1) value = pattern.substr(0, rng.Next() % (pattern.size() + 1));
    if (k % 4 == 2) value += "\n";
    if (m->Matches(value) != re->FullMatch(value)) {
      out.push_back("regex: fast path disagrees with LabelRegex on " + Excerpt(pattern) + " / " +
                    Excerpt(value));
      return;
    }
  }
}

inline std::vector<std::string> CheckSilence(std::string_view input) {
  std::vector<std::string> out;
  CheckPostable(input, out);
  CheckMatcherText(input, out);
  CheckTimeIntervals(input, out);
  CheckRegexFastPath(input, out);
  return out;
}

}  // namespace opsorch::testing
