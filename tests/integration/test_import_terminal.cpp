// The import's progress in a real terminal: the real binary on a pseudo-terminal (forkpty) of a given width. The
// progress is one logical line redrawn in place (carriage return and erase-line before each drawing, no newline
// until the pass is over) with read, queued, delivered, the rate, the ETA and the errors; it ends showing where the
// import ended; and on an 80-column terminal the same figures come in fewer columns, short of the last (a line that
// wraps cannot be redrawn in place: it scrolls). Without a terminal: plain lines, in test_import_backfill_cap_binary.cpp.
#include <gtest/gtest.h>

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fake_ometria.hpp"
#include "import_harness.hpp"

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kContacts = 400'000;  // long enough for several redraws (200 ms apart) on a fast machine; the compact line fits 80 columns
const std::string kRedraw = "\r\033[K";

struct TerminalRun {
  int exit_code = -1;
  std::string screen;  // every byte the terminal received
};

// The binary with `args` on a new pseudo-terminal `columns` wide: its stdin, stdout and stderr.
TerminalRun run_on_terminal(const std::vector<std::string>& args, unsigned short columns) {
  std::vector<std::string> storage = {OMT_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  winsize size{};
  size.ws_col = columns;
  size.ws_row = 24;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  TerminalRun run;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n > 0) run.screen.append(buffer, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;  // EIO: the child closed its side
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

// What each redraw of the pass's line drew, in order, and where the line ended (the first newline after the first).
struct PassLine {
  std::vector<std::string> drawings;
  std::size_t first = std::string::npos;  // offset of the first drawing
  std::size_t end = std::string::npos;    // offset of the newline that ends the line
};
PassLine pass_line(const std::string& screen, const std::string& begins = "contact pass: read ") {
  PassLine line;
  line.first = screen.find(kRedraw + begins);
  if (line.first == std::string::npos) return line;
  line.end = screen.find('\n', line.first);
  const std::string text = screen.substr(line.first, line.end - line.first);
  for (std::size_t at = text.find(kRedraw); at != std::string::npos;) {
    const std::size_t from = at + kRedraw.size();
    const std::size_t next = text.find(kRedraw, from);
    std::string drawing = text.substr(from, next == std::string::npos ? std::string::npos : next - from);
    while (!drawing.empty() && drawing.back() == '\r') drawing.pop_back();  // the terminal's CR of CR LF
    line.drawings.push_back(std::move(drawing));
    at = next;
  }
  return line;
}

class ImportTerminal : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("queue.db");
    config_ = dir_.file("config.json");
    omt::test::write_import_config(config_, db_, "terminal-key", "normal");
    // Room for every contact in the backfill lane: no serve drains it here, and a full lane would wait for one.
    auto cfg = nlohmann::json::parse(std::ifstream(config_));
    cfg["import"]["max_queued"] = 2 * kContacts;
    std::ofstream(config_) << cfg.dump(2);
    file_ = omt::test::write_identifies(dir_.path(), kContacts, 1)[0];
  }
  std::vector<std::string> import_args() const {
    return {"import", file_.string(), "--source", "shop", "--config", config_.string()};
  }

  omt::testing::TempDir dir_;
  fs::path db_, config_, file_;
};

TEST_F(ImportTerminal, TheProgressIsOneLineRedrawnInPlaceWithEveryFigure) {
  const auto run = run_on_terminal(import_args(), 200);
  ASSERT_EQ(run.exit_code, 0) << run.screen;
  const auto line = pass_line(run.screen);
  ASSERT_NE(line.first, std::string::npos) << "no progress line drawn: " << run.screen;
  ASSERT_NE(line.end, std::string::npos) << run.screen;
  ASSERT_GE(line.drawings.size(), 2u) << "drawn once, never redrawn: " << run.screen;
  // One logical line: redrawn in place until the pass is over, then the summary on a line of its own.
  EXPECT_NE(run.screen.find("Imported: 400,000 of 400,000 records", line.end), std::string::npos) << run.screen;
  bool mid_run_seen = false;
  for (const auto& drawing : line.drawings) {
    EXPECT_EQ(drawing.find('\n'), std::string::npos) << drawing;
    EXPECT_EQ(drawing.rfind("contact pass: read ", 0), 0u) << drawing;
    for (const char* figure : {", queued ", "/400,000", ", delivered ", " records/s", ", errors 0"})
      EXPECT_NE(drawing.find(figure), std::string::npos) << figure << " missing in: " << drawing;
    if (drawing.find(", ETA ") != std::string::npos) mid_run_seen = true;
  }
  EXPECT_TRUE(mid_run_seen) << "no drawing with an ETA: " << run.screen;
  // Left on the terminal: where the import ended.
  EXPECT_NE(line.drawings.back().find("queued 400,000/400,000"), std::string::npos) << line.drawings.back();
  EXPECT_NE(line.drawings.back().find("delivered 0"), std::string::npos) << line.drawings.back();
}

TEST_F(ImportTerminal, OnAnEightyColumnTerminalTheFiguresComeInFewerColumnsShortOfTheLast) {
  constexpr unsigned short columns = 80;
  const auto run = run_on_terminal(import_args(), columns);
  ASSERT_EQ(run.exit_code, 0) << run.screen;
  const auto line = pass_line(run.screen, "contact: read ");
  ASSERT_GE(line.drawings.size(), 2u) << run.screen;
  bool mid_run_seen = false;
  for (const auto& drawing : line.drawings) {
    EXPECT_LT(drawing.size(), columns) << "reaches the last column, so it cannot be redrawn in place: " << drawing;
    EXPECT_EQ(drawing.rfind("contact: read ", 0), 0u) << drawing;
    for (const char* figure : {" queued ", "/400k", " delivered ", "/s", " errors 0"})
      EXPECT_NE(drawing.find(figure), std::string::npos) << figure << " missing in: " << drawing;
    if (drawing.find(" ETA ") != std::string::npos) mid_run_seen = true;
  }
  EXPECT_TRUE(mid_run_seen) << run.screen;
}

}  // namespace
