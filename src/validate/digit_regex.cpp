// DigitRegex: parse -> syntax tree -> backtracking program (Cox's "regular expression VM" shape) -> optional
// DFA by subset construction. Inputs are digit strings of at most a few dozen bytes and the patterns come from
// libphonenumber's compiled-in metadata, so simplicity beats cleverness everywhere except the DFA walk.
#include "digit_regex.hpp"

#include <algorithm>
#include <map>
#include <memory>

namespace omt::validate::detail {

namespace {

constexpr std::uint16_t kAllDigits = 0x3FF;
constexpr int kUnbounded = -1;
// Bounds for a pattern's expansion ({n,m} copies its operand) and for one backtracking search.
constexpr std::size_t kMaxProgramSize = 100000;
constexpr int kMaxBacktrackSteps = 100000;
constexpr std::size_t kMaxBacktrackFrames = 512;

struct Node {
  enum class Kind : std::uint8_t { empty, digit_set, concat, alternation, group, repeat, end_anchor };
  Kind kind = Kind::empty;
  std::uint16_t digits = 0;
  int capture = 0;  // group: 1-based capture number, 0 for (?:...)
  int min = 1, max = 1;
  bool greedy = true;
  std::vector<Node> children;
};

Node make_node(Node::Kind kind, std::uint16_t digits = 0) {
  Node node;
  node.kind = kind;
  node.digits = digits;
  return node;
}

}  // namespace

namespace {

// Recursive-descent parser for the subset; any unsupported construct makes parse() return nullopt.
class RegexParser {
 public:
  explicit RegexParser(std::string_view pattern) : pattern_(pattern) {}

  std::optional<Node> parse() {
    auto node = parse_alternation();
    if (!node || pos_ != pattern_.size()) return std::nullopt;
    return node;
  }
  int group_count() const { return group_count_; }

 private:
  bool at_end() const { return pos_ >= pattern_.size(); }
  char peek() const { return pattern_[pos_]; }

  std::optional<Node> parse_alternation() {
    Node alt = make_node(Node::Kind::alternation);
    for (;;) {
      auto branch = parse_concat();
      if (!branch) return std::nullopt;
      alt.children.push_back(std::move(*branch));
      if (at_end() || peek() != '|') break;
      ++pos_;
    }
    if (alt.children.size() == 1) return std::move(alt.children.front());
    return alt;
  }

  std::optional<Node> parse_concat() {
    Node concat = make_node(Node::Kind::concat);
    while (!at_end() && peek() != '|' && peek() != ')') {
      auto atom = parse_atom();
      if (!atom) return std::nullopt;
      if (!parse_quantifiers(*atom)) return std::nullopt;
      concat.children.push_back(std::move(*atom));
    }
    return concat;
  }

  std::optional<Node> parse_atom() {
    const char c = pattern_[pos_++];
    if (c >= '0' && c <= '9') return make_node(Node::Kind::digit_set, digit_bit(c));
    if (c == '\\') {
      if (at_end() || pattern_[pos_++] != 'd') return std::nullopt;
      return make_node(Node::Kind::digit_set, kAllDigits);
    }
    if (c == '[') return parse_class();
    if (c == '$') return make_node(Node::Kind::end_anchor);
    if (c == '(') {
      Node group = make_node(Node::Kind::group);
      if (!at_end() && peek() == '?') {
        if (pattern_.substr(pos_, 2) != "?:") return std::nullopt;  // look-arounds, named groups, flags
        pos_ += 2;
      } else {
        group.capture = ++group_count_;
      }
      auto inner = parse_alternation();
      if (!inner || at_end() || peek() != ')') return std::nullopt;
      ++pos_;
      group.children.push_back(std::move(*inner));
      return group;
    }
    return std::nullopt;  // '.', '^', literals other than digits, stray quantifiers
  }

  std::optional<Node> parse_class() {
    bool negated = false;
    if (!at_end() && peek() == '^') {
      negated = true;
      ++pos_;
    }
    std::uint16_t digits = 0;
    bool first = true;
    for (;;) {
      if (at_end()) return std::nullopt;
      const char c = pattern_[pos_++];
      if (c == ']' && !first) break;
      first = false;
      if (c == '\\') {
        if (at_end() || pattern_[pos_++] != 'd') return std::nullopt;
        digits |= kAllDigits;
        continue;
      }
      if (c < '0' || c > '9') return std::nullopt;
      if (pos_ + 1 < pattern_.size() && peek() == '-' && pattern_[pos_ + 1] != ']') {
        const char hi = pattern_[pos_ + 1];
        if (hi < c || hi > '9') return std::nullopt;
        for (char d = c; d <= hi; ++d) digits |= digit_bit(d);
        pos_ += 2;
      } else {
        digits |= digit_bit(c);
      }
    }
    if (negated) digits = static_cast<std::uint16_t>(~digits & kAllDigits);
    return make_node(Node::Kind::digit_set, digits);
  }

  bool parse_quantifiers(Node& atom) {
    while (!at_end()) {
      int min = 0, max = 0;
      const char c = peek();
      if (c == '?') {
        min = 0, max = 1;
      } else if (c == '*') {
        min = 0, max = kUnbounded;
      } else if (c == '+') {
        min = 1, max = kUnbounded;
      } else if (c == '{') {
        ++pos_;
        if (!parse_number(min)) return false;
        max = min;
        if (!at_end() && peek() == ',') {
          ++pos_;
          max = kUnbounded;
          if (!at_end() && peek() != '}' && !parse_number(max)) return false;
        }
        if (at_end() || peek() != '}' || (max != kUnbounded && max < min)) return false;
      } else {
        return true;
      }
      ++pos_;
      bool greedy = true;
      if (!at_end() && peek() == '?') {
        greedy = false;
        ++pos_;
      } else if (!at_end() && peek() == '+') {
        return false;  // possessive
      }
      Node repeat = make_node(Node::Kind::repeat);
      repeat.min = min;
      repeat.max = max;
      repeat.greedy = greedy;
      repeat.children.push_back(std::move(atom));
      atom = std::move(repeat);
    }
    return true;
  }

  bool parse_number(int& out) {
    const std::size_t start = pos_;
    out = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9' && pos_ - start < 4) out = out * 10 + (pattern_[pos_++] - '0');
    return pos_ > start && (at_end() || peek() < '0' || peek() > '9');
  }

  static std::uint16_t digit_bit(char c) { return static_cast<std::uint16_t>(1u << (c - '0')); }

  std::string_view pattern_;
  std::size_t pos_ = 0;
  int group_count_ = 0;
};

class Emitter {
 public:
  template <class Inst, class Op>
  static bool emit(const Node& node, std::vector<Inst>& out, bool& has_assertion) {
    if (out.size() > kMaxProgramSize) return false;
    switch (node.kind) {
      case Node::Kind::empty:
        return true;
      case Node::Kind::digit_set:
        out.push_back(Inst{.op = Op::digit_set, .digits = node.digits});
        return true;
      case Node::Kind::end_anchor:
        has_assertion = true;
        out.push_back(Inst{.op = Op::assert_end});
        return true;
      case Node::Kind::concat:
        for (const Node& child : node.children) {
          if (!emit<Inst, Op>(child, out, has_assertion)) return false;
        }
        return true;
      case Node::Kind::group:
        if (node.capture > 0) out.push_back(Inst{.op = Op::save, .x = 2 * (node.capture - 1)});
        if (!emit<Inst, Op>(node.children.front(), out, has_assertion)) return false;
        if (node.capture > 0) out.push_back(Inst{.op = Op::save, .x = 2 * (node.capture - 1) + 1});
        return true;
      case Node::Kind::alternation: {
        // split L1, next; L1: a; jump end; next: split L2, next2; ...; last: z; end:
        std::vector<std::size_t> jumps_to_end;
        for (std::size_t i = 0; i < node.children.size(); ++i) {
          const bool last = i + 1 == node.children.size();
          std::size_t split_at = 0;
          if (!last) {
            split_at = out.size();
            out.push_back(Inst{.op = Op::split, .x = static_cast<int>(out.size() + 1)});
          }
          if (!emit<Inst, Op>(node.children[i], out, has_assertion)) return false;
          if (!last) {
            jumps_to_end.push_back(out.size());
            out.push_back(Inst{.op = Op::jump});
            out[split_at].y = static_cast<int>(out.size());
          }
        }
        for (std::size_t at : jumps_to_end) out[at].x = static_cast<int>(out.size());
        return true;
      }
      case Node::Kind::repeat: {
        const Node& body = node.children.front();
        for (int i = 0; i < node.min; ++i) {
          if (!emit<Inst, Op>(body, out, has_assertion)) return false;
        }
        if (node.max == kUnbounded) {
          // loop: split body, end; body; jump loop; end:
          const std::size_t loop = out.size();
          out.push_back(Inst{.op = Op::split});
          if (!emit<Inst, Op>(body, out, has_assertion)) return false;
          out.push_back(Inst{.op = Op::jump, .x = static_cast<int>(loop)});
          set_split(out[loop], static_cast<int>(loop + 1), static_cast<int>(out.size()), node.greedy);
          return true;
        }
        // Optional copies nest: (body (body ...)?)?, and failing any copy leaves the whole repeat.
        std::vector<std::size_t> splits;
        for (int i = node.min; i < node.max; ++i) {
          splits.push_back(out.size());
          out.push_back(Inst{.op = Op::split});
          if (!emit<Inst, Op>(body, out, has_assertion)) return false;
        }
        for (std::size_t at : splits) {
          set_split(out[at], static_cast<int>(at + 1), static_cast<int>(out.size()), node.greedy);
        }
        return true;
      }
    }
    return false;
  }

 private:
  template <class Inst>
  static void set_split(Inst& split, int body, int skip, bool greedy) {
    split.x = greedy ? body : skip;
    split.y = greedy ? skip : body;
  }
};

}  // namespace

std::optional<DigitRegex> DigitRegex::compile(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes) return std::nullopt;
  RegexParser parser(pattern);
  auto tree = parser.parse();
  if (!tree || parser.group_count() > kMaxGroups) return std::nullopt;
  DigitRegex regex;
  regex.group_count_ = parser.group_count();
  if (!Emitter::emit<Inst, Op>(*tree, regex.program_, regex.has_assertion_)) return std::nullopt;
  if (regex.program_.size() > kMaxProgramSize) return std::nullopt;
  regex.program_.push_back(Inst{.op = Op::match});
  return regex;
}

void DigitRegex::closure(int pc, std::vector<char>& seen, std::vector<int>& out) const {
  // Iterative: long alternations would otherwise recurse deeply.
  std::vector<int> todo{pc};
  while (!todo.empty()) {
    const int at = todo.back();
    todo.pop_back();
    if (seen[static_cast<std::size_t>(at)]) continue;
    seen[static_cast<std::size_t>(at)] = 1;
    const Inst& inst = program_[static_cast<std::size_t>(at)];
    switch (inst.op) {
      case Op::digit_set:
      case Op::match:
        out.push_back(at);
        break;
      case Op::split:
        todo.push_back(inst.y);
        todo.push_back(inst.x);
        break;
      case Op::jump:
        todo.push_back(inst.x);
        break;
      case Op::save:
        todo.push_back(at + 1);
        break;
      case Op::assert_end:
        break;  // build_dfa() refuses patterns with assertions
    }
  }
}

bool DigitRegex::build_dfa() {
  if (has_assertion_) return false;
  std::map<std::vector<int>, std::uint32_t> ids;
  std::vector<std::vector<int>> states;
  std::vector<char> seen(program_.size());
  auto intern = [&](std::vector<int> set) -> std::uint32_t {
    std::sort(set.begin(), set.end());
    auto [it, inserted] = ids.emplace(set, static_cast<std::uint32_t>(states.size()));
    if (inserted) states.push_back(std::move(set));
    return it->second;
  };
  intern({});  // 0: dead
  {
    std::vector<int> start;
    closure(0, seen, start);
    intern(std::move(start));  // 1: start
  }
  std::vector<std::uint32_t> transitions;
  std::vector<char> accepting;
  for (std::size_t s = 0; s < states.size(); ++s) {
    if (states.size() > kMaxDfaStates) return false;
    bool accepts = false;
    for (int pc : states[s]) accepts |= program_[static_cast<std::size_t>(pc)].op == Op::match;
    accepting.push_back(accepts ? 1 : 0);
    for (int d = 0; d < 10; ++d) {
      std::fill(seen.begin(), seen.end(), 0);
      std::vector<int> next;
      for (int pc : states[s]) {
        const Inst& inst = program_[static_cast<std::size_t>(pc)];
        if (inst.op == Op::digit_set && ((inst.digits >> d) & 1u)) closure(pc + 1, seen, next);
      }
      transitions.push_back(intern(std::move(next)));
    }
  }
  transitions_ = std::move(transitions);
  accepting_ = std::move(accepting);
  return true;
}

bool DigitRegex::full_match(std::string_view digits) const noexcept {
  std::uint32_t state = 1;
  for (char c : digits) {
    state = transitions_[state * 10 + static_cast<std::uint32_t>(c - '0')];
    if (state == 0) return false;
  }
  return accepting_[state] != 0;
}

bool DigitRegex::prefix_match(std::string_view digits) const noexcept {
  std::uint32_t state = 1;
  if (accepting_[state]) return true;
  for (char c : digits) {
    state = transitions_[state * 10 + static_cast<std::uint32_t>(c - '0')];
    if (state == 0) return false;
    if (accepting_[state]) return true;
  }
  return false;
}

std::string_view DigitRegex::Match::group(std::string_view digits, int number) const noexcept {
  if (number < 1 || number > kMaxGroups) return {};
  const auto [first, last] = groups[static_cast<std::size_t>(number - 1)];
  if (first < 0 || last < first) return {};
  return digits.substr(static_cast<std::size_t>(first), static_cast<std::size_t>(last - first));
}

DigitRegex::Outcome DigitRegex::looking_at(std::string_view digits, Match& match) const {
  struct Frame {
    int pc;
    int pos;
    int restore_slot;  // >= 0: undo a capture write on the way back
    int restore_value;
  };
  std::array<Frame, kMaxBacktrackFrames> stack;
  std::size_t depth = 0;
  std::array<int, 2 * kMaxGroups> slots;
  slots.fill(-1);
  const int length = static_cast<int>(digits.size());
  int steps = 0;
  stack[depth++] = Frame{0, 0, -1, 0};
  while (depth > 0) {
    const Frame frame = stack[--depth];
    if (frame.restore_slot >= 0) {
      slots[static_cast<std::size_t>(frame.restore_slot)] = frame.restore_value;
      continue;
    }
    int pc = frame.pc;
    int pos = frame.pos;
    for (bool alive = true; alive;) {
      if (++steps > kMaxBacktrackSteps) return Outcome::too_costly;
      const Inst& inst = program_[static_cast<std::size_t>(pc)];
      switch (inst.op) {
        case Op::digit_set:
          if (pos < length && ((inst.digits >> (digits[static_cast<std::size_t>(pos)] - '0')) & 1u)) {
            ++pc;
            ++pos;
          } else {
            alive = false;
          }
          break;
        case Op::split:
          if (depth == stack.size()) return Outcome::too_costly;
          stack[depth++] = Frame{inst.y, pos, -1, 0};
          pc = inst.x;
          break;
        case Op::jump:
          pc = inst.x;
          break;
        case Op::save:
          if (depth == stack.size()) return Outcome::too_costly;
          stack[depth++] = Frame{0, 0, inst.x, slots[static_cast<std::size_t>(inst.x)]};
          slots[static_cast<std::size_t>(inst.x)] = pos;
          ++pc;
          break;
        case Op::assert_end:
          if (pos == length) {
            ++pc;
          } else {
            alive = false;
          }
          break;
        case Op::match:
          match.end = pos;
          for (int g = 0; g < kMaxGroups; ++g) {
            const int begin = slots[static_cast<std::size_t>(2 * g)];
            const int end = slots[static_cast<std::size_t>(2 * g + 1)];
            match.groups[static_cast<std::size_t>(g)] = (begin >= 0 && end >= 0) ? std::pair{begin, end} : std::pair{-1, -1};
          }
          return Outcome::matched;
      }
    }
  }
  return Outcome::no_match;
}

}  // namespace omt::validate::detail
