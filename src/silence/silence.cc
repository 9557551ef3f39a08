// Matching, the index and the lifecycle rules (silence/silence.go, api/v2/api.go at v0.25.0).
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <unordered_map>

#include <opsorch/common/strings.h>
#include <opsorch/silence/silence.h>

namespace opsorch::silence {

// ---- labels and states -----------------------------------------------------------------------

std::string_view LabelValue(const Labels& labels, std::string_view name) {
  for (const auto& [n, v] : labels) {
    if (n == name) return v;
  }
  return {};
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

State StateAt(const Silence& s, std::int64_t now) {
  if (now < s.starts_at) return State::kPending;
  if (now > s.ends_at) return State::kExpired;
  return State::kActive;
}

State ApiStateAt(const Silence& s, std::int64_t now) {
  if (now < s.starts_at) return State::kPending;
  if (now < s.ends_at) return State::kActive;
  return State::kExpired;
}

std::string_view Name(State state) {
  switch (state) {
    case State::kPending:
      return "pending";
    case State::kActive:
      return "active";
    case State::kExpired:
      return "expired";
  }
  return "expired";
}

// ---- compiled matchers -----------------------------------------------------------------------

namespace {

bool HasNewline(std::string_view s) { return s.find('\n') != std::string_view::npos; }

}  // namespace

CompiledMatcher::CompiledMatcher(CompiledMatcher&&) noexcept = default;
CompiledMatcher& CompiledMatcher::operator=(CompiledMatcher&&) noexcept = default;
CompiledMatcher::~CompiledMatcher() = default;

// The shapes whose whole-value match is a byte comparison: top-level alternatives, each
// [^] LIT [$], LIT.*, LIT.+, .*LIT, .*LIT.*, .* or .+ (LIT: literal characters and escaped
// punctuation). Anything else (classes, groups, other quantifiers, braces) runs LabelRegex.
// Equivalence with LabelRegex needs care only with '\n' (which '.' does not match, so literals
// next to .* must not hold one) and with invalid UTF-8, which LabelRegex reads as U+FFFD: a
// literal that is valid UTF-8 without U+FFFD matches exactly the same bytes either way, and a
// sequence can never straddle the edge of such a literal (it starts with a lead byte).
bool CompiledMatcher::ParseFast(std::string_view p, std::vector<Branch>& out) {
  enum class Tok : std::uint8_t { kLit, kDotStar, kDotPlus };
  std::vector<std::pair<Tok, std::string>> toks;
  auto is_quantifier = [](char c) { return c == '*' || c == '+' || c == '?' || c == '{'; };
  auto finish = [&]() -> bool {
    // Adjacent literals were merged as they came; classify the branch.
    Branch b{Form::kExact, {}};
    const auto lit = [&](std::size_t i) { return toks[i].first == Tok::kLit; };
    const auto star = [&](std::size_t i) { return toks[i].first == Tok::kDotStar; };
    const auto plus = [&](std::size_t i) { return toks[i].first == Tok::kDotPlus; };
    bool needs_no_newline = true;
    if (toks.empty()) {
      b.form = Form::kExact;
      needs_no_newline = false;
    } else if (toks.size() == 1 && lit(0)) {
      b = {Form::kExact, toks[0].second};
      needs_no_newline = false;
    } else if (toks.size() == 1 && star(0)) {
      b.form = Form::kAny;
    } else if (toks.size() == 1 && plus(0)) {
      b.form = Form::kAnyPlus;
    } else if (toks.size() == 2 && lit(0) && star(1)) {
      b = {Form::kPrefix, toks[0].second};
    } else if (toks.size() == 2 && lit(0) && plus(1)) {
      b = {Form::kPrefixPlus, toks[0].second};
    } else if (toks.size() == 2 && star(0) && lit(1)) {
      b = {Form::kSuffix, toks[1].second};
    } else if (toks.size() == 3 && star(0) && lit(1) && star(2)) {
      b = {Form::kContains, toks[1].second};
    } else {
      return false;
    }
    if (!ValidUtf8(b.literal) || b.literal.find("\xEF\xBF\xBD") != std::string::npos) return false;
    if (needs_no_newline && HasNewline(b.literal)) return false;
    out.push_back(std::move(b));
    toks.clear();
    return true;
  };
  auto add_literal = [&](char c) {
    if (toks.empty() || toks.back().first != Tok::kLit) toks.emplace_back(Tok::kLit, "");
    toks.back().second.push_back(c);
  };

  std::size_t i = 0;
  bool branch_start = true;
  while (true) {
    if (branch_start && i < p.size() && p[i] == '^') ++i;
    branch_start = false;
    if (i >= p.size() || p[i] == '|') {
      if (!finish()) return false;
      if (i >= p.size()) return true;
      ++i;
      branch_start = true;
      continue;
    }
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return false;
      const char d = p[i + 1];
      char lit;
      switch (d) {
        case 'n':
          lit = '\n';
          break;
        case 't':
          lit = '\t';
          break;
        case 'r':
          lit = '\r';
          break;
        case 'f':
          lit = '\f';
          break;
        case 'v':
          lit = '\v';
          break;
        default: {
          const auto u = static_cast<unsigned char>(d);
          const bool alnum =
              (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z');
          if (u >= 0x80 || alnum) return false;  // \d, \w… are classes
          lit = d;
        }
      }
      i += 2;
      if (i < p.size() && is_quantifier(p[i])) return false;
      add_literal(lit);
      continue;
    }
    if (c == '.') {
      if (i + 1 >= p.size() || (p[i + 1] != '*' && p[i + 1] != '+')) return false;
      const Tok t = p[i + 1] == '*' ? Tok::kDotStar : Tok::kDotPlus;
      i += 2;
      if (i < p.size() && is_quantifier(p[i])) return false;              // .*? .** .+{2}
      if (!toks.empty() && toks.back().first != Tok::kLit) return false;  // .*.*
      toks.emplace_back(t, "");
      continue;
    }
    if (c == '$') {
      ++i;
      if (i < p.size() && p[i] != '|') return false;
      continue;
    }
    if (c == '[' || c == ']' || c == '(' || c == ')' || c == '{' || c == '}' || c == '*' ||
        c == '+' || c == '?' || c == '^') {
      return false;
    }
    ++i;
    // A quantifier after a literal applies to it (to the whole code point when multibyte).
    if (i < p.size() && is_quantifier(p[i])) return false;
    add_literal(c);
  }
}

// Literal requirements of a pattern that the fast path does not cover, checked before LabelRegex
// runs (which allocates and walks the whole value): per top-level alternative, the runs of
// literal characters that every match holds (a quantifier drops the character it applies to;
// classes, groups, '.' and anchors end a run). A match starts with its alternative's leading
// run, and with one alternative contains its longest run. What the scan does not read ('{',
// stray brackets) ends it, leaving fewer conditions, all still necessary. Runs that are not valid
// UTF-8 or hold U+FFFD are dropped (LabelRegex reads invalid bytes as U+FFFD).
void CompiledMatcher::Prefilter(std::string_view p) {
  auto skip_class = [&](std::size_t i) {  // i at '['; returns the index after its ']'
    ++i;
    if (i < p.size() && p[i] == '^') ++i;
    if (i < p.size() && p[i] == ']') ++i;
    while (i < p.size() && p[i] != ']') i += p[i] == '\\' ? 2 : 1;
    return i + 1;
  };
  auto skip_group = [&](std::size_t i) {  // i at '('; returns the index after its ')'
    int depth = 0;
    while (i < p.size()) {
      if (p[i] == '\\') {
        i += 2;
        continue;
      }
      if (p[i] == '[') {
        i = skip_class(i);
        continue;
      }
      if (p[i] == '(') ++depth;
      if (p[i] == ')' && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  };
  std::vector<std::pair<std::size_t, std::size_t>> alts;  // [begin, end) of each alternative
  std::size_t start = 0;
  for (std::size_t i = 0; i < p.size();) {
    if (p[i] == '\\') {
      i += 2;
    } else if (p[i] == '[') {
      i = skip_class(i);
    } else if (p[i] == '(') {
      i = skip_group(i);
    } else if (p[i] == '|') {
      alts.emplace_back(start, i);
      start = ++i;
    } else {
      ++i;
    }
  }
  alts.emplace_back(start, p.size());

  auto usable = [](const std::string& run) {
    return !run.empty() && ValidUtf8(run) && run.find("\xEF\xBF\xBD") == std::string::npos;
  };
  std::vector<std::string> prefixes;
  bool all_prefixed = true;
  std::string longest;
  for (const auto& [begin, end] : alts) {
    std::string cur;
    std::size_t last_len = 0;  // bytes of the last atom in `cur` if it was a literal
    std::optional<std::string> prefix;
    std::vector<std::string> runs;
    auto cut = [&] {
      if (!prefix) prefix = cur;
      if (!cur.empty()) runs.push_back(cur);
      cur.clear();
      last_len = 0;
    };
    std::size_t i = begin;
    if (i < end && p[i] == '^') ++i;
    while (i < end) {
      const char c = p[i];
      if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (last_len > 0) cur.resize(cur.size() - last_len);
        cut();
        if (c == '{') break;  // a counted repetition or a literal brace: stop reading
        ++i;
        if (i < end && p[i] == '?') ++i;  // lazy
        continue;
      }
      if (c == '\\') {
        if (i + 1 >= end) break;
        const char d = p[i + 1];
        const auto u = static_cast<unsigned char>(d);
        const bool alnum =
            (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z');
        char lit = 0;
        bool is_literal = true;
        switch (d) {
          case 'n':
            lit = '\n';
            break;
          case 't':
            lit = '\t';
            break;
          case 'r':
            lit = '\r';
            break;
          case 'f':
            lit = '\f';
            break;
          case 'v':
            lit = '\v';
            break;
          default:
            is_literal = u < 0x80 && !alnum;
            lit = d;
        }
        i += 2;
        if (is_literal) {
          cur.push_back(lit);
          last_len = 1;
        } else {
          cut();  // \d \w \s …: a class
        }
        continue;
      }
      if (c == '.') {
        cut();
        ++i;
        continue;
      }
      if (c == '[') {
        cut();
        i = skip_class(i);
        continue;
      }
      if (c == '(') {
        cut();
        i = skip_group(i);
        continue;
      }
      if (c == '^' || c == '$' || c == ')' || c == ']' || c == '}') break;
      const auto u = static_cast<unsigned char>(c);
      const std::size_t len = u < 0x80 ? 1 : (u & 0xE0) == 0xC0 ? 2 : (u & 0xF0) == 0xE0 ? 3 : 4;
      const std::size_t n = std::min(len, end - i);
      cur.append(p.substr(i, n));
      last_len = n;
      i += n;
    }
    cut();
    if (prefix && usable(*prefix)) {
      prefixes.push_back(*prefix);
    } else {
      all_prefixed = false;
    }
    for (const std::string& r : runs) {
      if (usable(r) && r.size() > longest.size()) longest = r;
    }
  }
  if (all_prefixed) prefixes_ = std::move(prefixes);
  if (alts.size() == 1) required_ = std::move(longest);
}

Result<CompiledMatcher> CompiledMatcher::Compile(const Matcher& m) {
  CompiledMatcher out;
  out.m_ = m;
  if (m.is_regex) {
    auto re = LabelRegex::Compile(m.value);
    if (!re) return Fail(std::move(re.error()));
    std::vector<Branch> branches;
    if (ParseFast(m.value, branches)) {
      out.branches_ = std::move(branches);
    } else {
      out.regex_ = std::make_unique<LabelRegex>(std::move(*re));
      out.Prefilter(m.value);
    }
  }
  return out;
}

bool CompiledMatcher::RegexMatches(std::string_view v) const {
  if (regex_) {
    if (!prefixes_.empty() &&
        std::none_of(prefixes_.begin(), prefixes_.end(),
                     [v](const std::string& p) { return v.starts_with(p); })) {
      return false;
    }
    if (!required_.empty() && v.find(required_) == std::string_view::npos) return false;
    return regex_->FullMatch(v);
  }
  for (const Branch& b : branches_) {
    const std::string_view lit = b.literal;
    switch (b.form) {
      case Form::kExact:
        if (v == lit) return true;
        break;
      case Form::kPrefix:
        if (v.starts_with(lit) && !HasNewline(v.substr(lit.size()))) return true;
        break;
      case Form::kPrefixPlus:
        if (v.size() > lit.size() && v.starts_with(lit) && !HasNewline(v.substr(lit.size()))) {
          return true;
        }
        break;
      case Form::kSuffix:
        if (v.ends_with(lit) && !HasNewline(v.substr(0, v.size() - lit.size()))) return true;
        break;
      case Form::kContains:
        if (v.find(lit) != std::string_view::npos && !HasNewline(v)) return true;
        break;
      case Form::kAny:
        if (!HasNewline(v)) return true;
        break;
      case Form::kAnyPlus:
        if (!v.empty() && !HasNewline(v)) return true;
        break;
    }
  }
  return false;
}

bool CompiledMatcher::Matches(std::string_view value) const {
  if (!m_.is_regex) return (value == m_.value) == m_.is_equal;
  return RegexMatches(value) == m_.is_equal;
}

Result<std::vector<CompiledMatcher>> CompileMatchers(const std::vector<Matcher>& matchers) {
  std::vector<CompiledMatcher> out;
  out.reserve(matchers.size());
  for (const Matcher& m : matchers) {
    auto c = CompiledMatcher::Compile(m);
    if (!c) return Fail(std::move(c.error()));
    out.push_back(std::move(*c));
  }
  return out;
}

bool Matches(std::span<const CompiledMatcher> matchers, const Labels& labels) {
  for (const CompiledMatcher& m : matchers) {
    if (!m.Matches(LabelValue(labels, m.matcher().name))) return false;
  }
  return true;
}

bool MatchesEmpty(const Matcher& m) {
  if (!m.is_equal) return false;
  if (!m.is_regex) return m.value.empty();
  auto re = LabelRegex::Compile(m.value);
  return re && re->FullMatch("");
}

// ---- the index -------------------------------------------------------------------------------

namespace {

enum KeyKind : std::uint8_t { kExactKey, kPrefixKey, kSuffixKey };
constexpr std::size_t kAffixBytes = 64;  // prefix and suffix keys: up to this many bytes
constexpr std::uint32_t kNoMemo = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::uint64_t HashBytes(std::string_view s) { return std::hash<std::string_view>{}(s); }

std::uint64_t Mix(std::uint64_t h, std::uint8_t kind, std::uint32_t scope, std::uint32_t name) {
  std::uint64_t z = h ^ (static_cast<std::uint64_t>(scope) * 0x9E3779B97F4A7C15ull) ^
                    (static_cast<std::uint64_t>(name) * 0xC2B2AE3D27D4EB4Full) ^
                    (static_cast<std::uint64_t>(kind) << 61);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Entry {
  std::vector<CompiledMatcher> matchers;  // cheapest first
  std::vector<std::uint32_t> name_ids;    // parallel to matchers
  // Parallel to matchers: for one that runs LabelRegex, the id of its (name, pattern), so that
  // silences sharing it run it once per alert; kNoMemo for the others.
  std::vector<std::uint32_t> memo_ids;
  std::uint32_t scope_id = 0;
  std::int64_t starts_at = 0;
  std::int64_t ends_at = 0;
};

struct Slot {
  std::uint64_t hash = 0;
  std::string_view key;
  std::uint32_t scope_id = 0;
  std::uint32_t name_id = 0;
  std::uint32_t begin = 0;
  std::uint32_t count = 0;  // 0: empty slot
  std::uint8_t kind = 0;
};

// Per-thread scratch of Match, so that it allocates only while it warms up.
struct Scratch {
  std::vector<std::string_view> values;  // by name id, valid where stamps[id] == stamp
  std::vector<std::uint32_t> stamps;
  std::uint32_t stamp = 0;
  std::vector<std::pair<std::uint32_t, std::string_view>> present;
  std::vector<std::uint32_t> hits;
  std::vector<std::uint32_t> memo_stamps;  // by memo id, valid where == stamp
  std::vector<std::uint8_t> memo_results;
};

thread_local Scratch tls_scratch;

int Cost(const CompiledMatcher& m) {
  if (!m.matcher().is_regex) return 0;
  return m.fast() ? 1 : 2;
}

}  // namespace

struct SilenceIndex::Impl {
  std::vector<Silence> silences;  // sorted by id
  std::vector<Entry> entries;     // parallel to silences
  std::unordered_map<std::string_view, std::uint32_t> names;
  std::unordered_map<std::string_view, std::uint32_t> scopes;  // "" is 0
  std::vector<Slot> slots;                                     // open addressing, power of two
  std::vector<std::uint32_t> postings;
  std::vector<std::vector<std::uint32_t>> scan;  // by scope id: silences without an anchor
  // By name id: the lengths of its prefix and suffix keys, ascending.
  std::vector<std::vector<std::uint8_t>> prefix_lengths;
  std::vector<std::vector<std::uint8_t>> suffix_lengths;
  std::size_t memo_count = 0;
  std::vector<std::int64_t> changes;  // sorted instants at which the active set changes
  std::size_t unanchored = 0;

  const Slot* Probe(std::uint64_t h, std::uint8_t kind, std::uint32_t scope, std::uint32_t name,
                    std::string_view key) const {
    if (slots.empty()) return nullptr;
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots[i];
      if (s.count == 0) return nullptr;
      if (s.hash == h && s.kind == kind && s.scope_id == scope && s.name_id == name &&
          s.key == key) {
        return &s;
      }
    }
  }
};

SilenceIndex::SilenceIndex() : impl_(std::make_shared<Impl>()) {}

SilenceIndex SilenceIndex::Build(std::vector<Silence> silences,
                                 std::optional<std::int64_t> drop_expired_before) {
  auto impl = std::make_shared<Impl>();
  Impl& x = *impl;
  std::stable_sort(silences.begin(), silences.end(),
                   [](const Silence& a, const Silence& b) { return a.id < b.id; });

  // Compile; the vectors are final before any view into their strings is taken.
  for (Silence& s : silences) {
    if (drop_expired_before && s.ends_at < *drop_expired_before) continue;
    auto compiled = CompileMatchers(s.matchers);
    if (!compiled) continue;
    Entry e;
    e.matchers = std::move(*compiled);
    std::stable_sort(
        e.matchers.begin(), e.matchers.end(),
        [](const CompiledMatcher& a, const CompiledMatcher& b) { return Cost(a) < Cost(b); });
    e.starts_at = s.starts_at;
    e.ends_at = s.ends_at;
    x.entries.push_back(std::move(e));
    x.silences.push_back(std::move(s));
  }

  x.scopes.emplace(std::string_view(), 0);
  for (std::size_t i = 0; i < x.entries.size(); ++i) {
    Entry& e = x.entries[i];
    const std::string_view scope = x.silences[i].scope;
    e.scope_id = x.scopes.emplace(scope, static_cast<std::uint32_t>(x.scopes.size())).first->second;
    for (const CompiledMatcher& m : e.matchers) {
      const std::string_view name = m.matcher().name;
      e.name_ids.push_back(
          x.names.emplace(name, static_cast<std::uint32_t>(x.names.size())).first->second);
    }
  }
  x.scan.resize(x.scopes.size());
  x.prefix_lengths.resize(x.names.size());
  x.suffix_lengths.resize(x.names.size());
  std::unordered_map<std::string, std::uint32_t> memo;  // name '\0' pattern → memo id
  for (Entry& e : x.entries) {
    for (const CompiledMatcher& m : e.matchers) {
      std::uint32_t id = kNoMemo;
      if (m.regex_) {
        const std::string key = m.matcher().name + '\0' + m.matcher().value;
        id = memo.emplace(key, static_cast<std::uint32_t>(memo.size())).first->second;
      }
      e.memo_ids.push_back(id);
    }
  }
  x.memo_count = memo.size();

  // How many silences share each equality key, to anchor each silence on its rarest one.
  struct KeyRec {
    std::uint64_t hash;
    std::uint8_t kind;
    std::uint32_t scope, name;
    std::string_view key;
    std::uint32_t entry;
  };
  auto key_of = [](std::uint8_t kind, std::uint32_t scope, std::uint32_t name,
                   std::string_view key) {
    return KeyRec{Mix(HashBytes(key), kind, scope, name), kind, scope, name, key, 0};
  };
  auto same_key = [](const KeyRec& a, const KeyRec& b) {
    return a.hash == b.hash && a.kind == b.kind && a.scope == b.scope && a.name == b.name &&
           a.key == b.key;
  };
  struct RecHash {
    std::size_t operator()(const KeyRec& r) const { return r.hash; }
  };
  struct RecEq {
    bool operator()(const KeyRec& a, const KeyRec& b) const {
      return a.hash == b.hash && a.kind == b.kind && a.scope == b.scope && a.name == b.name &&
             a.key == b.key;
    }
  };
  std::unordered_map<KeyRec, std::uint32_t, RecHash, RecEq> frequency;
  for (const Entry& e : x.entries) {
    for (std::size_t i = 0; i < e.matchers.size(); ++i) {
      const Matcher& m = e.matchers[i].matcher();
      if (!m.is_regex && m.is_equal && !m.value.empty()) {
        ++frequency[key_of(kExactKey, e.scope_id, e.name_ids[i], m.value)];
      }
    }
  }

  std::vector<KeyRec> recs;
  for (std::uint32_t ei = 0; ei < x.entries.size(); ++ei) {
    const Entry& e = x.entries[ei];
    std::vector<KeyRec> best;
    std::size_t best_cost = std::numeric_limits<std::size_t>::max();
    // a. an equality matcher with a non-empty value (a missing label never matches it).
    for (std::size_t i = 0; i < e.matchers.size(); ++i) {
      const Matcher& m = e.matchers[i].matcher();
      if (m.is_regex || !m.is_equal || m.value.empty()) continue;
      KeyRec r = key_of(kExactKey, e.scope_id, e.name_ids[i], m.value);
      const std::size_t cost = frequency[r];
      if (cost < best_cost) {
        best_cost = cost;
        best = {r};
      }
    }
    // b-d. a positive regex whose every alternative needs a non-empty literal: literal
    // alternatives as equality keys, else literal prefixes, else literal suffixes.
    for (int pass = 0; pass < 3 && best.empty(); ++pass) {
      std::size_t fewest = std::numeric_limits<std::size_t>::max();
      for (std::size_t i = 0; i < e.matchers.size(); ++i) {
        const CompiledMatcher& cm = e.matchers[i];
        if (!cm.matcher().is_regex || !cm.matcher().is_equal) continue;
        std::vector<KeyRec> keys;
        if (cm.branches_.empty()) {  // LabelRegex behind literal prefixes: prefix keys
          if (pass != 1 || cm.prefixes_.empty()) continue;
          for (const std::string& lit : cm.prefixes_) {
            keys.push_back(
                key_of(kPrefixKey, e.scope_id, e.name_ids[i],
                       std::string_view(lit).substr(0, std::min(lit.size(), kAffixBytes))));
          }
          if (keys.size() < fewest) {
            fewest = keys.size();
            best = std::move(keys);
          }
          continue;
        }
        bool ok = true;
        for (const auto& b : cm.branches_) {
          using F = CompiledMatcher::Form;
          const std::string_view lit = b.literal;
          if (lit.empty()) {
            ok = false;
          } else if (pass == 0 && b.form == F::kExact) {
            keys.push_back(key_of(kExactKey, e.scope_id, e.name_ids[i], lit));
          } else if (pass == 1 &&
                     (b.form == F::kExact || b.form == F::kPrefix || b.form == F::kPrefixPlus)) {
            keys.push_back(key_of(kPrefixKey, e.scope_id, e.name_ids[i],
                                  lit.substr(0, std::min(lit.size(), kAffixBytes))));
          } else if (pass == 2 && b.form == F::kSuffix) {
            keys.push_back(key_of(kSuffixKey, e.scope_id, e.name_ids[i],
                                  lit.substr(lit.size() - std::min(lit.size(), kAffixBytes))));
          } else {
            ok = false;
          }
          if (!ok) break;
        }
        if (ok && !keys.empty() && keys.size() < fewest) {
          fewest = keys.size();
          best = std::move(keys);
        }
      }
    }
    if (best.empty()) {
      x.scan[e.scope_id].push_back(ei);
      ++x.unanchored;
      continue;
    }
    for (KeyRec& r : best) {
      r.entry = ei;
      if (r.kind != kExactKey) {
        auto& lengths = r.kind == kPrefixKey ? x.prefix_lengths[r.name] : x.suffix_lengths[r.name];
        const auto l = static_cast<std::uint8_t>(r.key.size());
        if (std::find(lengths.begin(), lengths.end(), l) == lengths.end()) {
          lengths.insert(std::upper_bound(lengths.begin(), lengths.end(), l), l);
        }
      }
      recs.push_back(r);
    }
  }

  // Group the postings of each key and file the keys in the open-addressing table.
  std::sort(recs.begin(), recs.end(), [](const KeyRec& a, const KeyRec& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    if (a.kind != b.kind) return a.kind < b.kind;
    if (a.scope != b.scope) return a.scope < b.scope;
    if (a.name != b.name) return a.name < b.name;
    if (a.key != b.key) return a.key < b.key;
    return a.entry < b.entry;
  });
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < recs.size(); ++i) {
    if (i == 0 || !same_key(recs[i - 1], recs[i])) ++distinct;
  }
  std::size_t capacity = 16;
  while (capacity < 2 * distinct) capacity *= 2;
  x.slots.assign(capacity, Slot{});
  for (std::size_t i = 0; i < recs.size();) {
    std::size_t j = i;
    const auto begin = static_cast<std::uint32_t>(x.postings.size());
    while (j < recs.size() && same_key(recs[i], recs[j])) {
      if (x.postings.size() == begin || x.postings.back() != recs[j].entry) {
        x.postings.push_back(recs[j].entry);
      }
      ++j;
    }
    const KeyRec& r = recs[i];
    for (std::size_t k = r.hash & (capacity - 1);; k = (k + 1) & (capacity - 1)) {
      if (x.slots[k].count == 0) {
        x.slots[k] = Slot{r.hash, r.key, r.scope,
                          r.name, begin, static_cast<std::uint32_t>(x.postings.size() - begin),
                          r.kind};
        break;
      }
    }
    i = j;
  }

  for (const Entry& e : x.entries) {
    x.changes.push_back(e.starts_at);
    if (e.ends_at != kNever) x.changes.push_back(e.ends_at + 1);
  }
  std::sort(x.changes.begin(), x.changes.end());
  x.changes.erase(std::unique(x.changes.begin(), x.changes.end()), x.changes.end());

  SilenceIndex out;
  out.impl_ = std::move(impl);
  return out;
}

void SilenceIndex::Match(std::string_view scope, const Labels& labels, std::int64_t now,
                         std::vector<std::string>& ids_out) const {
  const Impl& x = *impl_;
  Scratch& sc = tls_scratch;
  sc.hits.clear();
  if (!x.entries.empty()) {
    if (sc.values.size() < x.names.size()) {
      sc.values.resize(x.names.size());
      sc.stamps.resize(x.names.size(), 0);
    }
    if (sc.memo_stamps.size() < x.memo_count) {
      sc.memo_stamps.resize(x.memo_count, 0);
      sc.memo_results.resize(x.memo_count, 0);
    }
    if (++sc.stamp == 0) {  // wrapped: old stamps could look current
      std::fill(sc.stamps.begin(), sc.stamps.end(), 0);
      std::fill(sc.memo_stamps.begin(), sc.memo_stamps.end(), 0);
      sc.stamp = 1;
    }
    // Whether silence `e` mutes the alert: active, and every matcher matches (the label's value
    // is "" when the alert lacks it).
    auto check = [&](std::uint32_t e) {
      const Entry& entry = x.entries[e];
      if (now < entry.starts_at || now > entry.ends_at) return false;
      for (std::size_t i = 0; i < entry.matchers.size(); ++i) {
        const std::uint32_t id = entry.name_ids[i];
        const std::string_view v = sc.stamps[id] == sc.stamp ? sc.values[id] : std::string_view();
        const CompiledMatcher& m = entry.matchers[i];
        const std::uint32_t memo = entry.memo_ids[i];
        if (memo == kNoMemo) {
          if (!m.Matches(v)) return false;
          continue;
        }
        if (sc.memo_stamps[memo] != sc.stamp) {
          sc.memo_stamps[memo] = sc.stamp;
          sc.memo_results[memo] = m.RegexMatches(v) ? 1 : 0;
        }
        if ((sc.memo_results[memo] != 0) != m.matcher().is_equal) return false;
      }
      return true;
    };
    sc.present.clear();
    for (const auto& [name, value] : labels) {
      const auto it = x.names.find(name);
      if (it == x.names.end() || sc.stamps[it->second] == sc.stamp) continue;
      sc.stamps[it->second] = sc.stamp;
      sc.values[it->second] = value;
      sc.present.emplace_back(it->second, value);
    }

    std::array<std::uint32_t, 2> scope_ids{0, 0};
    std::size_t n_scopes = 1;
    if (!scope.empty()) {
      if (const auto it = x.scopes.find(scope); it != x.scopes.end()) {
        scope_ids[n_scopes++] = it->second;
      }
    }
    auto visit = [&](const Slot* s) {
      if (s == nullptr) return;
      for (std::uint32_t k = s->begin; k < s->begin + s->count; ++k) {
        const std::uint32_t e = x.postings[k];
        if (check(e)) sc.hits.push_back(e);
      }
    };
    for (const auto& [name_id, value] : sc.present) {
      const std::uint64_t hv = HashBytes(value);
      for (std::size_t k = 0; k < n_scopes; ++k) {
        const std::uint32_t sid = scope_ids[k];
        visit(x.Probe(Mix(hv, kExactKey, sid, name_id), kExactKey, sid, name_id, value));
      }
      for (int side = 0; side < 2; ++side) {
        const auto& lengths = side == 0 ? x.prefix_lengths[name_id] : x.suffix_lengths[name_id];
        const std::uint8_t kind = side == 0 ? kPrefixKey : kSuffixKey;
        for (const std::size_t l : lengths) {
          if (l > value.size()) break;
          const std::string_view part =
              side == 0 ? value.substr(0, l) : value.substr(value.size() - l);
          const std::uint64_t hp = HashBytes(part);
          for (std::size_t k = 0; k < n_scopes; ++k) {
            const std::uint32_t sid = scope_ids[k];
            visit(x.Probe(Mix(hp, kind, sid, name_id), kind, sid, name_id, part));
          }
        }
      }
    }
    for (std::size_t k = 0; k < n_scopes; ++k) {
      for (const std::uint32_t e : x.scan[scope_ids[k]]) {
        if (check(e)) sc.hits.push_back(e);
      }
    }
    // Entries are in id order; a silence reached through two of its keys counts once.
    std::sort(sc.hits.begin(), sc.hits.end());
    sc.hits.erase(std::unique(sc.hits.begin(), sc.hits.end()), sc.hits.end());
  }
  if (ids_out.size() > sc.hits.size()) ids_out.resize(sc.hits.size());
  for (std::size_t i = 0; i < sc.hits.size(); ++i) {
    const std::string& id = x.silences[sc.hits[i]].id;
    if (i < ids_out.size()) {
      ids_out[i].assign(id);
    } else {
      ids_out.push_back(id);
    }
  }
}

std::int64_t SilenceIndex::NextChange(std::int64_t now) const {
  const auto& c = impl_->changes;
  const auto it = std::upper_bound(c.begin(), c.end(), now);
  return it == c.end() ? kNever : *it;
}

std::size_t SilenceIndex::size() const { return impl_->entries.size(); }

std::size_t SilenceIndex::unanchored() const { return impl_->unanchored; }

const Silence* SilenceIndex::Find(std::string_view id) const {
  const auto& s = impl_->silences;
  const auto it = std::lower_bound(s.begin(), s.end(), id,
                                   [](const Silence& a, std::string_view b) { return a.id < b; });
  return it != s.end() && it->id == id ? &*it : nullptr;
}

// ---- lifecycle -------------------------------------------------------------------------------

namespace {

// Go's time.Time.Unix(): seconds, rounded towards negative infinity.
std::int64_t UnixSeconds(std::int64_t ns) {
  std::int64_t s = ns / 1'000'000'000;
  if (ns % 1'000'000'000 < 0) --s;
  return s;
}

// silence.go canUpdate.
bool CanUpdate(const Silence& a, const Silence& b, std::int64_t now) {
  if (a.matchers != b.matchers || a.scope != b.scope) return false;
  switch (StateAt(a, now)) {
    case State::kActive:
      return UnixSeconds(b.starts_at) == UnixSeconds(a.starts_at) && b.ends_at >= now;
    case State::kPending:
      return b.starts_at >= now;
    case State::kExpired:
      return false;
  }
  return false;
}

}  // namespace

ExpireOutcome Expire(Silence s, std::int64_t now) {
  switch (StateAt(s, now)) {
    case State::kExpired:
      return {std::move(s), true};
    case State::kActive:
      s.ends_at = now;
      break;
    case State::kPending:
      s.starts_at = now;
      s.ends_at = now;
      break;
  }
  s.updated_at = now;
  return {std::move(s), false};
}

Result<PostOutcome> ApplyPost(const std::optional<Silence>& existing, PostableSilence incoming,
                              std::int64_t now, std::string new_id) {
  if (!incoming.id.empty() && !existing) return Fail(errc::kNotFound, "silence not found");
  PostOutcome out;
  Silence& w = out.write;
  w.matchers = std::move(incoming.matchers);
  w.starts_at = incoming.starts_at;
  w.ends_at = incoming.ends_at;
  w.created_by = std::move(incoming.created_by);
  w.comment = std::move(incoming.comment);
  w.scope = std::move(incoming.scope);
  w.updated_at = now;
  if (existing) {
    if (CanUpdate(*existing, w, now)) {
      w.id = existing->id;
      out.in_place = true;
    } else if (StateAt(*existing, now) != State::kExpired) {
      out.expire_old = Expire(*existing, now).silence;
    }
  }
  if (!out.in_place) {
    w.id = std::move(new_id);
    if (w.starts_at < now) w.starts_at = now;
  }
  // validateSilence, after the clamp (the decoder's checks make this unreachable when it was
  // given the same `now`).
  if (w.ends_at < w.starts_at) {
    return Fail(errc::kBadRequest, "silence invalid: end time must not be before start time");
  }
  return out;
}

// ---- listing and filters -----------------------------------------------------------------

void SortSilences(std::vector<Silence>& silences, std::int64_t now) {
  auto rank = [now](const Silence& s) {
    switch (ApiStateAt(s, now)) {
      case State::kActive:
        return 0;
      case State::kPending:
        return 1;
      case State::kExpired:
        return 2;
    }
    return 2;
  };
  std::stable_sort(silences.begin(), silences.end(), [&](const Silence& a, const Silence& b) {
    const int ra = rank(a), rb = rank(b);
    if (ra != rb) return ra < rb;
    if (ra == 0) return a.ends_at < b.ends_at;
    if (ra == 1) return a.starts_at < b.starts_at;
    return a.ends_at > b.ends_at;
  });
}

bool SilenceMatchesFilter(const Silence& s, std::span<const Matcher> filter) {
  for (const Matcher& f : filter) {
    if (std::find(s.matchers.begin(), s.matchers.end(), f) == s.matchers.end()) return false;
  }
  return true;
}

bool AlertMatchesFilter(std::span<const CompiledMatcher> filter, const Labels& labels) {
  for (const CompiledMatcher& f : filter) {
    const Matcher& m = f.matcher();
    const auto it = std::find_if(labels.begin(), labels.end(),
                                 [&](const auto& l) { return l.first == m.name; });
    const bool present = it != labels.end();
    if (m.value.empty() && present == !m.is_equal) continue;
    if (!f.Matches(present ? std::string_view(it->second) : std::string_view())) return false;
  }
  return true;
}

}  // namespace opsorch::silence
