// The import's readers: JSON Lines over plain and gzip files (lines, places and offsets, over-long lines,
// concatenated gzip members, a truncated gzip), and the folder walk.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "compress.hpp"
#include "omt/import/file_source.hpp"
#include "omt/import/json_lines_reader.hpp"

namespace {

namespace fs = std::filesystem;
using namespace omt::import;

class ImportReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "omt-import-reader-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path write(const std::string& name, const std::string& bytes) {
    const auto path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::vector<Item> read_all(const fs::path& path, InputFormat format) {
    auto source = open_file_source(path);
    EXPECT_TRUE(source) << source.error().message;
    JsonLinesReader reader(std::move(*source), path.filename().string(), format);
    std::vector<Item> items;
    for (;;) {
      auto item = reader.next();
      EXPECT_TRUE(item) << item.error().message;
      if (!item || !*item) break;
      items.push_back(std::move(**item));
    }
    return items;
  }
  fs::path dir_;
};

TEST_F(ImportReaderTest, LinesKeepTheirNumbersAndEndOffsetsAcrossBlankLinesAndCrLf) {
  const std::string text = "{\"type\":\"track\"}\r\n\n  \n{\"type\":\"identify\"}";  // no newline at the end
  const auto items = read_all(write("events.jsonl", text), InputFormat::events);
  ASSERT_EQ(items.size(), 2u);
  const auto& first = std::get<EventItem>(items[0]);
  EXPECT_EQ(first.json, "{\"type\":\"track\"}");
  EXPECT_EQ(first.at.line, 1u);
  EXPECT_EQ(first.at.end_offset, 18u);
  const auto& second = std::get<EventItem>(items[1]);
  EXPECT_EQ(second.at.line, 4u);
  EXPECT_EQ(second.at.end_offset, text.size());
  EXPECT_EQ(second.at.file, "events.jsonl");
}

TEST_F(ImportReaderTest, RecordsAreCheckedIntoRecordsAndBadRows) {
  const auto items = read_all(write("records.jsonl", "{\"@type\":\"product\",\"id\":\"p\",\"title\":\"T\",\"price\":1}\n"
                                                     "{\"@type\":\"product\",\"id\":\"p\"}\n"),
                              InputFormat::records);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(std::get<RecordItem>(items[0]).type, omt::ometria::RecordType::product);
  const auto& bad = std::get<BadRow>(items[1]);
  EXPECT_EQ(bad.at.line, 2u);
  EXPECT_EQ(bad.field, "title");
  EXPECT_EQ(bad.reason, "is required");
}

TEST_F(ImportReaderTest, ALineOverTheLimitIsABadRowAndReadingGoesOn) {
  const std::string huge(max_line_bytes + 10, 'x');
  const auto items = read_all(write("long.jsonl", huge + "\n{\"a\":1}\n"), InputFormat::events);
  ASSERT_EQ(items.size(), 2u);
  const auto& bad = std::get<BadRow>(items[0]);
  EXPECT_NE(bad.reason.find("line longer than"), std::string::npos);
  EXPECT_EQ(bad.at.end_offset, huge.size() + 1);
  EXPECT_EQ(std::get<EventItem>(items[1]).json, "{\"a\":1}");
  EXPECT_EQ(std::get<EventItem>(items[1]).at.line, 2u);
}

TEST_F(ImportReaderTest, ALineAcrossBufferBoundariesIsWhole) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(300, 'p') + "\"}\n";
  const auto items = read_all(write("many.jsonl", text), InputFormat::events);
  ASSERT_EQ(items.size(), 2000u);
  EXPECT_EQ(std::get<EventItem>(items[1999]).json.rfind("{\"n\":1999,", 0), 0u);
  EXPECT_EQ(std::get<EventItem>(items[1999]).at.end_offset, text.size());
}

TEST_F(ImportReaderTest, GzipMembersOneAfterTheOtherAreOneText) {
  const auto path = write("two.json.gz", omt::test::gzip("{\"a\":1}\n") + omt::test::gzip("{\"a\":2}\n"));
  const auto items = read_all(path, InputFormat::events);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(std::get<EventItem>(items[1]).json, "{\"a\":2}");
  EXPECT_EQ(std::get<EventItem>(items[1]).at.end_offset, 16u);  // decompressed bytes
  // The magic bytes say gzip whatever the name.
  EXPECT_TRUE(*is_gzip_file(write("no-extension", omt::test::gzip("x"))));
  EXPECT_FALSE(*is_gzip_file(write("plain.jsonl", "{}")));
}

TEST_F(ImportReaderTest, ATruncatedGzipIsAnErrorNamingTheFile) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "{\"n\":" + std::to_string(i) + "}\n";
  const std::string gz = omt::test::gzip(text);
  const auto path = write("cut.json.gz", gz.substr(0, gz.size() - 20));
  auto source = open_file_source(path);
  ASSERT_TRUE(source);
  JsonLinesReader reader(std::move(*source), path.string(), InputFormat::events);
  for (;;) {
    auto item = reader.next();
    if (!item) {
      EXPECT_EQ(item.error().message, path.string() + ": truncated gzip: the file ends inside compressed data");
      return;
    }
    ASSERT_TRUE(*item) << "read to the end without noticing the truncation";
  }
}

TEST_F(ImportReaderTest, AFolderIsWalkedRecursivelyInSortedOrder) {
  write("archive/b/2.json.gz", "x");
  write("archive/a/9.json.gz", "x");
  write("archive/a/10.json.gz", "x");
  write("archive/.tmp/skip.json", "x");
  write("archive/.hidden.json", "x");
  auto files = input_files(dir_ / "archive");
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0], dir_ / "archive/a/10.json.gz");
  EXPECT_EQ((*files)[1], dir_ / "archive/a/9.json.gz");
  EXPECT_EQ((*files)[2], dir_ / "archive/b/2.json.gz");
  auto missing = input_files(dir_ / "nothing-here");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no such file or folder"), std::string::npos);
  auto first = first_non_empty_line(write("lead.jsonl", "\n \n{\"@type\":\"contact\"}\nsecond\n"));
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "{\"@type\":\"contact\"}");
}

}  // namespace
