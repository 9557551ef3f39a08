// Silences with Alertmanager 0.25's semantics (silence/silence.go, api/v2/api.go, the API v2
// OpenAPI shapes), as pure functions: no I/O and no clock; times are Unix nanoseconds passed in.
//
// What was checked against the real binary (Debian's prometheus-alertmanager 0.25.0) is pinned
// by tests/silence/: the gettable JSON bytes (field order, RFC 3339 with milliseconds in UTC,
// Go's HTML-safe escaping), the validation rules and their wording, the update-in-place rule,
// DELETE of an expired silence (a no-op that succeeds) and the `filter` syntax.
//
// Deliberate differences from Alertmanager, all refusals of odd input:
// - regular expressions are opsorch::LabelRegex's RE2 subset (no flags such as (?i), no \pL,
//   no [[:alpha:]]), because Go's engine is not available and std::regex backtracks;
// - strings must not contain NUL (no store keeps them) and are size-limited (k* below);
// - times are RFC 3339 only (go-openapi's strfmt also takes a few other layouts), within
//   Time::kNanosRange; Alertmanager echoes the offset a client sent until its next restart, we
//   always write UTC (as Alertmanager does after a restart: its snapshot keeps UTC);
// - JSON keys are matched like Go's encoding/json (exact or ASCII case-insensitive, the last
//   one wins) but without Go's two Unicode folds (U+017F ſ, U+212A K).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include <opsorch/common/error.h>
#include <opsorch/common/label_regex.h>
#include <opsorch/common/result.h>

namespace opsorch::silence {

// An alert's labels, in any order. A missing label equals the empty string (Alertmanager's
// model.LabelSet lookup). Names are unique in practice; with duplicates the first one counts.
using Labels = std::vector<std::pair<std::string, std::string>>;

// The value of label `name` ("" when missing).
std::string_view LabelValue(const Labels& labels, std::string_view name);

// Alertmanager 0.25's model.LabelName.IsValid: ^[a-zA-Z_][a-zA-Z0-9_]*$.
bool IsValidLabelName(std::string_view name);

// One label matcher, the API's shape: = (is_equal, !is_regex), != (!is_equal, !is_regex),
// =~ (is_equal, is_regex), !~ (!is_equal, is_regex).
struct Matcher {
  std::string name;
  std::string value;
  bool is_regex = false;
  bool is_equal = true;

  friend bool operator==(const Matcher&, const Matcher&) = default;
};

struct Silence {
  std::string id;
  std::vector<Matcher> matchers;
  std::int64_t starts_at = 0;  // Unix ns
  std::int64_t ends_at = 0;
  std::int64_t updated_at = 0;
  std::string created_by;
  std::string comment;
  std::string scope;  // the service id it belongs to; "" = all services (not on AM's wire)

  friend bool operator==(const Silence&, const Silence&) = default;
};

enum class State { kPending, kActive, kExpired };

// silence.go getState, which decides muting and the update rules: pending while
// now < starts_at, expired once now > ends_at; at now == ends_at the silence still mutes.
State StateAt(const Silence& s, std::int64_t now);
// types.CalcSilenceState, which the API shows in status.state: expired from now >= ends_at.
// (Alertmanager uses the two side by side; they differ only at the instant ends_at.)
State ApiStateAt(const Silence& s, std::int64_t now);
std::string_view Name(State state);  // "pending" | "active" | "expired"

// ---- matching --------------------------------------------------------------------------------

// A matcher ready to test values. Regular expressions are anchored (the whole value must match,
// as Alertmanager's "^(?:re)$"). Common shapes (literal alternatives, literal prefix or suffix
// with .* or .+) are tested with byte comparisons that give LabelRegex's answer without running
// it (a property test compares the two); other patterns run LabelRegex.
class CompiledMatcher {
 public:
  // bad_request when the regex does not compile (LabelRegex's message).
  static Result<CompiledMatcher> Compile(const Matcher& m);

  bool Matches(std::string_view value) const;
  const Matcher& matcher() const { return m_; }
  // Whether Matches() never runs the regex engine (for tests and the benchmark's report).
  bool fast() const { return !m_.is_regex || !branches_.empty(); }

  CompiledMatcher(CompiledMatcher&&) noexcept;
  CompiledMatcher& operator=(CompiledMatcher&&) noexcept;
  ~CompiledMatcher();

 private:
  friend class SilenceIndex;
  enum class Form : std::uint8_t {
    kExact,
    kPrefix,
    kPrefixPlus,
    kSuffix,
    kContains,
    kAny,
    kAnyPlus
  };
  struct Branch {
    Form form;
    std::string literal;
  };
  CompiledMatcher() = default;
  static bool ParseFast(std::string_view pattern, std::vector<Branch>& out);
  void Prefilter(std::string_view pattern);
  bool RegexMatches(std::string_view value) const;

  Matcher m_;
  std::vector<Branch> branches_;  // a regex's fast form, any branch matching; empty: regex_
  std::unique_ptr<LabelRegex> regex_;
  // Necessary conditions checked before regex_ runs: a match starts with one of `prefixes_`
  // (when not empty) and contains `required_`.
  std::vector<std::string> prefixes_;
  std::string required_;
};

Result<std::vector<CompiledMatcher>> CompileMatchers(const std::vector<Matcher>& matchers);

// Alertmanager's Matchers.Matches: every matcher matches the label's value ("" when missing).
bool Matches(std::span<const CompiledMatcher> matchers, const Labels& labels);

// Whether a matcher matches the empty string, as silence.go matchesEmpty: only = and =~ can
// (a != or !~ matcher never counts, even !~".+"); an uncompilable regex does not.
bool MatchesEmpty(const Matcher& m);

// ---- the index -------------------------------------------------------------------------------

// The silences that mute an alert, fast: each silence is filed under one anchor (an equality
// matcher with a non-empty value, else a regex's literal alternatives, literal prefix or suffix;
// the rarest such key), so that an alert looks up only the keys of its own labels plus a short
// list of silences without an anchor (per scope). Immutable once built; safe to share between
// threads; cheap to copy (shared state).
class SilenceIndex {
 public:
  SilenceIndex();  // empty
  // Silences whose matchers do not compile are left out (the decoder refuses them anyway);
  // with `drop_expired_before`, so are those expired before that instant (they never mute
  // again for a later `now`).
  static SilenceIndex Build(std::vector<Silence> silences,
                            std::optional<std::int64_t> drop_expired_before = std::nullopt);

  // The ids, sorted (byte order, as Alertmanager's sort.Strings), of the silences that mute an
  // alert of service `scope` with `labels` at `now`: the silence's scope is "" or `scope`, it is
  // active (StateAt) and all its matchers match. `ids_out` is overwritten; its strings are
  // reused, so passing the same vector each time allocates nothing in the common case.
  void Match(std::string_view scope, const Labels& labels, std::int64_t now,
             std::vector<std::string>& ids_out) const;

  // The first instant after `now` at which the set of active silences changes (a start, or the
  // nanosecond after an end, since a silence still mutes at its ends_at); INT64_MAX when none.
  std::int64_t NextChange(std::int64_t now) const;

  std::size_t size() const;
  // The silence with `id`, or null.
  const Silence* Find(std::string_view id) const;
  // How many silences have no anchor and are tested for every alert of their scope.
  std::size_t unanchored() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// ---- the API: decoding, encoding, lifecycle ------------------------------------------------

// A problem with one field: `field` is its path ("matchers[1].value"; "" for the body itself),
// `message` names the rule (Alertmanager's wording where it has one).
struct FieldError {
  std::string field;
  std::string message;

  friend bool operator==(const FieldError&, const FieldError&) = default;
};
using FieldErrors = std::vector<FieldError>;

// kBadRequest: the first problem ("field: message") as the message, all of them in details.
Error ToError(const FieldErrors& errors);

inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;
inline constexpr std::size_t kMaxJsonDepth = 8;
inline constexpr std::size_t kMaxMatchers = 64;
inline constexpr std::size_t kMaxNameBytes = 256;
inline constexpr std::size_t kMaxValueBytes = 1024;
inline constexpr std::size_t kMaxCommentBytes = 4096;
inline constexpr std::size_t kMaxCreatedByBytes = 256;
inline constexpr std::size_t kMaxIdBytes = 256;
inline constexpr std::size_t kMaxRegexBytes = LabelRegex::kMaxPatternBytes;

// A POST /api/v2/silences body.
struct PostableSilence {
  std::string id;  // "" = create; otherwise the silence to update
  std::vector<Matcher> matchers;
  std::int64_t starts_at = 0;
  std::int64_t ends_at = 0;
  std::string created_by;
  std::string comment;
  std::string scope;  // set by the caller (the route's service), never read from the body

  friend bool operator==(const PostableSilence&, const PostableSilence&) = default;
};

// The postableSilence JSON: {id?, matchers: [{name, value, isRegex, isEqual?}], startsAt,
// endsAt, createdBy, comment}; unknown fields are ignored (go-swagger), null is absent, isEqual
// defaults to true. The rules, all checked (every problem is reported):
// - required: matchers (1 to kMaxMatchers), each name, value and isRegex; startsAt, endsAt
//   (RFC 3339); createdBy and comment (strings, empty allowed);
// - each name a valid label name; = and != values valid UTF-8; regexes compile;
// - at least one matcher must not match the empty string (MatchesEmpty);
// - startsAt before endsAt ("start time must be before end time") and endsAt not before `now`
//   ("end time can't be in the past"), the API handler's two checks;
// - the size limits above and no NUL characters.
tl::expected<PostableSilence, FieldErrors> DecodePostableSilence(std::string_view body,
                                                                 std::int64_t now);

// Alertmanager's gettableSilence, byte for byte: {"id","status":{"state"},"updatedAt",
// "comment","createdBy","endsAt","matchers":[{"isEqual","isRegex","name","value"}],
// "startsAt"}; times as RFC 3339 with milliseconds (truncated) in UTC; state by ApiStateAt.
void AppendGettableSilence(std::string& out, const Silence& s, std::int64_t now);
// A JSON array of them, in the given order (see SortSilences); [] when empty.
void AppendGettableSilences(std::string& out, std::span<const Silence> silences, std::int64_t now);
// RFC 3339 with exactly three fractional digits, UTC ("2026-01-05T08:00:00.000Z").
void AppendRfc3339Millis(std::string& out, std::int64_t unix_ns);

// The listing order of GET /api/v2/silences (api.go SortSilences): active first, the next to end
// first; then pending, the next to start first; then expired, the latest ended first. Ties keep
// their order.
void SortSilences(std::vector<Silence>& silences, std::int64_t now);

// What a POST does (silence.go Set and canUpdate).
struct PostOutcome {
  std::optional<Silence> expire_old;  // the previous silence, expired at now: write it back
  Silence write;                      // the silence to store
  bool in_place = false;              // write.id is the previous id
};

// `existing` is the stored silence named by incoming.id (nullopt when incoming.id is empty, or
// unknown: then kNotFound "silence not found", which Alertmanager answers with 404).
// - The previous silence is updated in place only if the matchers are identical (same order),
//   the scope is the same, and: it is active, the new startsAt is in the same Unix second as the
//   old one and the new endsAt is not before now; or it is pending and the new startsAt is not
//   before now. An in-place update keeps the times as sent (no clamping), as Alertmanager.
// - Otherwise a new silence with `new_id` is written, its startsAt raised to now when earlier,
//   and the previous one, unless already expired, is expired at now (Expire).
// updated_at is now on everything written.
Result<PostOutcome> ApplyPost(const std::optional<Silence>& existing, PostableSilence incoming,
                              std::int64_t now, std::string new_id);

struct ExpireOutcome {
  Silence silence;
  // Already expired: nothing changed, nothing to write. Alertmanager 0.25 answers DELETE of an
  // expired silence with 200, like any other expiry (checked against the binary).
  bool already_expired = false;
};

// DELETE /api/v2/silence/{id}: active → ends_at = now; pending → starts_at = ends_at = now;
// expired → unchanged.
ExpireOutcome Expire(Silence s, std::int64_t now);

// ---- filters ---------------------------------------------------------------------------------

inline constexpr std::size_t kMaxMatcherExpressionBytes = 4096;

// One matcher in Alertmanager's text syntax (pkg/labels ParseMatcher): `name op value`, op one
// of = != =~ !~, whitespace around the tokens ignored, the name [a-zA-Z_:][a-zA-Z0-9_:]*, the
// value bare or in double quotes with \" \\ \n escapes (another backslash is literal). Regexes
// must compile. Errors are bad_request with Alertmanager's wording ("bad matcher format: …").
Result<Matcher> ParseMatcher(std::string_view text);
// A comma-separated list, optionally in {…} (pkg/labels ParseMatchers, as amtool and the
// configuration read them); commas inside quotes do not separate; a trailing comma is allowed.
Result<std::vector<Matcher>> ParseMatchers(std::string_view text);
// The `filter` query parameters of GET /api/v2/silences and /api/v2/alerts: Alertmanager 0.25
// reads each with ParseMatcher (one matcher per parameter; `{a="b"}` is refused there).
Result<std::vector<Matcher>> ParseFilter(std::span<const std::string> filters);

// GET /api/v2/silences?filter=… (api.go CheckSilenceMatchesFilterLabels): every filter matcher
// has an identical matcher (name, type and value) in the silence. It does not evaluate them:
// `a=~"x.*"` lists only silences with exactly that regex matcher.
bool SilenceMatchesFilter(const Silence& s, std::span<const Matcher> filter);
// GET /api/v2/alerts?filter=… (api.go matchFilterLabels): each matcher tests the label's value,
// except that a matcher with an empty value is skipped when its label is absent (= and =~) or
// present (!= and !~).
bool AlertMatchesFilter(std::span<const CompiledMatcher> filter, const Labels& labels);

}  // namespace opsorch::silence
