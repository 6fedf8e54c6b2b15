// Redaction of log text: secret-named values (always), e-mail addresses and phone numbers (unless log_pii).
// Each detector marks spans of the original text; overlapping spans are merged and each replaced by the label
// of the first. Looking at the original text (not at output already written) keeps one detector from hiding
// part of a match from another: "jane.doe.19851231@example.com" is one e-mail, not a name, a phone and a domain.
#include <algorithm>
#include <array>
#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "omt/obs/log.hpp"

namespace omt::obs {

namespace detail {
std::atomic<bool> g_log_pii{false};  // set by init_logging
}

namespace {

struct Span {
  std::size_t begin;
  std::size_t end;
  std::string_view label;
};

constexpr std::string_view email_label = "<email>";
constexpr std::string_view phone_label = "<phone>";
constexpr std::string_view secret_label = "<secret>";

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_alnum(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + 32) : c; }

// Bytes of a non-ASCII UTF-8 character count as letters: "josé@exämple.com" is an address too.
bool is_local_part_char(unsigned char c) {
  return is_alnum(c) || c >= 0x80 || c == '.' || c == '_' || c == '-' || c == '+' || c == '%' || c == '\'';
}
bool is_domain_char(unsigned char c) { return is_alnum(c) || c >= 0x80 || c == '.' || c == '-'; }
bool is_phone_separator(unsigned char c) {
  return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/' || c == '\t';
}

bool iequals_at(std::string_view text, std::size_t at, std::string_view lower_word) {
  if (text.size() - at < lower_word.size()) return false;
  for (std::size_t i = 0; i < lower_word.size(); ++i) {
    if (lower(static_cast<unsigned char>(text[at + i])) != static_cast<unsigned char>(lower_word[i])) return false;
  }
  return true;
}

// An '@' (or its URL encoding "%40") with a local part before it and a domain after it.
void find_emails(std::string_view text, std::vector<Span>& spans) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::size_t at_length = 0;
    if (text[i] == '@') at_length = 1;
    else if (text[i] == '%' && iequals_at(text, i, "%40")) at_length = 3;
    if (at_length == 0) continue;
    std::size_t begin = i;
    while (begin > 0 && is_local_part_char(static_cast<unsigned char>(text[begin - 1]))) --begin;
    std::size_t end = i + at_length;
    while (end < text.size() && is_domain_char(static_cast<unsigned char>(text[end]))) ++end;
    while (end > i + at_length && (text[end - 1] == '.' || text[end - 1] == '-')) --end;  // "... a@b.com."
    if (begin < i && end > i + at_length) {
      spans.push_back({begin, end, email_label});
      i = end - 1;
    }
  }
}

// Seven or more digits, possibly after '+' or '(' and with spaces, dashes, dots, slashes or brackets between
// them (at most two in a row): +44 20 7946 0958, (555) 123-4567, 0044.7700.900123, +1/555/1234567.
void find_phones(std::string_view text, std::vector<Span>& spans) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool opens = is_digit(c) || ((c == '+' || c == '(') && i + 1 < text.size() &&
                                       is_digit(static_cast<unsigned char>(text[i + 1])));
    if (!opens) {
      ++i;
      continue;
    }
    std::size_t digits = 0, separators_in_a_row = 0, last_digit_end = i, j = i;
    if (!is_digit(c)) ++j;
    for (; j < text.size(); ++j) {
      const auto d = static_cast<unsigned char>(text[j]);
      if (is_digit(d)) {
        ++digits;
        separators_in_a_row = 0;
        last_digit_end = j + 1;
      } else if (is_phone_separator(d) && ++separators_in_a_row <= 2) {
        continue;
      } else {
        break;
      }
    }
    if (digits >= 7) spans.push_back({i, last_digit_end, phone_label});
    i = std::max(last_digit_end, i + 1);
  }
}

// Names whose value is a secret, lower case; matched case-insensitively anywhere ("X-Ometria-Auth", "apiKey",
// "webhook_token", "writeKey"), then followed by ':' or '=' (quotes and spaces allowed around).
constexpr std::array<std::string_view, 11> secret_names = {
    "apikey", "api_key", "api-key", "auth", "authorization", "token", "password", "passwd", "secret", "writekey",
    "write_key"};

bool is_quote(char c) { return c == '"' || c == '\'' || c == '\\'; }

void find_secrets(std::string_view text, std::vector<Span>& spans) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char first = lower(static_cast<unsigned char>(text[i]));
    if (first != 'a' && first != 't' && first != 'p' && first != 's' && first != 'w') continue;
    std::size_t after_name = 0;
    for (const auto name : secret_names) {
      if (iequals_at(text, i, name)) after_name = std::max(after_name, i + name.size());
    }
    if (after_name == 0) continue;
    std::size_t j = after_name;
    while (j < text.size() && (is_quote(text[j]) || text[j] == ' ')) ++j;
    if (j >= text.size() || (text[j] != ':' && text[j] != '=')) continue;
    ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    const bool quoted = j < text.size() && is_quote(text[j]);
    while (j < text.size() && is_quote(text[j])) ++j;
    if (j < text.size() && (text[j] == '{' || text[j] == '[')) continue;  // a structure, not the secret itself
    auto value_end = [&](std::size_t from) {
      std::size_t k = from;
      if (quoted) {
        while (k < text.size() && !is_quote(text[k])) ++k;
      } else {
        constexpr std::string_view value_ends = " \t\r\n,&;})]\"'\\";
        while (k < text.size() && value_ends.find(text[k]) == std::string_view::npos) ++k;
      }
      return k;
    };
    std::size_t end = value_end(j);
    // "Authorization: Basic dXNlcg==": the scheme is harmless, the credentials after it are the secret.
    if (!quoted && end < text.size() && text[end] == ' ' &&
        (iequals_at(text, j, "basic") || iequals_at(text, j, "bearer") || iequals_at(text, j, "token"))) {
      end = value_end(end + 1);
    }
    if (end > j) {
      spans.push_back({j, end, secret_label});
      i = end - 1;
    }
  }
}

}  // namespace

std::string redact(std::string_view text, bool keep_pii) {
  std::vector<Span> spans;
  find_secrets(text, spans);
  if (!keep_pii) {
    find_emails(text, spans);
    find_phones(text, spans);
  }
  if (spans.empty()) return std::string(text);
  std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(text.size());
  std::size_t copied = 0;
  for (std::size_t s = 0; s < spans.size();) {
    Span merged = spans[s++];
    while (s < spans.size() && spans[s].begin < merged.end) merged.end = std::max(merged.end, spans[s++].end);
    if (merged.begin < copied) merged.begin = copied;  // cannot happen after merging; kept for safety
    out.append(text.substr(copied, merged.begin - copied));
    out.append(merged.label);
    copied = merged.end;
  }
  out.append(text.substr(copied));
  return out;
}

std::string redact_pii(std::string_view text) {
  return redact(text, detail::g_log_pii.load(std::memory_order_relaxed));
}

std::string loggable_body(std::string_view body) {
  constexpr std::size_t max_logged = 4096;
  std::string text = redact_pii(body);
  if (text.size() > max_logged) {
    text.resize(max_logged);
    text += "... (" + std::to_string(body.size()) + " bytes)";
  }
  return text;
}

std::string answer_excerpt(std::string_view body, std::size_t max_bytes) {
  // Redacted before the cut, so that a cut cannot leave part of an address or number unmasked.
  const std::string redacted = redact(body, /*keep_pii=*/false);
  std::string line;
  line.reserve(std::min(redacted.size(), max_bytes));
  bool in_space = false;
  for (const char c : redacted) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ' ') {
      in_space = true;
      continue;
    }
    if (in_space && !line.empty()) line.push_back(' ');
    in_space = false;
    line.push_back(c);
  }
  if (line.size() <= max_bytes) return line;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  line.resize(cut);
  return line + "... (cut; " + std::to_string(body.size()) + " bytes in all)";
}

}  // namespace omt::obs
