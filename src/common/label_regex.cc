#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <opsorch/common/label_regex.h>

namespace opsorch {
namespace {

constexpr char32_t kMaxRune = 0x10FFFF;
constexpr int kMaxDepth = 64;
constexpr int kMaxRepeat = 100;

using Ranges = std::vector<std::pair<char32_t, char32_t>>;

Ranges Normalize(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& p : r) {
    if (!out.empty() && p.first <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, p.second);
    } else {
      out.push_back(p);
    }
  }
  return out;
}

Ranges Complement(const Ranges& in) {
  Ranges r = Normalize(in);
  Ranges out;
  char32_t next = 0;
  for (const auto& p : r) {
    if (p.first > next) out.emplace_back(next, p.first - 1);
    next = p.second + 1;
  }
  if (next <= kMaxRune) out.emplace_back(next, kMaxRune);
  return out;
}

struct Node {
  enum Kind { kEmpty, kLit, kClass, kAny, kBegin, kEnd, kConcat, kAlt, kRepeat } kind = kEmpty;
  char32_t ch = 0;
  Ranges ranges;
  std::vector<Node> kids;
  int min = 0, max = -1;  // kRepeat; max -1: unbounded
};

// Decodes one code point; invalid bytes become U+FFFD and advance by one.
char32_t DecodeRune(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 && b0 <= 0xDF ? 2 : 0;
  if (len == 0 || (b0 >= 0xF5) || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = b0 & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  const char32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  if (cp < min || cp > kMaxRune || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  Result<Node> Parse() {
    auto n = ParseAlt(0);
    if (!n) return n;
    if (i_ != p_.size()) return Err("unbalanced ')'");
    return n;
  }

 private:
  tl::unexpected<Error> Err(std::string what) const {
    return Fail(errc::kBadRequest, "regex: " + what + " at offset " + std::to_string(i_));
  }
  bool AtEnd() const { return i_ >= p_.size(); }
  char Peek() const { return p_[i_]; }

  Result<Node> ParseAlt(int depth) {
    if (depth > kMaxDepth) return Err("nesting deeper than 64");
    Node alt{Node::kAlt};
    for (;;) {
      auto c = ParseConcat(depth);
      if (!c) return c;
      alt.kids.push_back(std::move(*c));
      if (AtEnd() || Peek() != '|') break;
      ++i_;
    }
    if (alt.kids.size() == 1) return std::move(alt.kids[0]);
    return alt;
  }

  Result<Node> ParseConcat(int depth) {
    Node cat{Node::kConcat};
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      auto a = ParseAtom(depth);
      if (!a) return a;
      Node cur = std::move(*a);
      for (;;) {
        if (AtEnd()) break;
        int min = 0, max = -1;
        const char q = Peek();
        if (q == '*') {
          ++i_;
        } else if (q == '+') {
          min = 1;
          ++i_;
        } else if (q == '?') {
          max = 1;
          ++i_;
        } else if (q == '{') {
          auto r = ParseBraces(min, max);
          if (!r) return tl::unexpected(r.error());
          if (!*r) break;  // a literal '{'
        } else {
          break;
        }
        if (cur.kind == Node::kBegin || cur.kind == Node::kEnd || cur.kind == Node::kEmpty) {
          return Err("repetition of nothing");
        }
        if (!AtEnd() && Peek() == '?') ++i_;  // lazy: same result for a whole-value match
        Node rep{Node::kRepeat};
        rep.min = min;
        rep.max = max;
        rep.kids.push_back(std::move(cur));
        cur = std::move(rep);
      }
      cat.kids.push_back(std::move(cur));
    }
    if (cat.kids.size() == 1) return std::move(cat.kids[0]);
    if (cat.kids.empty()) return Node{Node::kEmpty};
    return cat;
  }

  // {m}, {m,}, {m,n}; false (and nothing consumed) when it is not a counted repetition.
  Result<bool> ParseBraces(int& min, int& max) {
    std::size_t j = i_ + 1;
    auto number = [&](int& out) {
      std::size_t start = j;
      long v = 0;
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9' && j - start < 6) {
        v = v * 10 + (p_[j] - '0');
        ++j;
      }
      out = static_cast<int>(v);
      return j > start;
    };
    if (!number(min)) return false;
    if (j < p_.size() && p_[j] == '}') {
      max = min;
    } else if (j < p_.size() && p_[j] == ',') {
      ++j;
      if (j < p_.size() && p_[j] == '}') {
        max = -1;
      } else if (!number(max) || j >= p_.size() || p_[j] != '}') {
        return false;
      }
    } else {
      return false;
    }
    i_ = j + 1;
    if (min > kMaxRepeat || max > kMaxRepeat) return Err("repetition count above 100");
    if (max != -1 && max < min) return Err("repetition {m,n} with n < m");
    return true;
  }

  // \d \w \s and their negations; false if `c` is not one.
  static bool Shorthand(char c, Ranges& out) {
    Ranges r;
    switch (c | 0x20) {
      case 'd':
        r = {{'0', '9'}};
        break;
      case 'w':
        r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
        break;
      case 's':
        r = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};
        break;
      default:
        return false;
    }
    if (c >= 'A' && c <= 'Z') r = Complement(r);
    out.insert(out.end(), r.begin(), r.end());
    return true;
  }

  // The code point of an escaped literal (after the backslash), or an error.
  Result<char32_t> EscapedLiteral() {
    if (AtEnd()) return Err("trailing backslash");
    const char c = p_[i_++];
    switch (c) {
      case 'n':
        return U'\n';
      case 't':
        return U'\t';
      case 'r':
        return U'\r';
      case 'f':
        return U'\f';
      case 'v':
        return U'\v';
      default:
        break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
      return static_cast<char32_t>(c);
    }
    --i_;
    return Err("unsupported escape");
  }

  Result<Node> ParseAtom(int depth) {
    const char c = Peek();
    switch (c) {
      case '(': {
        ++i_;
        if (p_.substr(i_, 2) == "?:") {
          i_ += 2;
        } else if (!AtEnd() && Peek() == '?') {
          return Err("unsupported group flag");
        }
        auto inner = ParseAlt(depth + 1);
        if (!inner) return inner;
        if (AtEnd() || Peek() != ')') return Err("missing ')'");
        ++i_;
        return inner;
      }
      case '[':
        return ParseClass();
      case '.': {
        ++i_;
        Node n{Node::kClass};
        n.ranges = Complement({{'\n', '\n'}});
        return n;
      }
      case '^':
        ++i_;
        return Node{Node::kBegin};
      case '$':
        ++i_;
        return Node{Node::kEnd};
      case '*':
      case '+':
      case '?':
        return Err("repetition of nothing");
      case '\\': {
        ++i_;
        Node n{Node::kClass};
        if (!AtEnd() && Shorthand(Peek(), n.ranges)) {
          ++i_;
          return n;
        }
        auto lit = EscapedLiteral();
        if (!lit) return tl::unexpected(lit.error());
        Node l{Node::kLit};
        l.ch = *lit;
        return l;
      }
      default: {
        Node l{Node::kLit};
        l.ch = DecodeRune(p_, i_);
        return l;
      }
    }
  }

  Result<Node> ParseClass() {
    ++i_;  // '['
    bool negated = false;
    if (!AtEnd() && Peek() == '^') {
      negated = true;
      ++i_;
    }
    Ranges ranges;
    bool first = true;
    for (;;) {
      if (AtEnd()) return Err("missing ']'");
      if (Peek() == ']' && !first) {
        ++i_;
        break;
      }
      if (p_.substr(i_, 2) == "[:") return Err("named classes are not supported");
      first = false;
      char32_t lo;
      if (Peek() == '\\') {
        ++i_;
        if (!AtEnd() && Shorthand(Peek(), ranges)) {
          ++i_;
          continue;
        }
        auto lit = EscapedLiteral();
        if (!lit) return tl::unexpected(lit.error());
        lo = *lit;
      } else {
        lo = DecodeRune(p_, i_);
      }
      char32_t hi = lo;
      if (i_ + 1 < p_.size() && Peek() == '-' && p_[i_ + 1] != ']') {
        ++i_;
        if (Peek() == '\\') {
          ++i_;
          auto lit = EscapedLiteral();
          if (!lit) return tl::unexpected(lit.error());
          hi = *lit;
        } else {
          hi = DecodeRune(p_, i_);
        }
        if (hi < lo) return Err("class range out of order");
      }
      ranges.emplace_back(lo, hi);
    }
    Node n{Node::kClass};
    n.ranges = negated ? Complement(ranges) : Normalize(std::move(ranges));
    return n;
  }

  std::string_view p_;
  std::size_t i_ = 0;
};

enum class Op : std::uint8_t { kClass, kLit, kSplit, kJmp, kBegin, kEnd, kMatch };

struct Inst {
  Op op;
  char32_t ch = 0;
  int cls = 0;       // kClass: index into classes
  int x = 0, y = 0;  // kSplit: both; kJmp: x
};

}  // namespace

struct LabelRegex::Program {
  std::vector<Inst> code;
  std::vector<Ranges> classes;
  bool too_big = false;

  int Emit(Inst in) {
    if (code.size() >= kMaxProgram) {
      too_big = true;
      return static_cast<int>(code.size()) - 1;
    }
    code.push_back(in);
    return static_cast<int>(code.size()) - 1;
  }
  int Pc() const { return static_cast<int>(code.size()); }

  void Compile(const Node& n) {
    if (too_big) return;
    switch (n.kind) {
      case Node::kEmpty:
        return;
      case Node::kLit:
        Emit({Op::kLit, n.ch});
        return;
      case Node::kClass:
      case Node::kAny:
        classes.push_back(n.ranges);
        Emit({Op::kClass, 0, static_cast<int>(classes.size()) - 1});
        return;
      case Node::kBegin:
        Emit({Op::kBegin});
        return;
      case Node::kEnd:
        Emit({Op::kEnd});
        return;
      case Node::kConcat:
        for (const auto& k : n.kids) Compile(k);
        return;
      case Node::kAlt: {
        std::vector<int> jumps;
        for (std::size_t k = 0; k < n.kids.size(); ++k) {
          if (k + 1 < n.kids.size()) {
            const int split = Emit({Op::kSplit});
            if (too_big) return;
            code[split].x = Pc();
            Compile(n.kids[k]);
            jumps.push_back(Emit({Op::kJmp}));
            if (too_big) return;
            code[split].y = Pc();
          } else {
            Compile(n.kids[k]);
          }
        }
        if (too_big) return;
        for (int j : jumps) code[j].x = Pc();
        return;
      }
      case Node::kRepeat: {
        const Node& e = n.kids[0];
        for (int k = 0; k < n.min; ++k) Compile(e);
        if (n.max == -1) {
          // L: split body, out; body; jmp L
          const int split = Emit({Op::kSplit});
          if (too_big) return;
          code[split].x = Pc();
          Compile(e);
          const int jmp = Emit({Op::kJmp});
          if (too_big) return;
          code[jmp].x = split;
          code[split].y = Pc();
          return;
        }
        std::vector<int> splits;
        for (int k = n.min; k < n.max; ++k) {
          const int split = Emit({Op::kSplit});
          if (too_big) return;
          code[split].x = Pc();
          splits.push_back(split);
          Compile(e);
        }
        if (too_big) return;
        for (int s : splits) code[s].y = Pc();
        return;
      }
    }
  }
};

LabelRegex::LabelRegex(std::unique_ptr<Program> program) : program_(std::move(program)) {}
LabelRegex::LabelRegex(LabelRegex&&) noexcept = default;
LabelRegex& LabelRegex::operator=(LabelRegex&&) noexcept = default;
LabelRegex::~LabelRegex() = default;

Result<LabelRegex> LabelRegex::Compile(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return Fail(errc::kBadRequest, "regex: pattern longer than 512 bytes");
  }
  try {
    Parser parser(pattern);
    auto root = parser.Parse();
    if (!root) return tl::unexpected(root.error());
    auto program = std::make_unique<Program>();
    program->Compile(*root);
    program->Emit({Op::kMatch});
    if (program->too_big) {
      return Fail(errc::kBadRequest, "regex: program larger than 4096 instructions");
    }
    return LabelRegex(std::move(program));
  } catch (const std::exception& e) {  // allocation failure only
    return Fail(errc::kInternal, std::string("regex: ") + e.what());
  }
}

bool LabelRegex::FullMatch(std::string_view value) const {
  const auto& code = program_->code;
  const auto& classes = program_->classes;
  std::vector<char32_t> input;
  input.reserve(value.size());
  for (std::size_t i = 0; i < value.size();) input.push_back(DecodeRune(value, i));
  const std::size_t n = input.size();

  // Thread lists are sets of pcs; `mark` stamps which pcs a list already holds this step.
  std::vector<int> cur, next, stack;
  std::vector<std::size_t> mark(code.size(), 0);
  std::size_t stamp = 0;
  auto add = [&](std::vector<int>& list, int pc0, std::size_t pos) {
    stack.clear();
    stack.push_back(pc0);
    while (!stack.empty()) {
      const int pc = stack.back();
      stack.pop_back();
      if (mark[pc] == stamp) continue;
      mark[pc] = stamp;
      const Inst& in = code[pc];
      switch (in.op) {
        case Op::kJmp:
          stack.push_back(in.x);
          break;
        case Op::kSplit:
          stack.push_back(in.y);
          stack.push_back(in.x);
          break;
        case Op::kBegin:
          if (pos == 0) stack.push_back(pc + 1);
          break;
        case Op::kEnd:
          if (pos == n) stack.push_back(pc + 1);
          break;
        default:
          list.push_back(pc);
      }
    }
  };
  ++stamp;
  add(cur, 0, 0);
  for (std::size_t pos = 0; pos < n && !cur.empty(); ++pos) {
    ++stamp;
    next.clear();
    const char32_t c = input[pos];
    for (int pc : cur) {
      const Inst& in = code[pc];
      bool ok = false;
      if (in.op == Op::kLit) {
        ok = in.ch == c;
      } else if (in.op == Op::kClass) {
        const auto& r = classes[in.cls];
        // The last range starting at or before c.
        auto it = std::upper_bound(r.begin(), r.end(), c,
                                   [](char32_t v, const auto& range) { return v < range.first; });
        ok = it != r.begin() && std::prev(it)->second >= c;
      }
      if (ok) add(next, pc + 1, pos + 1);
    }
    cur.swap(next);
  }
  for (int pc : cur) {
    if (code[pc].op == Op::kMatch) return true;
  }
  return false;
}

}  // namespace opsorch
