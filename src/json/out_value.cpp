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

// ---- the cursor every writer below stores through ---------------------------------------------------------------
namespace {

// Appends to a string through a raw pointer: room(n) makes n bytes of space past what was written (growing the
// string, whose new bytes are zeroed once, by at least an eighth so that growth stays amortised), the writers
// store into it and commit the end. The string is cut back to what was written when the Writer goes. A byte at a
// time through std::string (push_back and append, each a call with its own capacity check) was a tenth of a
// one-identify request. While a Writer lives, nothing else may write to its string.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out), length_(out.size()) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { out_.resize(length_); }

  char* room(std::size_t n) {
    if (out_.size() - length_ < n) [[unlikely]] grow(n);
    return out_.data() + length_;
  }
  void commit(const char* end) { length_ = static_cast<std::size_t>(end - out_.data()); }
  void put(char c) {
    *room(1) = c;
    ++length_;
  }
  void put(std::string_view s) {
    std::memcpy(room(s.size()), s.data(), s.size());
    length_ += s.size();
  }
  std::size_t length() const { return length_; }

 private:
  // Out of line: room() and put() are a compare and a store wherever they are inlined.
  [[gnu::noinline]] void grow(std::size_t n) { out_.resize(length_ + std::max(n, 256 + length_ / 8)); }

  std::string& out_;
  std::size_t length_;
};

}  // namespace

// ---- strings and numbers -----------------------------------------------------------------------------------
namespace {
// The bytes JSON.stringify escapes (control characters, '"' and '\\').
constexpr std::array<bool, 256> escaped_byte = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
  t['"'] = t['\\'] = true;
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
constexpr char hex_digits[] = "0123456789abcdef";

// Room a string needs at most, escaped once (\u00XX: 6 bytes a byte) with its quotes, and escaped once more as
// string content (\\u00XX: 7 bytes a byte) with its escaped quotes.
constexpr std::size_t once_room(std::size_t n) { return 6 * n + 2; }
constexpr std::size_t content_room(std::size_t n) { return 7 * n + 4; }

// JSON.stringify's escape of byte c.
struct EscapeOnce {
  char* operator()(char* w, unsigned char c) const {
    *w++ = '\\';
    if (const char letter = escape_letter[c]) {
      *w++ = letter;
      return w;
    }
    *w++ = 'u';
    *w++ = '0';
    *w++ = '0';
    *w++ = hex_digits[c >> 4];
    *w++ = hex_digits[c & 0xF];
    return w;
  }
};

// The same escape escaped again, as the content of a JSON string: \" becomes \\\", \n becomes \\n, \u0001
// becomes \\u0001. `added` counts the bytes the second escaping adds.
struct EscapeTwice {
  std::size_t& added;
  char* operator()(char* w, unsigned char c) const {
    *w++ = '\\';
    *w++ = '\\';
    if (const char letter = escape_letter[c]) {
      if (letter == '"' || letter == '\\') {
        *w++ = '\\';
        added += 2;
      } else {
        added += 1;
      }
      *w++ = letter;
      return w;
    }
    added += 1;
    *w++ = 'u';
    *w++ = '0';
    *w++ = '0';
    *w++ = hex_digits[c >> 4];
    *w++ = hex_digits[c & 0xF];
    return w;
  }
};

// Copies [p, p + n) to w, escaping what JSON.stringify escapes, in one pass. The destination holds the
// escaped bytes at most (once_room, content_room): a block of 16 is stored whole and the pointer then moves
// only past its plain prefix, which never reaches past that room.
// Whether any of the 8 bytes of x is one JSON.stringify escapes (below 0x20, '"' or '\\'): the classic tests
// for a byte below n and for a zero byte, which are exact about whether there is one.
constexpr bool any_escaped_byte(std::uint64_t x) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const std::uint64_t below_space = (x - ones * 0x20) & ~x & highs;
  const std::uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
  const std::uint64_t quote = (q - ones) & ~q & highs, backslash = (b - ones) & ~b & highs;
  return (below_space | quote | backslash) != 0;
}
template <std::size_t N>
std::uint64_t load_bytes(const unsigned char* p) {
  if constexpr (N == 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    return x;
  } else {
    std::uint32_t x;
    std::memcpy(&x, p, 4);
    return x;
  }
}

// The bytes of a short string (4 to 16) with nothing to escape, the usual key or value: checked and copied as two
// overlapping words, without a loop. False when there is something to escape (nothing is written then).
bool copy_plain_short(char* w, const unsigned char* p, std::size_t n) {
  if (n >= 8) {
    const std::uint64_t head = load_bytes<8>(p), tail = load_bytes<8>(p + n - 8);
    if (any_escaped_byte(head) || any_escaped_byte(tail)) return false;
    std::memcpy(w, &head, 8);
    std::memcpy(w + n - 8, &tail, 8);
    return true;
  }
  const std::uint64_t head = load_bytes<4>(p), tail = load_bytes<4>(p + n - 4);
  if (any_escaped_byte(head | (tail << 32))) return false;
  const auto head4 = static_cast<std::uint32_t>(head), tail4 = static_cast<std::uint32_t>(tail);
  std::memcpy(w, &head4, 4);
  std::memcpy(w + n - 4, &tail4, 4);
  return true;
}

template <class Escape>
char* copy_escaping(char* w, const unsigned char* p, std::size_t n, Escape escape) {
  if (n >= 4 && n < 16 && copy_plain_short(w, p, n)) return w + n;
#if defined(__SSE2__)
  // 16 bytes at a time (SSE2 is part of x86-64): the records escaped into the answers have a '"' every few bytes.
  while (n >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    const __m128i quote = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(quote, control)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w), v);
    if (mask == 0) {
      p += 16;
      w += 16;
      n -= 16;
      continue;
    }
    const auto plain = static_cast<std::size_t>(__builtin_ctz(mask));
    w = escape(w + plain, p[plain]);
    p += plain + 1;
    n -= plain + 1;
  }
#endif
  for (; n > 0; ++p, --n) {
    if (!escaped_byte[*p]) *w++ = static_cast<char>(*p);
    else w = escape(w, *p);
  }
  return w;
}

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// A long string goes in pieces, so that the room asked for stays a few KiB above what it takes (a 10 MB value
// would otherwise zero 70 MB); escaping is byte by byte, so a piece may end anywhere.
constexpr std::size_t escape_piece = 1024;
template <class Escape>
void put_escaped_pieces(Writer& w, std::string_view s, std::size_t room_per_byte, Escape escape) {
  for (std::size_t at = 0; at < s.size(); at += escape_piece) {
    const std::size_t take = std::min(escape_piece, s.size() - at);
    w.commit(copy_escaping(w.room(room_per_byte * take), bytes_of(s) + at, take, escape));
  }
}

void put_string(Writer& w, std::string_view s) {
  if (s.size() > escape_piece) {
    w.put('"');
    put_escaped_pieces(w, s, once_room(1), EscapeOnce{});
    w.put('"');
    return;
  }
  char* p = w.room(once_room(s.size()));
  *p++ = '"';
  p = copy_escaping(p, bytes_of(s), s.size(), EscapeOnce{});
  *p++ = '"';
  w.commit(p);
}

// Number.prototype.toString of d into buf; returns its length.
constexpr std::size_t number_buffer = 64;
std::size_t number_text(char (&buf)[number_buffer], double d) {
  if (!std::isfinite(d)) {
    std::memcpy(buf, "null", 4);  // JSON.stringify(Infinity)
    return 4;
  }
  if (d == 0) {
    buf[0] = '0';  // also -0
    return 1;
  }
  char* w = buf;
  if (d < 0) {
    *w++ = '-';
    d = -d;
  }
  char* const end = buf + number_buffer;
  // Prices and quantities: between 1e-6 and 2^53 JavaScript writes the shortest round-trip digits without an
  // exponent, and every such double has an exact integer part, so the shortest fixed notation is the same text.
  if (d >= 1e-6 && d < 9007199254740992.0) {
    const auto res = d == std::floor(d) ? std::to_chars(w, end, static_cast<std::int64_t>(d))
                                        : std::to_chars(w, end, d, std::chars_format::fixed);
    return static_cast<std::size_t>(res.ptr - buf);
  }
  // Shortest round-trip digits, then ECMAScript's Number::toString layout (at most 17 digits and an exponent of
  // three: well within the buffer).
  char sci_buf[32];
  const auto res = std::to_chars(sci_buf, sci_buf + sizeof sci_buf, d, std::chars_format::scientific);
  const std::string_view sci(sci_buf, static_cast<std::size_t>(res.ptr - sci_buf));
  const auto e_pos = sci.find('e');
  char digits[24];
  int k = 0;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits[k++] = c;
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
  const int n = exponent + 1;
  auto put = [&](const char* from, int count) {
    std::memcpy(w, from, static_cast<std::size_t>(count));
    w += count;
  };
  auto zeros = [&](int count) {
    std::memset(w, '0', static_cast<std::size_t>(count));
    w += count;
  };
  if (k <= n && n <= 21) {
    put(digits, k);
    zeros(n - k);
  } else if (0 < n && n <= 21) {
    put(digits, n);
    *w++ = '.';
    put(digits + n, k - n);
  } else if (-6 < n && n <= 0) {
    put("0.", 2);
    zeros(-n);
    put(digits, k);
  } else {
    *w++ = digits[0];
    if (k > 1) {
      *w++ = '.';
      put(digits + 1, k - 1);
    }
    *w++ = 'e';
    *w++ = n - 1 >= 0 ? '+' : '-';
    w = std::to_chars(w, end, std::abs(n - 1)).ptr;
  }
  return static_cast<std::size_t>(w - buf);
}

void put_number(Writer& w, double d) {
  char buf[number_buffer];
  w.put(std::string_view(buf, number_text(buf, d)));
}

template <class Integer>
void put_integer(Writer& w, Integer v) {
  char* p = w.room(24);
  w.commit(std::to_chars(p, p + 24, v).ptr);
}

}  // namespace

void write_string(std::string& out, std::string_view s) {
  Writer w(out);
  put_string(w, s);
}

void write_number(std::string& out, double d) {
  char buf[number_buffer];
  out.append(buf, number_text(buf, d));
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
  Writer& w;
  void string(std::string_view s) { put_string(w, s); }
};
// StringContent: the text as the content of a JSON string, i.e. what write_string of the text would put between
// its quotes, written in one pass instead of the text first and its escaping after; `added` counts the bytes
// the escaping adds, so that the text's own length is known too.
struct StringContent {
  Writer& w;
  std::size_t added = 0;
  void string(std::string_view s) {
    added += 2;  // its quotes, \" each
    if (s.size() > escape_piece) {
      w.put(std::string_view("\\\"", 2));
      put_escaped_pieces(w, s, content_room(1), EscapeTwice{added});
      w.put(std::string_view("\\\"", 2));
      return;
    }
    char* p = w.room(content_room(s.size()));
    *p++ = '\\';
    *p++ = '"';
    p = copy_escaping(p, bytes_of(s), s.size(), EscapeTwice{added});
    *p++ = '\\';
    *p++ = '"';
    w.commit(p);
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
  sink.w.put('{');
  bool first = true;
  for (const auto& m : members) {
    if (!first) sink.w.put(',');
    first = false;
    sink.string(key_of(m));
    sink.w.put(':');
    write_member_value(m);
  }
  sink.w.put('}');
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
  Writer& w = sink.w;
  switch (e.type()) {
    case dom::element_type::OBJECT: write_object(sink, e.get_object().value_unsafe()); return;
    case dom::element_type::ARRAY: {
      w.put('[');
      bool first = true;
      for (auto item : json::as_array(e)) {
        if (!first) w.put(',');
        first = false;
        write_element(sink, item);
      }
      w.put(']');
      return;
    }
    case dom::element_type::STRING: sink.string(e.get_string().value_unsafe()); return;
    case dom::element_type::INT64: {
      const std::int64_t v = e.get_int64().value_unsafe();
      if (v > -max_safe_integer && v < max_safe_integer) put_integer(w, v);
      else put_number(w, static_cast<double>(v));  // JSON.parse reads it as a double
      return;
    }
    case dom::element_type::UINT64: {
      const std::uint64_t v = e.get_uint64().value_unsafe();
      if (v < static_cast<std::uint64_t>(max_safe_integer)) put_integer(w, v);
      else put_number(w, static_cast<double>(v));
      return;
    }
    case dom::element_type::DOUBLE: put_number(w, e.get_double().value_unsafe()); return;
    case dom::element_type::BOOL: w.put(e.get_bool().value_unsafe() ? std::string_view("true") : std::string_view("false")); return;
    case dom::element_type::NULL_VALUE: w.put(std::string_view("null")); return;
  }
}

template <class Sink>
void write_value(Sink& sink, const OutValue& value) {
  Writer& w = sink.w;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) w.put(std::string_view("null"));
        else if constexpr (std::is_same_v<T, bool>) w.put(x ? std::string_view("true") : std::string_view("false"));
        else if constexpr (std::is_same_v<T, std::string_view>) sink.string(x);
        else if constexpr (std::is_same_v<T, dom::element>) write_element(sink, x);
        else if constexpr (std::is_same_v<T, OutArray>) {
          w.put('[');
          bool first = true;
          for (const auto& item : x.items) {
            if (!first) w.put(',');
            first = false;
            write_value(sink, item);
          }
          w.put(']');
        } else {
          // Sorting index keys must not reorder the caller's object: sort a view of it, when it has such keys.
          std::uint32_t ignored;
          if (std::none_of(x.members.begin(), x.members.end(), [&](const OutMember& m) { return array_index(m.key, ignored); })) {
            w.put('{');
            bool first = true;
            for (const auto& m : x.members) {
              if (!first) w.put(',');
              first = false;
              sink.string(m.key);
              w.put(':');
              write_value(sink, m.value);
            }
            w.put('}');
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
  Writer w(out);
  PlainText sink{w};
  write_element(sink, e);
}

void write(std::string& out, const OutValue& value) {
  Writer w(out);
  PlainText sink{w};
  write_value(sink, value);
}

std::size_t write_as_string_content(std::string& out, const OutValue& value) {
  Writer w(out);
  const std::size_t before = w.length();
  StringContent sink{w};
  write_value(sink, value);
  return w.length() - before - sink.added;
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
