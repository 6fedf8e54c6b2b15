// A tiny regular-expression engine for libphonenumber's metadata patterns, over inputs made of ASCII digits
// only (internal to src/validate). Supported syntax: digits, \d, [..] classes with ranges and negation,
// (...) capturing and (?:...) groups, |, ?, *, +, {n}, {n,}, {n,m} (each optionally lazy with '?'), '$'.
// Anything else makes compile() fail, so a caller can fall back to libphonenumber itself.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omt::validate::detail {

// A pattern compiled to a backtracking program (Perl/ICU match priority, capture groups) and, on request, to
// a DFA over the ten digits (yes/no answers in one table look-up per digit).
class DigitRegex {
 public:
  // Limits that keep start-up time and memory bounded; over them, compile() / build_dfa() fail.
  static constexpr std::size_t kMaxPatternBytes = 16 * 1024;
  static constexpr std::size_t kMaxDfaStates = 20000;
  static constexpr int kMaxGroups = 8;

  static std::optional<DigitRegex> compile(std::string_view pattern);

  // Builds the DFA used by full_match() and prefix_match(). False if the pattern has '$' or the DFA would
  // exceed kMaxDfaStates.
  bool build_dfa();
  bool has_dfa() const noexcept { return !accepting_.empty(); }

  // ICU matches(): the whole input matches. Needs the DFA. `digits` holds only '0'-'9'.
  bool full_match(std::string_view digits) const noexcept;
  // ICU lookingAt() as a yes/no: some prefix of the input (possibly empty) matches. Needs the DFA.
  bool prefix_match(std::string_view digits) const noexcept;

  // ICU lookingAt() with capture groups: the first match (in Perl priority order) that starts at 0.
  struct Match {
    int end = 0;
    // groups[i] = {begin, end} of capture group i+1, or {-1, -1} if it did not take part.
    std::array<std::pair<int, int>, kMaxGroups> groups{};
    std::string_view group(std::string_view digits, int number) const noexcept;  // "" if it did not take part
  };
  // too_costly: the search went over a fixed step or stack budget (never seen with libphonenumber's data).
  enum class Outcome : std::uint8_t { matched, no_match, too_costly };
  Outcome looking_at(std::string_view digits, Match& match) const;

  int group_count() const noexcept { return group_count_; }

 private:
  enum class Op : std::uint8_t { digit_set, split, jump, save, assert_end, match };
  struct Inst {
    Op op;
    std::uint16_t digits = 0;  // digit_set: bit d set when digit d matches
    int x = 0;                 // split: preferred branch; jump: target; save: slot
    int y = 0;                 // split: other branch
  };
  void closure(int pc, std::vector<char>& seen, std::vector<int>& out) const;

  std::vector<Inst> program_;
  int group_count_ = 0;
  bool has_assertion_ = false;
  // DFA: state 0 is the dead state; state 1 the start state. transitions_[state * 10 + digit].
  std::vector<std::uint32_t> transitions_;
  std::vector<char> accepting_;
};

}  // namespace omt::validate::detail
