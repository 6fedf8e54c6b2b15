#include "json/out_value.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace omt::json {
namespace dom = simdjson::dom;

// ---- OutObject --------------------------------------------------------------------------------------------
namespace {
// Length and first byte decide most pairs without a call to memcmp (every mapped key is looked up on the way in).
bool same_key(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || (a.front() == b.front() && std::memcmp(a.data(), b.data(), a.size()) == 0));
}
}  // namespace

OutValue* OutObject::find(std::string_view key) {
  for (auto& m : members)
    if (same_key(m.key, key)) return &m.value;
  return nullptr;
}
const OutValue* OutObject::find(std::string_view key) const {
  for (const auto& m : members)
    if (same_key(m.key, key)) return &m.value;
  return nullptr;
}
void OutObject::set(std::string_view key, OutValue value) {
  if (auto* existing = find(key)) {
    *existing = std::move(value);
    return;
  }
  // Room for 8 at the first member: one allocation where growing went through 1, 2, 4 and 8 (the growth was 1.3 %
  // of a profile of the identify load; an object of more members grows from 8 as before).
  if (members.capacity() == 0) members.reserve(8);
  members.push_back(OutMember{key, std::move(value)});
}
void OutObject::erase(std::string_view key) {
  members.erase(std::remove_if(members.begin(), members.end(), [&](const OutMember& m) { return m.key == key; }),
                members.end());
}

// ---- truthiness --------------------------------------------------------------------------------------------
bool truthy(dom::element e) {
  switch (e.type()) {
    case dom::element_type::NULL_VALUE: return false;
    case dom::element_type::BOOL: return bool(e.get_bool().value_unsafe());
    case dom::element_type::INT64: return int64_t(e.get_int64().value_unsafe()) != 0;
    case dom::element_type::UINT64: return uint64_t(e.get_uint64().value_unsafe()) != 0;
    case dom::element_type::DOUBLE: return double(e.get_double().value_unsafe()) != 0.0;
    case dom::element_type::STRING: return !std::string_view(e.get_string().value_unsafe()).empty();
    default: return true;  // objects and arrays, even empty ones
  }
}

bool qualifies(dom::element e) {
  if (e.is_null()) return false;
  if (e.is_string()) return !std::string_view(e.get_string().value_unsafe()).empty();
  return true;
}

bool truthy(const OutValue& value) {
  return std::visit(
      [](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) return false;
        else if constexpr (std::is_same_v<T, bool>) return x;
        else if constexpr (std::is_same_v<T, std::string_view>) return !x.empty();
        else if constexpr (std::is_same_v<T, dom::element>) return truthy(x);
        else return true;
      },
      value.v);
}

bool same_json(dom::element a, dom::element b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case dom::element_type::OBJECT: {
      const dom::object x = as_object(a), y = as_object(b);
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j)
        if (i.key() != j.key() || !same_json(i.value(), j.value())) return false;
      return true;
    }
    case dom::element_type::ARRAY: {
      const dom::array x = as_array(a), y = as_array(b);
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j)
        if (!same_json(*i, *j)) return false;
      return true;
    }
    case dom::element_type::STRING: return a.get_string().value_unsafe() == b.get_string().value_unsafe();
    case dom::element_type::INT64: return int64_t(a.get_int64().value_unsafe()) == int64_t(b.get_int64().value_unsafe());
    case dom::element_type::UINT64: return uint64_t(a.get_uint64().value_unsafe()) == uint64_t(b.get_uint64().value_unsafe());
    case dom::element_type::DOUBLE: {
      const double x = a.get_double().value_unsafe(), y = b.get_double().value_unsafe();
      return std::memcmp(&x, &y, sizeof x) == 0;  // -0 and 0 apart, as they print apart
    }
    case dom::element_type::BOOL: return bool(a.get_bool().value_unsafe()) == bool(b.get_bool().value_unsafe());
    case dom::element_type::NULL_VALUE: return true;
  }
  return false;
}

std::string_view type_name(dom::element e) {
  switch (e.type()) {
    case dom::element_type::ARRAY: return "array";
    case dom::element_type::OBJECT: return "object";
    case dom::element_type::STRING: return "string";
    case dom::element_type::BOOL: return "boolean";
    case dom::element_type::NULL_VALUE: return "null";
    default: return "number";
  }
}

// ---- strings and numbers -----------------------------------------------------------------------------------
namespace {
// The bytes JSON.stringify escapes (control characters, '"' and '\\'), by how many bytes the escape adds.
constexpr std::array<std::uint8_t, 256> escape_extra = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 5;  // \u00XX
  for (unsigned char c : {'\b', '\f', '\n', '\r', '\t', '"', '\\'}) t[c] = 1;
  return t;
}();
// The letter after the backslash of a two-byte escape; 0 for the \u00XX ones.
constexpr std::array<char, 256> escape_letter = [] {
  std::array<char, 256> t{};
  t['"'] = '"';
  t['\\'] = '\\';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  return t;
}();

char* write_escape(char* w, unsigned char c) {
  static constexpr char hex[] = "0123456789abcdef";
  *w++ = '\\';
  if (const char letter = escape_letter[c]) {
    *w++ = letter;
    return w;
  }
  *w++ = 'u';
  *w++ = '0';
  *w++ = '0';
  *w++ = hex[c >> 4];
  *w++ = hex[c & 0xF];
  return w;
}

#if defined(__SSE2__)
// 16 bytes at a time (SSE2 is part of x86-64): the records escaped into the answers have a '"' every few bytes,
// and a byte at a time was a fifth of a 100-event request.
struct EscapeMasks {
  __m128i quote_or_backslash;  // 0xFF where the byte is '"' or '\\'
  __m128i control;             // 0xFF where the byte is below 0x20
};
inline EscapeMasks escape_masks(__m128i v) {
  const __m128i is_control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
  const __m128i is_quote = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  return {is_quote, is_control};
}
inline std::uint64_t sum_bytes(__m128i counts) {
  const __m128i sums = _mm_sad_epu8(counts, _mm_setzero_si128());
  return static_cast<std::uint64_t>(_mm_cvtsi128_si64(sums)) +
         static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
}
#endif

// How many bytes escaping `s` adds.
std::size_t escaped_extra_one_at_a_time(const unsigned char* p, std::size_t n) {
  std::size_t extra = 0;
  for (; n > 0; ++p, --n) extra += escape_extra[*p];
  return extra;
}

std::size_t escaped_extra(const unsigned char* const begin, const std::size_t size) {
#if defined(__SSE2__)
  const unsigned char* p = begin;
  std::size_t n = size, extra = 0;
  while (n >= 16) {
    // Per-byte counters (a matching byte subtracts 0xFF, i.e. adds 1), summed before they can wrap.
    __m128i quotes = _mm_setzero_si128(), controls = _mm_setzero_si128();
    for (int round = 0; round < 255 && n >= 16; ++round, p += 16, n -= 16) {
      const EscapeMasks m = escape_masks(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      quotes = _mm_sub_epi8(quotes, m.quote_or_backslash);
      controls = _mm_sub_epi8(controls, m.control);
    }
    // Control characters escape to 2 bytes (\n) or 6 (\u0001): rare enough to count those strings a byte at a time.
    if (sum_bytes(controls) != 0) return escaped_extra_one_at_a_time(begin, size);
    extra += sum_bytes(quotes);
  }
  return extra + escaped_extra_one_at_a_time(p, n);
#else
  return escaped_extra_one_at_a_time(begin, size);
#endif
}

// Writes the escaped bytes of [p, p + n) at w; the destination holds at least n + extra bytes and one more.
char* write_escaped_bytes(char* w, const unsigned char* p, std::size_t n) {
#if defined(__SSE2__)
  // A block is stored whole, then the pointer moves only past its plain prefix: the stores stay within the
  // destination, whose remaining size is never below the remaining source plus the closing quote.
  while (n >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const EscapeMasks m = escape_masks(v);
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(m.quote_or_backslash, m.control)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w), v);
    if (mask == 0) {
      p += 16;
      w += 16;
      n -= 16;
      continue;
    }
    const auto plain = static_cast<std::size_t>(__builtin_ctz(mask));
    w = write_escape(w + plain, p[plain]);
    p += plain + 1;
    n -= plain + 1;
  }
#endif
  for (; n > 0; ++p, --n) {
    if (escape_extra[*p] == 0) *w++ = static_cast<char>(*p);
    else w = write_escape(w, *p);
  }
  return w;
}

// Appends the escaped text of each piece, in order, with one resize: the escaped length is counted first.
char* grow_for_escaped(std::string& out, std::size_t raw_bytes, std::size_t extra) {
  const std::size_t at = out.size();
  out.resize(at + raw_bytes + extra);
  return out.data() + at;
}

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

void write_string(std::string& out, std::string_view s) {
  const std::size_t extra = escaped_extra(bytes_of(s), s.size());
  if (extra == 0) {
    // Most keys and values: appended, since a resize would first zero the bytes (a memset call per string).
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return;
  }
  char* w = grow_for_escaped(out, s.size() + 2, extra);
  *w++ = '"';
  w = write_escaped_bytes(w, bytes_of(s), s.size());
  *w = '"';
}

void write_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON.stringify(Infinity)
    return;
  }
  if (d == 0) {
    out.push_back('0');  // also -0
    return;
  }
  if (d < 0) {
    out.push_back('-');
    d = -d;
  }
  char buf[64];
  // Prices and quantities: between 1e-6 and 2^53 JavaScript writes the shortest round-trip digits without an
  // exponent, and every such double has an exact integer part, so the shortest fixed notation is the same text.
  if (d >= 1e-6 && d < 9007199254740992.0) {
    const auto res = d == std::floor(d) ? std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(d))
                                        : std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
    out.append(buf, static_cast<std::size_t>(res.ptr - buf));
    return;
  }
  // Shortest round-trip digits, then ECMAScript's Number::toString layout.
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  const auto e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits.push_back(c);
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
}

namespace {
constexpr std::int64_t max_safe_integer = (std::int64_t{1} << 53);

// V8 puts "array index" keys (canonical decimal below 2^32 - 1) first, in ascending numeric order.
bool array_index(std::string_view key, std::uint32_t& index) {
  if (key.empty() || key.size() > 10) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  std::uint64_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v >= 4294967295ULL) return false;
  index = static_cast<std::uint32_t>(v);
  return true;
}

// Where the writers below put their JSON text. Structure, numbers and literals are the same bytes in both; only
// quotes and the strings between them differ.
// PlainText: the text itself.
struct PlainText {
  std::string& out;
  void string(std::string_view s) { write_string(out, s); }
};
// StringContent: the text as the content of a JSON string, i.e. what write_string of the text would put between
// its quotes, written in one pass instead of the text first and its escaping after; `added` counts the bytes
// the escaping adds, so that the text's own length is known too.
struct StringContent {
  std::string& out;
  std::size_t added = 0;
  void string(std::string_view s) {
    if (escaped_extra(bytes_of(s), s.size()) == 0) {  // nearly every key and value: nothing to escape inside
      out.reserve(out.size() + s.size() + 4);
      out.append("\\\"", 2);
      out.append(s);
      out.append("\\\"", 2);
      added += 2;
      return;
    }
    std::string once;  // the string literal, escaped once; then escaped again as part of the text
    write_string(once, s);
    const std::size_t extra = escaped_extra(bytes_of(once), once.size());
    write_escaped_bytes(grow_for_escaped(out, once.size(), extra), bytes_of(once), once.size());
    added += extra;
  }
};

template <class Sink>
void write_element(Sink& sink, dom::element e);
template <class Sink>
void write_value(Sink& sink, const OutValue& value);

template <class Sink, class Member, class KeyOf, class WriteValue>
void write_members(Sink& sink, std::span<Member> members, KeyOf key_of, WriteValue write_member_value) {
  bool any_index = false;
  std::uint32_t ignored;
  for (const auto& m : members)
    if (array_index(key_of(m), ignored)) {
      any_index = true;
      break;
    }
  if (any_index) {
    std::stable_sort(members.begin(), members.end(), [&](const Member& a, const Member& b) {
      std::uint32_t ia = 0, ib = 0;
      const bool xa = array_index(key_of(a), ia), xb = array_index(key_of(b), ib);
      if (xa != xb) return xa;
      return xa && ia < ib;
    });
  }
  sink.out.push_back('{');
  bool first = true;
  for (const auto& m : members) {
    if (!first) sink.out.push_back(',');
    first = false;
    sink.string(key_of(m));
    sink.out.push_back(':');
    write_member_value(m);
  }
  sink.out.push_back('}');
}

struct ElementMember {
  std::string_view key;
  dom::element value;
};

// Most objects of an event are small: their members are gathered on the stack, larger ones in a vector.
constexpr std::size_t members_on_stack = 16;  // 512 bytes a level, at simdjson's depth limit of 1024 still well within a stack

template <class Sink>
void write_object(Sink& sink, dom::object obj) {
  // JSON.parse keeps the last value of a duplicated key, at the position of its first occurrence.
  std::array<ElementMember, members_on_stack> small;
  std::vector<ElementMember> large;
  const std::size_t count = obj.size();
  if (count > members_on_stack) large.resize(count);
  const std::span<ElementMember> slots = count > members_on_stack ? std::span<ElementMember>(large) : std::span<ElementMember>(small);
  std::size_t used = 0;
  for (auto field : obj) {
    const std::string_view key = field.key;
    bool duplicate = false;
    for (std::size_t i = 0; i < used; ++i)
      if (slots[i].key == key) {
        slots[i].value = field.value;
        duplicate = true;
        break;
      }
    if (!duplicate) slots[used++] = ElementMember{key, field.value};
  }
  write_members(
      sink, slots.first(used), [](const ElementMember& m) { return m.key; },
      [&](const ElementMember& m) { write_element(sink, m.value); });
}

template <class Sink>
void write_element(Sink& sink, dom::element e) {
  std::string& out = sink.out;
  switch (e.type()) {
    case dom::element_type::OBJECT: write_object(sink, e.get_object().value_unsafe()); return;
    case dom::element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (auto item : json::as_array(e)) {
        if (!first) out.push_back(',');
        first = false;
        write_element(sink, item);
      }
      out.push_back(']');
      return;
    }
    case dom::element_type::STRING: sink.string(e.get_string().value_unsafe()); return;
    case dom::element_type::INT64: {
      const std::int64_t v = e.get_int64().value_unsafe();
      if (v > -max_safe_integer && v < max_safe_integer) out += std::to_string(v);
      else write_number(out, static_cast<double>(v));  // JSON.parse reads it as a double
      return;
    }
    case dom::element_type::UINT64: {
      const std::uint64_t v = e.get_uint64().value_unsafe();
      if (v < static_cast<std::uint64_t>(max_safe_integer)) out += std::to_string(v);
      else write_number(out, static_cast<double>(v));
      return;
    }
    case dom::element_type::DOUBLE: write_number(out, e.get_double().value_unsafe()); return;
    case dom::element_type::BOOL: out += e.get_bool().value_unsafe() ? "true" : "false"; return;
    case dom::element_type::NULL_VALUE: out += "null"; return;
  }
}

template <class Sink>
void write_value(Sink& sink, const OutValue& value) {
  std::string& out = sink.out;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) out += "null";
        else if constexpr (std::is_same_v<T, bool>) out += x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string_view>) sink.string(x);
        else if constexpr (std::is_same_v<T, dom::element>) write_element(sink, x);
        else if constexpr (std::is_same_v<T, OutArray>) {
          out.push_back('[');
          bool first = true;
          for (const auto& item : x.items) {
            if (!first) out.push_back(',');
            first = false;
            write_value(sink, item);
          }
          out.push_back(']');
        } else {
          // Sorting index keys must not reorder the caller's object: sort a view of it, when it has such keys.
          std::uint32_t ignored;
          if (std::none_of(x.members.begin(), x.members.end(), [&](const OutMember& m) { return array_index(m.key, ignored); })) {
            out.push_back('{');
            bool first = true;
            for (const auto& m : x.members) {
              if (!first) out.push_back(',');
              first = false;
              sink.string(m.key);
              out.push_back(':');
              write_value(sink, m.value);
            }
            out.push_back('}');
            return;
          }
          std::vector<const OutMember*> members;
          members.reserve(x.members.size());
          for (const auto& m : x.members) members.push_back(&m);
          write_members(
              sink, std::span<const OutMember*>(members), [](const OutMember* m) { return m->key; },
              [&](const OutMember* m) { write_value(sink, m->value); });
        }
      },
      value.v);
}

}  // namespace

void write(std::string& out, dom::element e) {
  PlainText sink{out};
  write_element(sink, e);
}

void write(std::string& out, const OutValue& value) {
  PlainText sink{out};
  write_value(sink, value);
}

std::size_t write_as_string_content(std::string& out, const OutValue& value) {
  const std::size_t before = out.size();
  StringContent sink{out};
  write_value(sink, value);
  return out.size() - before - sink.added;
}

void write_string_of_array(std::string& out, std::span<const std::string_view> escaped_items) {
  std::size_t size = 4 + (escaped_items.empty() ? 0 : escaped_items.size() - 1);  // "[ ]" and the commas
  for (const auto item : escaped_items) size += item.size();
  out.reserve(out.size() + size);
  out.append("\"[", 2);
  for (std::size_t i = 0; i < escaped_items.size(); ++i) {
    if (i) out.push_back(',');
    out.append(escaped_items[i]);
  }
  out.append("]\"", 2);
}

Error wrong_type(std::string_view where, std::string_view expected, simdjson::dom::element got) {
  return Error{errc::instrumentation, std::string(where) + " must be " + std::string(expected) + ", got " + std::string(type_name(got)),
               std::string(where)};
}

}  // namespace omt::json
